"""train.py: the recipe -> GRPOConfig mapping, the TRL dataset, and real short runs of the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_lmmr1

from lmmr1_cli.config import load_train_config
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.train import build_grpo_config, build_train_dataset, per_device_layout


def test_paper_global_batch_becomes_per_device_batch_and_accumulation(tmp_path):
    config = load_train_config("fre-text")
    # 256 prompts x 16 completions = 4096 per optimizer step; 8 GPUs x 16 per forward -> 32 accumulation steps.
    assert per_device_layout(config, 8) == (16, 32)
    grpo = build_grpo_config(config, tmp_path, num_processes=8, use_cpu=False)
    assert grpo.per_device_train_batch_size * 8 * grpo.gradient_accumulation_steps == 256 * 16
    assert grpo.generation_batch_size == 256 * 16 // 8  # per process, one generation round per optimizer step
    assert grpo.num_generations == 16
    assert grpo.learning_rate == pytest.approx(4e-7)
    assert (grpo.adam_beta1, grpo.adam_beta2) == (0.9, 0.95)
    assert grpo.beta == pytest.approx(0.001) and grpo.epsilon == pytest.approx(0.2)
    assert grpo.scale_rewards == "batch"
    assert grpo.reward_weights == [0.5, 1.0]
    assert grpo.lr_scheduler_type == "cosine_with_min_lr"
    assert grpo.lr_scheduler_kwargs == {"min_lr_rate": 0.1}
    assert grpo.max_grad_norm == 1.0 and grpo.temperature == 1.0
    assert grpo.max_completion_length == 4096
    assert grpo.save_steps == 20
    assert grpo.bf16 is True


def test_indivisible_global_batch_is_a_config_error():
    config = load_train_config("fre-text", overrides=["rollout.micro_batch_size=48"])
    with pytest.raises(ConfigError, match="not divisible"):
        per_device_layout(config, 8)


def test_vllm_modes_map_onto_grpo_config(tmp_path):
    colocate = load_train_config(
        "fre-text", overrides=["rollout.use_vllm=true", "rollout.vllm_gpu_memory_utilization=0.3"]
    )
    grpo = build_grpo_config(colocate, tmp_path, num_processes=8, use_cpu=False)
    assert grpo.use_vllm and grpo.vllm_mode == "colocate"
    assert grpo.vllm_gpu_memory_utilization == pytest.approx(0.3) and grpo.vllm_enable_sleep_mode
    server = load_train_config(
        "fre-text",
        overrides=["rollout.use_vllm=true", "rollout.vllm_mode=server", "rollout.vllm_server_host=10.0.0.5"],
    )
    grpo = build_grpo_config(server, tmp_path, num_processes=8, use_cpu=False)
    assert (
        grpo.vllm_mode == "server" and grpo.vllm_server_host == "10.0.0.5" and grpo.vllm_server_port == 8000
    )


def test_dataset_rows_are_conversational_with_image_placeholders(geo_train):
    dataset = build_train_dataset(geo_train, system_prompt="SYS")
    row = dataset[0]
    assert isinstance(row["prompt"], list) and row["prompt"][0]["role"] == "system"
    user = row["prompt"][-1]
    kinds = [part["type"] for part in user["content"]]
    assert kinds.count("image") == len(row["images"]) >= 1
    assert row["images"][0].size[0] > 0  # decoded PIL image from the dataset dir
    assert {"answer", "answer_type", "choices"} <= set(row)


def test_text_only_dataset_has_no_image_column(arith_train):
    dataset = build_train_dataset(arith_train, system_prompt="SYS")
    assert "images" not in dataset.column_names
    assert all(part["type"] == "text" for part in dataset[0]["prompt"][-1]["content"])


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
        "run.save_steps=2",
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
        "rollout.num_generations=4",
        "rollout.micro_batch_size=16",
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


def test_dry_run_prints_resolved_config_and_accelerate_command(arith_train, tmp_path):
    result = run_lmmr1(
        "train-fre",
        "--data",
        arith_train,
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
    assert resolved["grpo_config"]["gradient_accumulation_steps"] == 32
    command = resolved["launch_command"]
    assert command.startswith("accelerate launch --config_file ") and "zero2.yaml" in command
    assert "--num_processes 8" in command and "-m lmmr1_cli train-fre" in command
    assert "--dry-run" not in command and "--num-processes" not in command
    assert not (tmp_path / "run").exists()


def test_vllm_without_cuda_is_rejected_with_one_line(arith_train, tmp_path):
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "r", "--use-vllm"
    )
    assert result.returncode != 0
    assert "CUDA" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
