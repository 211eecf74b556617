"""bench/train_bench.py --quick: lmmr1 train-fre and the bare TRL script both train, and the ratio is printed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "train_bench.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=900)


def test_train_bench_quick_times_both_sides_and_prints_their_ratio(tiny_dir) -> None:
    out = _run("--quick", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1  # --json: one line, as scripts read it
    result = json.loads(lines[0])
    for side in ("lmmr1", "trl"):
        assert result[side]["steps_timed"] >= 3 and result[side]["median_step_seconds"] > 0
    assert 0 <= result["lmmr1"]["verifier_share"] < 1  # lmmr1 logs its verifier time; a share, not a duration
    ratio = result["lmmr1"]["median_step_seconds"] / result["trl"]["median_step_seconds"]
    assert abs(result["ratio"] - ratio) < 1e-3
