"""Dynamic sampling (`lmmr1_cli/dynamic_sampling.py`): a real tiny-model trainer's rollout with a reward that is
constant on known prompts, and a real CLI run with the setting as a user types it."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from conftest import run_lmmr1

from lmmr1_cli.config import load_train_config
from lmmr1_cli.train import build_trainer, check_device

REWARDS = '''
import itertools

_counter = itertools.count()


def constant_on_even_ids(completions, id, **kwargs):
    """1.0 for every completion of a prompt whose id ends in an even digit; a fresh value for every other one."""
    return [1.0 if int(row_id[-1]) % 2 == 0 else float(next(_counter)) for row_id in id]


def constant(completions, **kwargs):
    return [1.0] * len(completions)
'''


def _trainer(data: Path, tmp_path: Path, reward: str, *overrides: str):
    (tmp_path / "rewards.py").write_text(REWARDS)
    config = load_train_config(
        "tiny-fre",
        overrides=[
            "rollout.dynamic_sampling=true", f"rewards.custom=[{tmp_path / 'rewards.py'}:{reward}]",
            "rewards.format_weight=0", "rewards.accuracy_weight=0", "batch.samples_per_prompt=4",
            "batch.samples_per_step=16", "batch.micro_batch_size=16", *overrides,
        ],
    )  # fmt: skip
    check_device(config)
    trainer = build_trainer(config, data, tmp_path / "run")
    trainer.model.train()
    return trainer


def _rollout(trainer, prompts: int):
    dataset = trainer.train_dataset
    inputs = [dict(dataset[i]) for i in range(prompts) for _ in range(trainer.num_generations)]
    output = trainer._generate_and_score_completions(inputs)
    metrics = {
        k.split("/")[1]: v[-1] for k, v in trainer._metrics["train"].items() if k.startswith("dynamic")
    }
    return output, metrics


def _prompt_ids_of_rows(trainer, output) -> list[str]:
    """The dataset id of each row's prompt, read back from the prompt tokens the loss sees."""
    tokenizer = trainer.processing_class.tokenizer
    problems = {row["prompt"][-1]["content"][-1]["text"]: row["id"] for row in trainer.train_dataset}
    ids = []
    for tokens, mask in zip(output["prompt_ids"], output["prompt_mask"], strict=True):
        text = tokenizer.decode(tokens[mask.bool()])
        (found,) = [row_id for problem, row_id in problems.items() if problem in text]
        ids.append(found)
    return ids


def test_tied_prompts_never_reach_the_loss_and_the_rollout_is_refilled(arith_train, tmp_path):
    trainer = _trainer(arith_train, tmp_path, "constant_on_even_ids")
    output, metrics = _rollout(trainer, prompts=4)  # ids ...0 to ...3: two of the four prompts are constant
    live = output["completion_mask"].sum(dim=1) > 0
    assert int(live.sum()) == 16  # full: 4 varied groups of 4, two of them sampled in an extra round
    ids = _prompt_ids_of_rows(trainer, output)
    assert all(int(row_id[-1]) % 2 == 1 for row_id in ids)  # no constant prompt is in the batch at all
    assert metrics["kept_groups"] == 4 and metrics["filled"] == 1.0 and metrics["rounds"] >= 1
    assert metrics["dropped_groups"] >= 2 and metrics["extra_generation_seconds"] > 0
    assert output["num_items_in_batch"] == output["completion_mask"].sum()


def test_a_rollout_still_short_after_the_last_round_trains_on_nothing_of_the_tied_groups(
    arith_train, tmp_path
):
    trainer = _trainer(arith_train, tmp_path, "constant", "rollout.max_sampling_rounds=2")
    output, metrics = _rollout(trainer, prompts=4)
    assert output["completion_ids"].shape[0] == 16  # the planned shape, for TRL's split into micro-batches
    assert int(output["completion_mask"].sum()) == 0  # but no token of a tied group counts in the loss
    assert metrics["rounds"] == 2 and metrics["filled"] == 0.0 and metrics["kept_groups"] == 0


README = Path(__file__).resolve().parents[1] / "README.md"
MARKER = "**Dynamic sampling.**"


