"""RL teaches the tiny model something: FRE (text) then MGT (pictures) raise held-out greedy accuracy beyond noise,
on two training seeds.

Run as a user would, the `make demo` chain at its sizes, once per seed: `lmmr1 prepare-data` (train and a disjoint
test split of both tasks), `lmmr1 train-fre --recipe tiny-fre`, `lmmr1 mix-data` (the pictures plus 64 text rows),
`lmmr1 train-mgt --recipe tiny-mgt --init FRE` on that mix, then one `lmmr1 eval` of the base, FRE and MGT models.
The margin is statistical, not a number of points: each trained model's 95% CI must lie wholly above the base's, on
128 held-out problems per task (docs/ablation.md, "The learning test", has the per-seed numbers under both CPU
kernel settings this must hold on: native AVX-512 and `ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2
MKL_ENABLE_INSTRUCTIONS=AVX2`). The base is the shipped tiny model,
the same bytes on every machine. With the accuracy reward broken (always 0) FRE ended below the base and the test
failed.
"""

from __future__ import annotations

import json

import pytest
from conftest import run_lmmr1

TEXT, PICTURE = "synthetic-largest", "synthetic-largest-picture"
FRE_STEPS, MGT_STEPS = 120, 160
TRAIN_ROWS, TEST_ROWS = 256, 128
# Seeds 0 and 2: under both kernel settings their smallest margin over the base's CI is 16.9 points (FRE's text);
# natively seeds 3 and 4 clear the pictures by 3.9 points only (docs/ablation.md has every run).
SEEDS = (0, 2)
# The demo's MGT overrides and data (Makefile MGT_OVERRIDES, MGT_TEXT_ROWS): 4 prompts x 16 samples a step at lr
# 5e-4 instead of tiny-mgt's 4 x 8 at 1e-3, dynamic sampling without a KL term, on 192 pictures plus 64 of FRE's text
# rows mixed in by `lmmr1 mix-data`.
MGT_OVERRIDES = (
    "batch.samples_per_prompt=16",
    "batch.samples_per_step=64",
    "batch.micro_batch_size=64",
    "optim.learning_rate=5e-4",
    "rollout.dynamic_sampling=true",
    "algorithm.kl_coef=0",
)
MGT_TEXT_ROWS = 64
# Hang guard only: a stage takes 1-2 min on a quiet 2-core machine; a loaded one has run steps 8x slower.
STAGE_TIMEOUT = 1800


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("learning-data")
    data = {}
    for task in (TEXT, PICTURE):
        for split, limit in (("train", TRAIN_ROWS), ("test", TEST_ROWS)):
            out = root / f"{task}-{split}"
            result = run_lmmr1("prepare-data", task, "--split", split, "--limit", limit, "-o", out)
            assert result.returncode == 0, result.stderr
            data[task, split] = out
    pictures, text = (
        f"{data[PICTURE, 'train']}:{TRAIN_ROWS - MGT_TEXT_ROWS}",
        f"{data[TEXT, 'train']}:{MGT_TEXT_ROWS}",
    )
    result = run_lmmr1("mix-data", pictures, text, "-o", root / "mgt-train")
    assert result.returncode == 0, result.stderr
    data["mgt", "train"] = root / "mgt-train"
    return data


def _assert_learned(results: dict, model: str, benchmark: str) -> None:
    base, trained = results["tiny"][benchmark], results[model][benchmark]
    detail = {
        model: benchmark,
        "base": (base["accuracy"], base["ci95"]),
        "trained": (trained["accuracy"], trained["ci95"]),
    }
    assert trained["ci95"][0] > base["ci95"][1], detail  # the two 95% CIs do not overlap


@pytest.mark.parametrize("seed", SEEDS)
def test_fre_then_mgt_raise_held_out_accuracy_beyond_the_base_ci(seed, tasks, tmp_path):
    fre, mgt = tmp_path / "fre", tmp_path / "mgt"
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", tasks[TEXT, "train"], "-o", fre,
        f"run.max_steps={FRE_STEPS}", f"run.seed={seed}", timeout=STAGE_TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", fre, "--data", tasks["mgt", "train"], "-o", mgt,
        f"run.max_steps={MGT_STEPS}", f"run.seed={seed}", *MGT_OVERRIDES, timeout=STAGE_TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((mgt / "run.json").read_text())["config"]["run"]["seed"] == seed
    test_text, test_picture = tasks[TEXT, "test"], tasks[PICTURE, "test"]
    result = run_lmmr1(
        "eval", "--model", "tiny", "--model", fre, "--model", mgt, "--benchmark", test_text,
        "--benchmark", test_picture, "--max-new-tokens", "32", "-o", tmp_path / "results", timeout=STAGE_TIMEOUT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert all(name in result.stdout for name in ("tiny", "fre", "mgt"))  # the human table names every model
    results = json.loads((tmp_path / "results" / "summary.json").read_text())["results"]
    _assert_learned(results, "fre", test_text.name)  # FRE learns the text task
    _assert_learned(results, "mgt", test_picture.name)  # MGT learns the picture task
    _assert_learned(results, "mgt", test_text.name)  # and keeps what FRE taught


def test_these_are_the_sizes_make_demo_runs():
    """The test above stands for `make demo`: the Makefile's sizes must be the ones it trains with."""
    from pathlib import Path

    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    sizes = dict(line.split(" ?= ", 1) for line in makefile.splitlines() if " ?= " in line)
    assert (sizes["TEXT_TASK"], sizes["IMAGE_TASK"]) == (TEXT, PICTURE)
    assert (int(sizes["FRE_STEPS"]), int(sizes["MGT_STEPS"])) == (FRE_STEPS, MGT_STEPS)
    assert (int(sizes["TRAIN_ROWS"]), int(sizes["TEST_ROWS"])) == (TRAIN_ROWS, TEST_ROWS)
    assert (sizes["MGT_OVERRIDES"].split(), int(sizes["MGT_TEXT_ROWS"])) == (
        list(MGT_OVERRIDES),
        MGT_TEXT_ROWS,
    )
