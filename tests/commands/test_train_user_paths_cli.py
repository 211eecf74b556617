"""`lmmr1 train-fre` / `train-mgt` on the paths a new user walks (issue 12): resuming a finished or changed run,
replacing a run with --force, seeding a full MGT run from a LoRA FRE run, data changed after prepare-data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_lmmr1

from lmmr1_cli.config import load_train_config

SHORT = ["run.max_steps=2", "run.save_every_rollouts=1", "rollout.max_completion_length=12"]


def _tree(run: Path) -> dict[str, tuple[int, int]]:
    """Every file of a run with its size and mtime: equal trees mean nothing was rewritten."""
    return {
        str(p.relative_to(run)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in run.rglob("*")
        if p.is_file()
    }


TINY_FRE_LR = load_train_config("tiny-fre").optim.learning_rate


@pytest.fixture(scope="module")
def finished_run(arith_train, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fre"
    result = run_lmmr1("train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, *SHORT)
    assert result.returncode == 0, result.stderr
    return out, result.stdout


@pytest.fixture
def finished(finished_run) -> Path:
    return finished_run[0]


def _light(light_env: dict, *args):
    """Run with torch, transformers and trl unimportable (conftest's `light_env`): a refusal that still comes was
    made before they load (~0.5 s instead of ~5 s), checked without a stopwatch."""
    return run_lmmr1(*args, env=light_env, timeout=120)


def test_the_summary_states_what_start_and_end_mean_and_prints_seconds_per_step_once(finished_run):
    run, stdout = finished_run
    summary = json.loads((run / "summary.json").read_text())
    assert summary["start_end"] == "first / last logged step"  # 2 steps: never the same step twice
    assert "start → end: first / last logged step" in stdout
    assert f"{summary['seconds_per_step']:.2f}" in stdout and str(summary["seconds_per_step"]) not in stdout


def test_resume_of_a_finished_run_exits_0_saying_so_and_changes_nothing(finished, arith_train, light_env):
    before = _tree(finished)
    result = _light(
        light_env, "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", finished, "--resume",
        *SHORT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"{finished}: run already complete (2 steps); nothing to do" in " ".join(result.stdout.split())
    assert _tree(finished) == before  # no step 3, no new checkpoint, final/ untouched


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            ["optim.learning_rate=0.5"],
            f"optim.learning_rate is 0.5 but the run was trained with {TINY_FRE_LR!r}",
        ),
        (["--data", "GEO"], "data is"),
        (["--recipe", "tiny-mgt", "--init", "tiny"], "recipe is 'tiny-mgt'"),
    ],
)
def test_resume_with_another_config_data_or_recipe_is_refused_in_one_line(
    change, named, finished, arith_train, geo_train, light_env
):
    before = _tree(finished)
    data = geo_train if "GEO" in change else arith_train
    change = [c for c in change if c not in ("--data", "GEO")]
    command = "train-mgt" if "tiny-mgt" in change else "train-fre"
    recipe = [] if "tiny-mgt" in change else ["--recipe", "tiny-fre"]
    result = _light(light_env, command, *recipe, "--data", data, "-o", finished, "--resume", *SHORT, *change)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: --resume: ") and result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr
    assert _tree(finished) == before


def test_an_allowed_change_continues_the_run_and_run_json_keeps_both_segments(
    finished, arith_train, tmp_path
):
    run = tmp_path / "fre"
    shutil.copytree(finished, run)
    longer = [a for a in SHORT if not a.startswith("run.max_steps")] + ["run.max_steps=3"]
    args = ("train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", run, "--resume", *longer)
    refused = run_lmmr1(*args)
    assert refused.returncode == 2 and "pass --allow-config-change" in refused.stderr
    result = run_lmmr1(*args, "--allow-config-change")
    assert result.returncode == 0, result.stderr
    assert json.loads((run / "summary.json").read_text())["steps"] == 3
    lineage = json.loads((run / "run.json").read_text())
    assert lineage["config"]["run"]["max_steps"] == 2  # what the first two steps were trained with
    first, second = lineage["segments"]
    assert (first["start_step"], second["start_step"]) == (0, 2)
    assert second["changed"] == {"run.max_steps": [2, 3]} and second["config"]["run"]["max_steps"] == 3


def test_an_indivisible_process_layout_is_refused_once_before_launching(arith_train, tmp_path, light_env):
    out = tmp_path / "ddp"
    result = _light(
        light_env, "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, "--num-processes", "3",
        *SHORT,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: 3 processes cannot share") and result.stderr.count("\n") == 1
    assert "process counts that divide: 1" in result.stderr
    assert not out.exists()  # no accelerate launch, no per-rank repeat, no elastic traceback


def test_lora_fre_run_seeds_a_full_parameter_mgt_run(arith_train, geo_train, tmp_path):
    lora = tmp_path / "lora"
    first = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", lora, *SHORT,
        "model.lora_r=4", "model.lora_alpha=8",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert (lora / "final" / "adapter_config.json").is_file()
    mgt = tmp_path / "mgt"
    second = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", lora, "--data", geo_train, "-o", mgt, *SHORT
    )
    assert second.returncode == 0, second.stderr
    assert (mgt / "final" / "model.safetensors").is_file()  # a full model: the adapter was merged on load
    assert not (mgt / "final" / "adapter_config.json").exists()
    lineage = json.loads((mgt / "run.json").read_text())
    assert (
        lineage["resolved_init"] == str(lora / "final")
        and lineage["parent"]["config"]["model"]["lora_r"] == 4
    )


def test_force_keeps_the_old_run_when_the_new_model_fails_to_load(finished, arith_train, tiny_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a truncated download
    before = _tree(run)
    result = run_lmmr1(
        "train-fre",
        "--recipe",
        "tiny-fre",
        "--model",
        broken,
        "--data",
        arith_train,
        "-o",
        run,
        "--force",
        *SHORT,
    )
    assert result.returncode == 2 and "broken-model" in result.stderr and "Traceback" not in result.stderr
    assert _tree(run) == before


def test_an_image_deleted_after_prepare_data_fails_at_start_in_one_line(geo_train, tmp_path):
    data = tmp_path / "geo"
    shutil.copytree(geo_train, data)
    row = json.loads((data / "rows.jsonl").read_text().splitlines()[0])
    (data / row["images"][0]).unlink()
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", data, "-o", tmp_path / "mgt", *SHORT
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert row["images"][0] in result.stderr and "row 1" in result.stderr
    assert not (tmp_path / "mgt").exists()


def test_data_stored_below_the_recipe_pixel_bounds_is_refused_before_training(tmp_path, light_env):
    data = tmp_path / "geo-small"
    prepared = run_lmmr1("prepare-data", "synthetic-geo", "--limit", "4", "--max-pixels", "6272", "-o", data)
    assert prepared.returncode == 0, prepared.stderr
    result = _light(
        light_env,
        "train-mgt",
        "--recipe",
        "tiny-mgt",
        "--init",
        "tiny",
        "--data",
        data,
        "-o",
        tmp_path / "mgt",
        *SHORT,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "stored at max_pixels 6272" in result.stderr and "--max-pixels 12544" in result.stderr
    assert not (tmp_path / "mgt").exists()


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_run_dir_to_force(arith_train, tmp_path):
    rewards = tmp_path / "my_reward.py"
    rewards.write_text("def broken(completions, **kwargs):\n    raise ValueError('my reward has a bug')\n")
    out = tmp_path / "run"
    args = ("train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, *SHORT)
    failed = run_lmmr1(*args, f"rewards.custom=[{rewards}:broken]")
    assert failed.returncode != 0 and "my reward has a bug" in failed.stderr
    assert not out.exists()  # the rerun needs no --force
