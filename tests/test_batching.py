"""batching.py: the official scripts' batch flags become TRL's layout, and a run's plan is counted as TRL counts it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lmmr1_cli.batching import BatchShape, check_whole_groups, plan_run, require_one_rollout, trl_layout
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


def _suggested(message: str, shape: BatchShape) -> BatchShape:
    """The shape a refusal's 'a layout that works on N processes: batch.k=v ...' stands for."""
    suggestion = message.split("a layout that works on ", 1)[1].split(" (", 1)[0]
    values = dict(pair.split("=") for pair in suggestion.split(": ", 1)[1].split())
    return replace(shape, **{key.removeprefix("batch."): int(v) for key, v in values.items()})


@pytest.mark.parametrize(
    ("shape", "processes"),
    [
        (BatchShape(4, 8, 32, 32), 3),  # the tiny recipe on 3 processes: 32 / 3 is no micro batch
        (BatchShape(256, 16, 256, 2), 3),
        (BatchShape(5, 8, 40, 40), 7),
        (BatchShape(256, 16, 256, 4), 96),
    ],
)
def test_an_indivisible_layout_names_one_that_works_on_that_process_count(shape, processes):
    with pytest.raises(ConfigError) as info:
        trl_layout(shape, processes)
    message = str(info.value)
    assert "batch.samples_per_step must be a multiple of processes x batch.micro_batch_size" in message
    assert "/ 3" not in message  # the old advice: a micro batch dividing 32 / 3, not a whole number
    fixed = _suggested(message, shape)
    assert fixed != shape and fixed.samples_per_prompt == shape.samples_per_prompt
    trl_layout(fixed, processes)  # the suggestion is a layout that works


def test_dynamic_sampling_needs_whole_groups_per_process_and_names_a_prompt_count_that_gives_them():
    shape = BatchShape(3, 8, 24, 12)
    trl_layout(shape, 2)  # the optimizer step divides; the groups do not
    with pytest.raises(ConfigError) as info:
        check_whole_groups(shape, 2)
    message = str(info.value)
    assert "batch.prompts_per_rollout = 3 is not a multiple of 2" in message
    fixed = _suggested(message, shape)
    check_whole_groups(fixed, 2)


def test_samples_per_step_must_divide_a_rollout():
    with pytest.raises(ConfigError, match=r"batch.samples_per_step \(3000\) must divide .* = 4096"):
        trl_layout(BatchShape(256, 16, 3000, 2), 1)
    with pytest.raises(ConfigError, match=r"batch.micro_batch_size \(3\) must divide batch.samples_per_step"):
        trl_layout(BatchShape(256, 16, 256, 3), 1)
    with pytest.raises(ConfigError, match="batch.samples_per_prompt must be >= 2"):
        trl_layout(BatchShape(256, 1, 256, 2), 1)


def test_a_samples_per_step_larger_than_the_rollout_never_suggests_an_empty_list():
    # 1 prompt x 16 samples = 16 completions, 32 per step in micro batches of 32: no divisor of 16 fits.
    with pytest.raises(ConfigError) as info:
        trl_layout(BatchShape(1, 16, 32, 32), 1)
    message = str(info.value)
    assert "values that divide: 1, 2, 4, 8, 16 (with a batch.micro_batch_size dividing it)" in message
    assert not message.rstrip().endswith(":")


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


def test_a_dataset_smaller_than_one_rollout_is_named_in_the_plan_and_refused_for_training():
    plan = plan_run(FRE_TEXT, 8, 100)
    assert plan.optimizer_steps == 0 and plan.rollouts == 0
    assert "has 100 rows, fewer than batch.prompts_per_rollout = 256" in plan.problem
    with pytest.raises(ConfigError, match="has 100 rows, fewer than batch.prompts_per_rollout = 256"):
        require_one_rollout(FRE_TEXT, 100)
    require_one_rollout(FRE_TEXT, 256)


def test_trl_takes_the_planned_optimizer_steps_per_generation(arith_train, tmp_path):
    """A real tiny run: TRL generates once per rollout and takes the plan's optimizer steps from it."""
    from lmmr1_cli.config import load_train_config
    from lmmr1_cli.train import build_trainer, check_device

    config = load_train_config(
        "tiny-fre",
        overrides=[
            "batch.prompts_per_rollout=4",  # 4 prompts x 4 samples = 16 completions per rollout
            "batch.samples_per_prompt=4",
            "batch.samples_per_step=4",  # 16 / 4 = 4 optimizer steps per pass
            "batch.micro_batch_size=2",  # each accumulated from 2 micro-batches of 2
            "batch.passes_per_rollout=2",  # two passes: 8 optimizer steps per generation
            "run.max_steps=16",
            "run.save_every_rollouts=100",
            "rollout.max_completion_length=8",
        ],
    )
    check_device(config)
    plan = plan_run(config.batch.shape(), 1, 48, max_steps=16)
    assert plan.optimizer_steps_per_rollout == 8 and plan.rollouts == 2
    trainer = build_trainer(config, arith_train, tmp_path / "run")
    assert trainer.args.gradient_accumulation_steps == 2 and trainer.args.steps_per_generation == 8
    generated_at = []  # the optimizer step count each time TRL generates a rollout
    generate = trainer._generate_and_score_completions

    def counting(batch):
        generated_at.append(trainer.state.global_step)
        return generate(batch)

    trainer._generate_and_score_completions = counting
    trainer.train()
    assert trainer.state.global_step == plan.optimizer_steps == 16
    assert generated_at == [0, 8]  # one generation per 8 optimizer steps, as planned


def test_over_long_prompts_are_dropped_before_training(arith_train, tiny_dir):
    from lmmr1_cli.modeling import load_processor
    from lmmr1_cli.train import build_train_dataset, drop_over_long_prompts

    processor = load_processor(str(tiny_dir), 3136, 12544, False)
    dataset = build_train_dataset(arith_train, "tiny")
    lengths = sorted(
        len(
            processor.tokenizer(processor.apply_chat_template(p, tokenize=False, add_generation_prompt=True))[
                "input_ids"
            ]
        )
        for p in dataset["prompt"]
    )
    cap = lengths[len(lengths) // 2]  # the median prompt length: every longer prompt goes
    kept, dropped = drop_over_long_prompts(dataset, processor, cap)
    assert dropped == sum(n > cap for n in lengths) > 0
    assert len(kept) == len(dataset) - dropped
    assert drop_over_long_prompts(dataset, processor, None) == (dataset, 0)


def test_image_tokens_count_toward_the_prompt_cap(geo_train, tiny_dir):
    from lmmr1_cli.modeling import load_processor
    from lmmr1_cli.train import build_train_dataset, drop_over_long_prompts

    processor = load_processor(str(tiny_dir), 3136, 12544, False)
    dataset = build_train_dataset(geo_train, "tiny")
    # The longest templated text, with each image still one placeholder token: every image adds 3 to 15 tokens.
    text_only = max(
        len(
            processor.tokenizer(processor.apply_chat_template(p, tokenize=False, add_generation_prompt=True))[
                "input_ids"
            ]
        )
        for p in dataset["prompt"]
    )
    kept, dropped = drop_over_long_prompts(dataset, processor, text_only)
    assert dropped == len(dataset) and len(kept) == 0
    assert drop_over_long_prompts(dataset, processor, text_only + 16 * 4)[1] == 0
