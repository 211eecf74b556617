"""Values more than one module needs: each lives here once, and CLI help, dataclasses and docs read it from here.

Only leaf constants (no imports of lmmr1 modules), so any module can import this without a cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

# Verifier wall-clock limit per check, seconds. math-verify's own default is 5 s and a power tower always costs
# all of it; a timeout scores 0 (wrong, counted).
VERIFY_TIMEOUT_SECONDS = 3.0

# `lmmr1 eval` generation budget and hf-backend batch (prompts per generate call) under the lmmr1 protocol.
EVAL_MAX_NEW_TOKENS = 512
EVAL_BATCH_SIZE = 16

# `lmmr1 prepare-data` drops rows whose prompt (image tokens included) is longer than this many tokens.
PREPARE_MAX_PROMPT_TOKENS = 2048

# Weight dtypes `eval --dtype`, `export --dtype` and `model.dtype` accept.
MODEL_DTYPES = ("float32", "bfloat16", "float16")

# answer_type selects the accuracy rule (data schema field and verifier dispatch key).
ANSWER_TYPES = ("math", "choice", "geometry", "sokoban")

# TRL logs each reward function's mean as rewards/<function name>/mean.
FORMAT_METRIC = "rewards/format_reward/mean"
ACCURACY_METRIC = "rewards/accuracy_reward/mean"
REWARD_METRIC = "reward"


def cache_root() -> Path:
    """Where lmmr1 keeps built tiny models and prepared benchmarks (LMMR1_CACHE overrides, for tests and CI)."""
    return Path(os.environ.get("LMMR1_CACHE") or Path.home() / ".cache" / "lmmr1")
