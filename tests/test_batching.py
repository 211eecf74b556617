"""batching.py: the official scripts' batch flags become TRL's layout, and a run's plan is counted as TRL counts it."""

from __future__ import annotations

import pytest

from lmmr1_cli.batching import BatchShape, plan_run, trl_layout
from lmmr1_cli.errors import ConfigError

# train_fre_text.sh: --rollout_batch_size 256 --n_samples_per_prompt 16 --train_batch_size 256
# --micro_train_batch_size 2 --max_epochs 1 --num_episodes 2, on 8 GPUs.
FRE_TEXT = BatchShape(256, 16, 256, 2, passes_per_rollout=1, episodes=2)


def test_fre_text_on_8_processes_is_16_optimizer_steps_per_rollout():
    layout = trl_layout(FRE_TEXT, 8)
    assert layout.optimizer_steps_per_rollout == 16  # 4,096 completions / 256 per step
    assert layout.per_device_train_batch_size == 2
    assert layout.gradient_accumulation_steps == 16  # 256 / (2 x 8)
    assert layout.steps_per_generation == 256  # 16 optimizer steps x 16 micro-steps
    assert layout.generation_batch_size == 4096
    # TRL derives the generation batch from these three; it must come back to one rollout.
    assert layout.per_device_train_batch_size * 8 * layout.steps_per_generation == 4096
    assert (layout.num_generations, layout.num_iterations, layout.num_train_epochs) == (16, 1, 2)


def test_the_layout_adapts_to_any_process_count_that_divides():
    for processes in (1, 2, 4, 8, 16, 32, 64, 128):
        layout = trl_layout(FRE_TEXT, processes)
        assert layout.optimizer_steps_per_rollout == 16
        assert layout.per_device_train_batch_size * processes * layout.gradient_accumulation_steps == 256


def test_a_process_count_that_does_not_divide_names_the_ones_that_would():
    with pytest.raises(ConfigError) as info:
        trl_layout(FRE_TEXT, 3)
    message = str(info.value)
    assert "\n" not in message
    assert "3 processes" in message and "process counts that divide: 1, 2, 4, 8, 16, 32, 64, 128" in message


def test_samples_per_step_must_divide_a_rollout():
    with pytest.raises(ConfigError, match=r"batch.samples_per_step \(3000\) must divide .* = 4096"):
        trl_layout(BatchShape(256, 16, 3000, 2), 1)
    with pytest.raises(ConfigError, match=r"batch.micro_batch_size \(3\) must divide batch.samples_per_step"):
        trl_layout(BatchShape(256, 16, 256, 3), 1)
    with pytest.raises(ConfigError, match="batch.samples_per_prompt must be >= 2"):
        trl_layout(BatchShape(256, 1, 256, 2), 1)


def test_fre_text_plan_over_deepscaler_rows():
    # 40,315 rows: 157 full rollouts of 256 prompts per episode (the last 123 prompts are dropped, as OpenRLHF's
    # drop_last loader does), 2 episodes, 16 optimizer steps each.
    plan = plan_run(FRE_TEXT, 8, 40315, warmup_ratio=0.03, save_every_rollouts=20)
    assert plan.completions_per_rollout == 4096
    assert plan.rollouts_per_episode == 157 and plan.rollouts == 314
    assert plan.optimizer_steps == 314 * 16 == 5024
    assert plan.warmup_steps == 151  # ceil(0.03 x 5024)
    assert plan.checkpoint_every_steps == 320  # --save_steps 20 counts rollouts
    assert plan.checkpoint_steps[:2] == [320, 640] and plan.checkpoint_steps[-1] == 4800


def test_passes_per_rollout_multiply_the_steps_one_rollout_feeds():
    shape = BatchShape(4, 8, 16, 4, passes_per_rollout=3, episodes=1)
    plan = plan_run(shape, 2, 40, save_every_rollouts=2)
    assert plan.optimizer_steps_per_rollout == 2 * 3
    assert plan.rollouts == 10 and plan.optimizer_steps == 60
    assert plan.checkpoint_every_steps == 12


def test_max_steps_caps_the_run_and_may_end_inside_a_rollout():
    plan = plan_run(FRE_TEXT, 8, 40315, max_steps=40, warmup_ratio=0.03, save_every_rollouts=1)
    # The third rollout is used for 8 of its 16 steps.
    assert plan.optimizer_steps == 40 and plan.rollouts == 3
    assert plan.warmup_steps == 2 and plan.checkpoint_steps == [16, 32]


def test_without_rows_the_plan_gives_per_rollout_numbers_only():
    plan = plan_run(FRE_TEXT, 8, None)
    assert plan.optimizer_steps_per_rollout == 16
    assert plan.rollouts is None and plan.optimizer_steps is None and plan.checkpoint_steps is None


def test_a_dataset_smaller_than_one_rollout_is_a_config_error():
    with pytest.raises(ConfigError, match="has 100 rows, fewer than batch.prompts_per_rollout = 256"):
        plan_run(FRE_TEXT, 8, 100)
