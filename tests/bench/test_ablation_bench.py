"""bench/ablation.py (`make ablation`) at toy sizes: every arm trains through the CLI and lands in the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ablation.py"


def test_ablation_runs_every_arm_and_writes_pooled_accuracies_with_cis(tiny_dir, tmp_path) -> None:
    out_dir = tmp_path / "ablation_out"
    sizes = ["--seeds", "0", "--fre-steps", "2", "--mgt-steps", "1", "--train-rows", "8", "--test-rows", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(BENCH), "-o", str(out_dir), *sizes, "--json"],
        capture_output=True, text=True, timeout=900, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary == json.loads((out_dir / "ablation.json").read_text())
    assert list(summary["arms"]) == ["base (tiny)", "FRE (text)", "FRE -> MGT", "Direct-RL (image)"]
    # Direct-RL gets the same total number of steps as FRE -> MGT.
    assert [arm["steps"] for arm in summary["arms"].values()] == [0, 2, 3, 3]
    for arm in summary["arms"].values():
        for task in ("text", "image"):
            result = arm[task]
            assert result["answers"] == 8 and len(result["per_seed"]) == 1
            low, high = result["ci95"]
            assert 0 <= low <= result["accuracy"] <= high <= 1
    # Each run trained the steps its arm claims (the runs' own summaries, not the bench's bookkeeping).
    for run, steps in (("fre-s0", 2), ("mgt-s0", 1), ("direct-s0", 3)):
        assert json.loads((out_dir / "runs" / run / "summary.json").read_text())["steps"] == steps
    table = (out_dir / "ablation.md").read_text()
    assert table.count("\n") == 6 and "| Direct-RL (image) | 3 |" in table