def test_readme_dynamic_sampling_commands_work_as_written(arith_train, tmp_path):
    text = README.read_text(encoding="utf-8")
    block = text[text.index(MARKER) :].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("  #")[0].split() for line in block.splitlines() if line.strip()]
    assert len(commands) == 2 and all(c[0] == "lmmr1" for c in commands)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "arith-train").symlink_to(arith_train)
    dry = run_lmmr1(*commands[0][1:], cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "dynamic_sampling: true" in dry.stdout and "max_sampling_rounds: 3" in dry.stdout
    result = run_lmmr1(*commands[1][1:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [
        json.loads(line) for line in (tmp_path / "runs" / "fre-ds" / "metrics.jsonl").read_text().splitlines()
    ]
    assert all(0 <= row["dynamic_sampling/filled"] <= 1 for row in rows if "reward" in row)
    assert all(row["dynamic_sampling/kept_groups"] <= 4 for row in rows if "reward" in row)


# Two processes: tests/test_validation.py runs one 2-process run with dynamic sampling and validation together.


MIX_REWARDS = '''
import itertools

_calls = itertools.count()
_values = itertools.count()


def first_round_varied_then_only(completions, id, **kwargs):
    """Round 1: every prompt varied but the TIED ones. Later rounds: only picture rows varied, or only text rows."""
    first = next(_calls) == 0
    varied = [row_id not in {tied!r} if first else ("picture" in row_id) == {later_pictures!r} for row_id in id]
    return [float(next(_values)) if v else 1.0 for v in varied]
'''


def test_rounds_with_and_without_images_merge_into_one_batch_the_model_trains_on(arith_train, tmp_path):
    """A mix-data dataset: a round can draw only text rows, and TRL leaves the image fields out of such a round's
    output. Pictures first then a text-only round, text first then pictures, and a first round of pictures that
    all tie followed by text only must each give one batch whose image fields match its rows and whose loss the
    model computes. Each extra round draws one prompt, so the group it adds came from a round of its own kind."""
    from lmmr1_cli.data.mix import MixPart, mix_datasets

    pictures = tmp_path / "pictures"
    run = run_lmmr1(
        "prepare-data", "synthetic-largest-picture", "--split", "train", "--limit", 8, "-o", pictures
    )
    assert run.returncode == 0, run.stderr
    mix = tmp_path / "mix"
    mix_datasets([MixPart(pictures, 8), MixPart(arith_train, 8)], mix, seed=0)
    rows = [json.loads(line) for line in (mix / "rows.jsonl").read_text().splitlines()]
    pic = [r["id"] for r in rows if r["images"]]
    txt = [r["id"] for r in rows if not r["images"]]
    cases = {  # name: (first round's prompts, the ones tied in it, later rounds vary pictures, picture groups kept)
        "pictures-then-text": ([pic[0], txt[0]], [txt[0]], False, 1),
        "text-then-pictures": ([txt[1], txt[0]], [txt[0]], True, 1),
        "tied-pictures-then-text": ([pic[0], pic[1]], [pic[0], pic[1]], False, 0),
    }
    for name, (first_round, tied, later_pictures, picture_groups) in cases.items():
        case = tmp_path / name
        case.mkdir()
        (case / "rewards.py").write_text(MIX_REWARDS.format(tied=set(tied), later_pictures=later_pictures))
        config = load_train_config(
            "tiny-fre",
            overrides=[
                "rollout.dynamic_sampling=true", f"rewards.custom=[{case / 'rewards.py'}:first_round_varied_then_only]",
                "rewards.format_weight=0", "rewards.accuracy_weight=0", "batch.samples_per_prompt=4",
                "batch.prompts_per_rollout=2", "batch.samples_per_step=8", "batch.micro_batch_size=8",
            ],
        )  # fmt: skip
        check_device(config)
        trainer = build_trainer(config, mix, case / "run")
        trainer.model.train()
        by_id = {row["id"]: dict(row) for row in trainer.train_dataset}
        inputs = [by_id[row_id] for row_id in first_round for _ in range(trainer.num_generations)]
        output = trainer._generate_and_score_completions(inputs)
        metrics = {
            k.split("/")[1]: v[-1] for k, v in trainer._metrics["train"].items() if k.startswith("dynamic")
        }
        assert metrics["filled"] == 1.0 and metrics["rounds"] >= 1, name
        assert int((output["completion_mask"].sum(dim=1) > 0).sum()) == 8, name
        # Each row's image fields are its own: pixels for the picture rows, none for the text rows.
        image_token = trainer.model.config.image_token_id
        with_image = (output["prompt_ids"] == image_token).any(dim=1)
        assert int(with_image.sum()) == 4 * picture_groups, name
        num_images = output.get("num_images") or [0] * 8
        assert [n > 0 for n in num_images] == with_image.tolist(), name
        if picture_groups:
            assert output["image_grid_thw"].shape[0] == 4 * picture_groups
            assert output["pixel_values"].shape[0] == int(output["image_grid_thw"].prod(dim=-1).sum())
            tokens = torch.cat([output["prompt_ids"], output["completion_ids"]], dim=1)
            assert torch.equal(output["mm_token_type_ids"] == 1, tokens == image_token), name
        else:
            assert output.get("pixel_values") is None, name
        # Trainer's loop sets this; the test calls the loss directly.
        trainer.current_gradient_accumulation_steps = 1
        loss = trainer.compute_loss(trainer.model, output)
        assert loss.isfinite(), name
        loss.backward()
        weight = trainer.model.model.language_model.layers[0].self_attn.q_proj.weight
        assert weight.grad is not None and weight.grad.abs().sum() > 0, name
