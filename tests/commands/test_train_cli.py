"""`lmmr1 train-fre` / `train-mgt` as a user runs them: real short runs, refusals, the dry-run plan of every
shipped recipe, and the SLURM/accelerate options (the recipe -> GRPOConfig mapping itself is tested in
tests/test_train.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from conftest import _prepare, run_lmmr1

from lmmr1_cli.config import list_recipes, load_train_config


@pytest.fixture(scope="module")
def rollout_rows(tmp_path_factory) -> Path:
    """600 prepared rows: a paper recipe's rollout (256 prompts) fits, so its dry run and script are not refused
    as `not one rollout fits` (checked on every path, as the run itself would)."""
    return _prepare(tmp_path_factory, "synthetic-arith", "train", 600)


@pytest.fixture(scope="module")
def fre_run(arith_train, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "fre"
    result = run_lmmr1(
        "train-fre",
        "--recipe",
        "tiny-fre",
        "--data",
        arith_train,
        "-o",
        out,
        "--json",
        "run.max_steps=3",
        "run.save_every_rollouts=2",
    )
    assert result.returncode == 0, result.stderr
    return out


def test_fre_run_writes_metrics_final_model_and_lineage(fre_run):
    summary = json.loads((fre_run / "summary.json").read_text())
    assert summary["steps"] == 3
    lines = [json.loads(x) for x in (fre_run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in lines] == [1, 2, 3]
    for key in (
        "reward",
        "rewards/format_reward/mean",
        "rewards/accuracy_reward/mean",
        "kl",
        "completions/mean_length",
    ):
        assert key in lines[0]
    assert 0.0 <= summary["format_end"] <= 1.0 and 0.0 <= summary["accuracy_end"] <= 1.0
    lineage = json.loads((fre_run / "run.json").read_text())
    assert lineage["recipe"] == "tiny-fre" and lineage["init_model"] == "tiny"
    assert lineage["versions"]["trl"] and lineage["data"]["manifest_hash"]
    assert (fre_run / "checkpoints" / "checkpoint-2" / "trainer_state.json").is_file()

    from lmmr1_cli.modeling import load_model

    model = load_model(str(fre_run))  # a run dir resolves to its final model
    assert model.config.model_type == "qwen2_5_vl"


def test_mgt_continues_from_the_fre_run_with_images(fre_run, geo_train, tmp_path):
    out = tmp_path / "mgt"
    result = run_lmmr1(
        "train-mgt",
        "--recipe",
        "tiny-mgt",
        "--init",
        fre_run,
        "--data",
        geo_train,
        "-o",
        out,
        "run.max_steps=1",
        "batch.samples_per_prompt=4",
        "batch.samples_per_step=16",
        "batch.micro_batch_size=16",
    )
    assert result.returncode == 0, result.stderr
    lineage = json.loads((out / "run.json").read_text())
    assert lineage["resolved_init"] == str(fre_run / "final")
    assert lineage["parent"]["recipe"] == "tiny-fre"  # the FRE run's own lineage travels with the MGT run
    assert (out / "final" / "model.safetensors").is_file()


def test_existing_run_dir_is_not_overwritten_without_force(fre_run, arith_train):
    before = (fre_run / "summary.json").read_text()
    result = run_lmmr1("train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", fre_run)
    assert result.returncode != 0
    assert "--force" in result.stderr and "Traceback" not in result.stderr
    assert (fre_run / "summary.json").read_text() == before


def test_dry_run_prints_resolved_config_and_accelerate_command(rollout_rows, tmp_path):
    result = run_lmmr1(
        "train-fre",
        "--data",
        rollout_rows,
        "-o",
        tmp_path / "run",
        "--dry-run",
        "--json",
        "--num-processes",
        "8",
        "--accelerate-config",
        "zero2",
        "optim.learning_rate=1e-6",
    )
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["config"]["optim"]["learning_rate"] == pytest.approx(1e-6)
    # fre-text: 256 completions per optimizer step = 2 per GPU x 16 accumulation x 8 GPUs
    assert resolved["grpo_config"]["gradient_accumulation_steps"] == 16
    command = resolved["launch_command"]
    assert command.startswith("accelerate launch --config_file ") and "zero2.yaml" in command
    assert "--num_processes 8" in command and "-m lmmr1_cli train-fre" in command
    assert "--dry-run" not in command and "--num-processes" not in command
    assert not (tmp_path / "run").exists()


def test_vllm_without_cuda_or_vllm_is_rejected_with_one_line_naming_the_setup(arith_train, tmp_path):
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "r", "--use-vllm"
    )
    assert result.returncode != 0
    assert "make setup-vllm" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def _dry_run(recipe: str, data: Path, out: Path, *extra: str):
    stage = load_train_config(recipe).stage
    init = ["--init", "tiny"] if stage == "mgt" else []
    return run_lmmr1(
        f"train-{stage}", *init, "--recipe", recipe, "--data", data, "-o", out, "--dry-run", *extra
    )


@pytest.mark.parametrize("recipe", list_recipes())
def test_human_readable_dry_run_works_for_every_shipped_recipe(recipe, rollout_rows, tmp_path):
    # The command docs/recipes.md tells users to run (it died on a YAML RepresenterError for SchedulerType).
    config = load_train_config(recipe)
    # Paper recipes as docs/recipes.md runs them (8 GPUs, ZeRO-2); the tiny CPU recipes' batch fits one process.
    processes = "1" if config.model.name_or_path == "tiny" else "8"
    result = _dry_run(
        recipe, rollout_rows, tmp_path / "run", "--num-processes", processes, "--accelerate-config", "zero2"
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    text = result.stdout
    assert "\ngrpo_config:\n" in text and "\nlaunch command:\n" in text
    # The human form is YAML a reader can also paste back: the lmmr1 config, then the whole GRPOConfig.
    resolved = yaml.safe_load(text[: text.index("\ngrpo_config:\n")])
    assert resolved["recipe"] == recipe and resolved["stage"] == config.stage
    grpo = yaml.safe_load(text[text.index("\ngrpo_config:\n") : text.index("\nlaunch command:\n")])[
        "grpo_config"
    ]
    assert grpo["lr_scheduler_type"] == config.optim.lr_scheduler  # an enum in GRPOConfig: the crash
    assert grpo["learning_rate"] == pytest.approx(config.optim.learning_rate)
    assert grpo["num_generations"] == config.batch.samples_per_prompt
    assert grpo["max_completion_length"] == config.rollout.max_completion_length
    assert "accelerate launch --config_file" in text and f"--num_processes {processes}" in text
    assert not (tmp_path / "run").exists()


def test_json_dry_run_holds_every_grpo_config_field(rollout_rows, tmp_path):
    from trl import GRPOConfig

    result = _dry_run("fre-text", rollout_rows, tmp_path / "run", "--json")
    assert result.returncode == 0, result.stderr
    grpo = json.loads(result.stdout)["grpo_config"]
    every_field = {f.name for f in dataclasses.fields(GRPOConfig) if f.init}
    assert set(grpo) == every_field  # the whole resolved GRPOConfig, not a chosen subset
    assert grpo["lr_scheduler_type"] == "cosine_with_min_lr"
    assert grpo["lr_scheduler_kwargs"] == {"min_lr_rate": 0.1}


def test_emit_sbatch_writes_an_executable_script_and_refuses_to_overwrite_it(rollout_rows, tmp_path):
    out = tmp_path / "runs" / "fre"
    args = ("train-fre", "--data", rollout_rows, "-o", out, "--emit-sbatch", "1", "8")
    first = run_lmmr1(*args)
    assert first.returncode == 0, first.stderr
    script = Path(f"{out}.sbatch")
    assert f"wrote {script}" in " ".join(first.stdout.split())
    assert script.stat().st_mode & 0o111  # submit-ready
    assert [p.name for p in script.parent.iterdir()] == ["fre.sbatch"]  # no temp file left beside it
    again = run_lmmr1(*args)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "--force" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert run_lmmr1(*args, "--force").returncode == 0


def test_the_tiny_model_is_refused_for_a_cluster_script(arith_train, tmp_path):
    result = run_lmmr1(
        "train-fre",
        "--recipe",
        "tiny-fre",
        "--data",
        arith_train,
        "-o",
        tmp_path / "r",
        "--emit-sbatch",
        "1",
        "1",
    )
    assert result.returncode == 2 and "tiny" in result.stderr and "Traceback" not in result.stderr
    assert not Path(f"{tmp_path / 'r'}.sbatch").exists()


def test_a_recipe_of_the_other_stage_is_refused(arith_train, tmp_path):
    result = run_lmmr1("train-fre", "--recipe", "tiny-mgt", "--data", arith_train, "-o", tmp_path / "r")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: recipe 'tiny-mgt' is a mgt recipe; use `lmmr1 train-mgt`"
