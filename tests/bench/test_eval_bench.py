"""bench/eval_bench.py --quick times the hf backend on the tiny model, batched and one at a time, same tokens."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "eval_bench.py"


def test_eval_bench_quick_gives_the_same_tokens_batched_and_one_at_a_time(tiny_dir) -> None:
    out = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["prompts"] == 16 and result["generated_tokens"] > 0
    assert result["same_tokens"] is True
    assert result["batched_s"] > 0 and result["one_at_a_time_s"] > 0
