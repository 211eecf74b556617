"""`lmmr1 train-* --dry-run` shows the run plan in the official scripts' terms, as a user types the command."""

from __future__ import annotations

import json

import pytest
from conftest import _prepare, run_lmmr1


@pytest.fixture(scope="module")
def arith_600(tmp_path_factory):
    """600 prepared rows: two full FRE-Text rollouts of 256 prompts (the last 88 rows are dropped, as officially)."""
    return _prepare(tmp_path_factory, "synthetic-arith", "train", 600)


def _fre_text_dry_run(data, out, *extra):
    return run_lmmr1(
        "train-fre", "--recipe", "fre-text", "--data", data, "-o", out,
        "--num-processes", "8", "--accelerate-config", "zero3", "--dry-run", *extra,
    )  # fmt: skip


def test_fre_text_on_8_processes_plans_16_optimizer_steps_per_rollout_and_2_episodes(arith_600, tmp_path):
    result = _fre_text_dry_run(arith_600, tmp_path / "run", "--json")
    assert result.returncode == 0, result.stderr
    dry = json.loads(result.stdout)
    plan, grpo = dry["plan"], dry["grpo_config"]
    assert plan["completions_per_rollout"] == 4096 and plan["optimizer_steps_per_rollout"] == 16
    assert grpo["num_train_epochs"] == 2 and dry["config"]["batch"]["episodes"] == 2
    assert (grpo["per_device_train_batch_size"], grpo["gradient_accumulation_steps"]) == (2, 16)
    assert (grpo["generation_batch_size"], grpo["steps_per_generation"]) == (4096, 256)
    assert plan["training_rows"] == 600 and plan["rollouts_per_episode"] == 2
    assert plan["rollouts"] == 4 and plan["optimizer_steps"] == 64
    assert plan["warmup_steps"] == 2  # ceil(0.03 x 64)
    assert plan["checkpoint_every_steps"] == 320 and plan["checkpoint_steps"] == []
    assert grpo["save_steps"] == 320
    assert not (tmp_path / "run").exists()


def test_human_dry_run_says_what_one_rollout_is_and_how_long_the_run_is(arith_600, tmp_path):
    result = _fre_text_dry_run(arith_600, tmp_path / "run")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    plan = text[text.index("run plan (8 processes):") : text.index("launch command:")]
    assert "256 prompts x 16 samples = 4096 completions -> 16 optimizer steps of 256 completions" in plan
    assert "(2 per process x 16 accumulation x 8)" in plan
    assert "600 rows = 2 rollouts per episode; 2 episodes" in plan
    assert "4 rollouts, 64 optimizer steps, 2 of them warm-up" in plan
    assert "every 20 rollouts = 320 steps: none, then final/" in plan


def test_too_few_rows_for_one_rollout_is_refused_by_the_dry_run_as_by_the_run(arith_train, tmp_path):
    result = _fre_text_dry_run(arith_train, tmp_path / "run")
    assert result.returncode == 2
    assert result.stderr == (
        "error: the training data has 48 rows, fewer than batch.prompts_per_rollout = 256: not one rollout fits "
        "(lower batch.prompts_per_rollout)\n"
    )


def test_a_process_count_that_does_not_divide_is_one_error_line(arith_600, tmp_path):
    result = run_lmmr1(
        "train-fre", "--recipe", "fre-text", "--data", arith_600, "-o", tmp_path / "run",
        "--num-processes", "3", "--dry-run",
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "3 processes" in lines[0] and "process counts that divide: 1, 2, 4, 8, 16, 32, 64, 128" in lines[0]


def test_the_table_a7_overrides_from_the_docs_resolve(arith_600, tmp_path):
    # docs/recipes.md: FRE-Text as the paper's Table A7 describes it.
    result = run_lmmr1(
        "train-fre", "--recipe", "fre-text", "--data", arith_600, "-o", tmp_path / "run-a7", "--dry-run", "--json",
        "optim.learning_rate=1e-6", "batch.prompts_per_rollout=128", "batch.samples_per_step=128",
        "rollout.max_completion_length=8192", "batch.episodes=1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    dry = json.loads(result.stdout)
    assert dry["grpo_config"]["learning_rate"] == pytest.approx(1e-6)
    assert dry["plan"]["optimizer_steps_per_rollout"] == 16 and dry["plan"]["rollouts"] == 4


def test_an_old_key_on_the_command_line_names_the_new_one(arith_600, tmp_path):
    result = run_lmmr1(
        "train-fre", "--recipe", "fre-text", "--data", arith_600, "-o", tmp_path / "run", "--dry-run",
        "rollout.num_generations=8",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: override 'rollout.num_generations=8': unknown key 'rollout.num_generations'; "
        "did you mean 'batch.samples_per_prompt'?"
    )
