"""bench/ablation.py (`make ablation`) at toy sizes: every arm trains through the CLI under the AVX2 kernel setting
and lands in the per-seed and pooled tables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ablation.py"


def test_every_arm_trains_under_avx2_kernels_and_lands_with_verdicts_and_pooled_cis(
    tiny_dir, tmp_path
) -> None:
    # One kernel setting, the one that sets an environment (native runs the same code without it): half the time.
    out_dir = tmp_path / "ablation_out"
    sizes = ["--seeds", "0", "--fre-steps", "2", "--mgt-steps", "1", "--train-rows", "8", "--test-rows", "8"]
    sizes += ["--mgt-text-rows", "2"]  # MGT and Direct-RL train on 6 pictures + 2 text rows (lmmr1 mix-data)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(BENCH), "-o", str(out_dir), *sizes, "--kernels", "avx2", "--direct-rl", "--json",
         "--mgt-overrides", "batch.prompts_per_rollout=8", "batch.samples_per_step=64", "batch.micro_batch_size=64"],
        capture_output=True, text=True, timeout=1800, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary == json.loads((out_dir / "ablation.json").read_text())
    arms = ["base (tiny)", "FRE (text)", "FRE -> MGT", "Direct-RL (image)"]
    assert list(summary["arms"]) == [f"avx2: {arm}" for arm in arms]
    # Direct-RL gets the same total number of steps as FRE -> MGT.
    assert [arm["steps"] for arm in summary["arms"].values()] == [0, 2, 3, 3]
    for arm in summary["arms"].values():
        for task in ("text", "image"):
            result = arm[task]
            assert result["answers"] == 8 and len(result["per_seed"]) == 1
            low, high = result["ci95"]
            assert 0 <= low <= result["accuracy"] <= high <= 1
    verdicts = {"learned", "no significant change", "worse"}
    assert [(row["kernel"], row["seed"]) for row in summary["per_seed"]] == [("avx2", 0)]
    assert all(
        len(row["checks"]) == 3 and {v for _, v in row["checks"]} <= verdicts for row in summary["per_seed"]
    )
    # Each run trained the steps its arm claims (the runs' own summaries, not the bench's bookkeeping).
    for run, steps, prompts in (("fre-s0", 2, 4), ("mgt-s0", 1, 8), ("direct-s0", 3, 8)):
        assert json.loads((out_dir / "avx2" / run / "summary.json").read_text())["steps"] == steps
        # --mgt-overrides reach the picture runs only
        config = json.loads((out_dir / "avx2" / run / "run.json").read_text())["config"]
        assert config["batch"]["prompts_per_rollout"] == prompts
    mix = json.loads((out_dir / "data" / "mgt-train" / "manifest.json").read_text())
    assert [(part["recipe"], part["rows"]) for part in mix["sources"]] == [
        ("synthetic-largest-picture", 6),
        ("synthetic-largest", 2),
    ]
    for run in ("mgt-s0", "direct-s0"):
        assert (
            json.loads((out_dir / "avx2" / run / "run.json").read_text())["data"]["manifest_hash"]
            == (mix["content_hash"])
        )
    table = (out_dir / "ablation.md").read_text()
    assert "| avx2 | 0 |" in table and "| avx2: Direct-RL (image) | 3 |" in table
