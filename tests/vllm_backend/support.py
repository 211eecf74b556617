"""Shared by the tests in this folder, which run in .venv-vllm (`make test-vllm`): lmmr1 on vLLM's CPU build."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from conftest import run_lmmr1

# Fails the run at once where vLLM is missing: these tests are never skipped.
assert importlib.util.find_spec("vllm"), "tests/vllm_backend need vLLM: run them with `make test-vllm`"


def prepare(root: Path, recipe: str, split: str, limit: int) -> Path:
    out = root / f"{recipe}-{split}-{limit}"
    if not out.exists():
        result = run_lmmr1("prepare-data", recipe, "--split", split, "--limit", limit, "-o", out)
        assert result.returncode == 0, result.stderr
    return out


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
