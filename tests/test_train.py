"""train.py: the recipe -> GRPOConfig mapping and the TRL dataset (real runs of the CLI:
tests/commands/test_train_cli.py)."""

from __future__ import annotations

import pytest

from lmmr1_cli.config import load_train_config
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.train import build_grpo_config, build_train_dataset


def test_paper_batch_becomes_per_device_batch_accumulation_and_generation_batch(tmp_path):
    config = load_train_config("fre-text")
    # 256 prompts x 16 completions = 4,096 per rollout; 256 completions per optimizer step = 2 per GPU x 16
    # accumulation x 8 GPUs; the rollout feeds 16 optimizer steps = 256 micro-steps.
    grpo = build_grpo_config(config, tmp_path, num_processes=8, use_cpu=False)
    assert grpo.per_device_train_batch_size == 2 and grpo.gradient_accumulation_steps == 16
    assert grpo.generation_batch_size == 4096 and grpo.steps_per_generation == 256
    assert grpo.num_generations == 16 and grpo.num_iterations == 1 and grpo.num_train_epochs == 2
    assert grpo.loss_type == "bnpo"
    assert grpo.learning_rate == pytest.approx(4e-7)
    assert (grpo.adam_beta1, grpo.adam_beta2) == (0.9, 0.95)
    assert grpo.beta == pytest.approx(0.001) and grpo.epsilon == pytest.approx(0.2)
    assert grpo.scale_rewards == "batch"
    assert grpo.reward_weights == [0.5, 1.0]
    assert grpo.lr_scheduler_type == "cosine_with_min_lr"
    assert grpo.lr_scheduler_kwargs == {"min_lr_rate": 0.1}
    assert grpo.max_grad_norm == 1.0 and grpo.temperature == 1.0
    assert grpo.max_completion_length == 4096
    assert grpo.save_steps == 20 * 16  # --save_steps 20 counts rollouts of 16 optimizer steps
    assert grpo.bf16 is True


def test_indivisible_batch_is_a_config_error(tmp_path):
    with pytest.raises(
        ConfigError, match=r"batch.micro_batch_size \(48\) must divide batch.samples_per_step"
    ):
        load_train_config("fre-text", overrides=["batch.micro_batch_size=48"])
    config = load_train_config("fre-text", overrides=["batch.micro_batch_size=32"])
    with pytest.raises(ConfigError, match="process counts that divide: 1, 2, 4, 8"):
        build_grpo_config(config, tmp_path, num_processes=3, use_cpu=False)


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
