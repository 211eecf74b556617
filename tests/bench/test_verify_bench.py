"""bench/verify_bench.py --quick runs, prints its numbers, and finds no unexplained difference from math-verify
(strict mode) nor from the official rules called one by one (paper mode)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "verify_bench.py"


def test_verify_bench_quick_runs_and_agrees_with_math_verify() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["items"] == result["golds"] * result["group"]
    assert result["lmmr1"]["items_per_second"] > 0 and result["math_verify"]["items_per_second"] > 0
    assert result["unexplained_differences"] == 0, result["differences"]
    # paper mode in the pool gives the verdicts the official rules give when called one by one
    assert result["paper"]["items_per_second"] > 0 and result["paper"]["disagreements_with_naive"] == 0
    # explosive answers are decided before sympy: no check of the batch pays the limit
    assert result["lmmr1"]["timeouts"] == 0 and result["paper"]["timeouts"] == 0
    assert result["paper"]["explosive"] >= 1
    # the repeat rate of (gold, answer) pairs, and one row per pool size
    assert 0 < result["lmmr1"]["repeat_rate"] < 1 and 0 < result["paper"]["batch"]["repeat_rate"] < 1
    assert [row["workers"] for row in result["per_worker_count"]] == [1, 2]
    assert all(row["paper_items_per_second"] > 0 for row in result["per_worker_count"])
