"""Dynamic sampling (DAPO, arXiv 2503.14476 §3.2; EasyR1/verl `filter_groups`, LMM-R1's
`--custom_experience_filter`): a prompt group whose rewards are all equal has advantage 0 and teaches nothing, so
it is dropped and further prompts are sampled until the rollout holds as many varied groups as it was planned with.

The rollout is TRL's own (`_generate_and_score_completions`, HF or vLLM generation): a round generates and scores
`n` more groups drawn at random from the training prompts, the varied ones replace dropped ones, for at most
`rollout.max_sampling_rounds` extra rounds. A rollout still short after them trains on what it has: the remaining
constant groups stay in the batch (so every tensor keeps its planned shape) with their completion mask zeroed, so
they never reach the loss. Each round's advantages are normalized within that round (TRL computes them per call).
Every process takes part in every round (TRL gathers rewards across processes), generating the largest number any
process needs. Metrics (per rollout, in metrics.jsonl and the trackers): `dynamic_sampling/kept_groups`,
`dropped_groups`, `rounds`, `extra_generation_seconds`, `filled` (varied groups / planned groups).
"""

from __future__ import annotations

import time

import torch

from lmmr1_cli.errors import ConfigError

# Advantages of a group whose rewards tie are exactly 0 up to float rounding of the group mean.
TIED = 1e-6
PROMPT_SIDE = ("prompt_ids", "prompt_mask")
# Token types span prompt and completion (TRL appends zeros for the completion): merged per part.
WHOLE_SEQUENCE = ("token_type_ids", "mm_token_type_ids")
IMAGE_SIDE = ("pixel_values", "image_grid_thw", "image_sizes")


class DynamicSampler:
    """Wraps one rollout of a GRPOTrainer: drop tied groups, sample more, merge (see the module docstring)."""

    def __init__(self, trainer, max_rounds: int, seed: int):
        self.trainer = trainer
        self.max_rounds = max_rounds
        self.seed = seed

    def rollout(self, generate, inputs: list[dict]) -> dict:
        group = self.trainer.num_generations
        if len(inputs) % group:
            # Groups must not straddle processes (TRL gives each a contiguous slice of the rollout).
            raise ConfigError(
                f"rollout.dynamic_sampling: each process holds {len(inputs)} completions, not whole groups of "
                f"{group}; make batch.prompts_per_rollout a multiple of the process count"
            )
        planned = len(inputs) // group
        output = generate(inputs)
        varied = _varied_groups(output["advantages"], group)
        dropped = planned - len(varied)
        kept = [_rows(output, group, g) for g in varied]
        tied = [_rows(output, group, g) for g in range(planned) if g not in varied]
        rounds, extra_seconds = 0, 0.0
        while rounds < self.max_rounds and self._largest_need(planned - len(kept)) > 0:
            rounds += 1
            wanted = self._largest_need(planned - len(kept))
            started = time.monotonic()
            extra = generate(self._more_prompts(wanted, group, rounds))
            extra_seconds += time.monotonic() - started
            more = _varied_groups(extra["advantages"], group)
            dropped += wanted - len(more)
            kept += [_rows(extra, group, g) for g in more]
        filled = min(len(kept), planned)
        merged = kept[:planned] + [_masked(rows) for rows in tied[: planned - filled]]
        batch = _merge(merged, output, self._pad_id())
        batch["num_items_in_batch"] = self.trainer.accelerator.gather(batch["completion_mask"].sum()).sum()
        metrics = self.trainer._metrics["train"]
        for key, value in (
            ("kept_groups", filled),
            ("dropped_groups", dropped),
            ("rounds", rounds),
            ("extra_generation_seconds", extra_seconds),
            ("filled", filled / planned if planned else 1.0),
        ):
            metrics[f"dynamic_sampling/{key}"].append(float(value))
        return batch

    def _largest_need(self, need: int) -> int:
        accelerator = self.trainer.accelerator
        if accelerator.num_processes == 1:
            return max(need, 0)
        value = torch.tensor([max(need, 0)], device=accelerator.device)
        return int(accelerator.gather(value).max().item())

    def _rollout_index(self) -> int:
        """Which training rollout this is, counted from the trainer's step, so a resumed run goes on counting (a
        per-process counter restarted at 0 on resume and drew other extra prompts than the run that was not
        stopped). The k-th rollout starts at step k x (optimizer steps a rollout feeds)."""
        args = self.trainer.args
        steps = args.steps_per_generation * args.num_iterations // args.gradient_accumulation_steps
        return self.trainer.state.global_step // max(steps, 1)

    def _more_prompts(self, groups: int, group: int, round_index: int) -> list[dict]:
        """`groups` training prompts drawn at random (seeded by run seed, step, round and rank), each repeated
        `group` times, as TRL's sampler hands them over."""
        dataset = self.trainer.train_dataset
        state = self.trainer.state
        generator = torch.Generator().manual_seed(
            hash(
                (
                    self.seed,
                    state.global_step,
                    self._rollout_index(),
                    round_index,
                    self.trainer.accelerator.process_index,
                )
            )
            % (2**63)
        )
        picks = torch.randint(len(dataset), (groups,), generator=generator).tolist()
        return [dict(dataset[i]) for i in picks for _ in range(group)]

    def _pad_id(self) -> int:
        tokenizer = getattr(self.trainer.processing_class, "tokenizer", self.trainer.processing_class)
        return tokenizer.pad_token_id or 0


def _varied_groups(advantages: torch.Tensor, group: int) -> list[int]:
    spread = advantages.detach().abs().reshape(-1, group).amax(dim=1)
    return [g for g, value in enumerate(spread.tolist()) if value > TIED]


def _rows(output: dict, group: int, index: int) -> dict:
    """The rows of group `index` of a rollout output: per-row tensors and lists sliced, images by their rows."""
    start, end = index * group, (index + 1) * group
    rows = {}
    images = None
    if "num_images" in output and output.get("pixel_values") is not None:
        images = _image_slices(output)
    for key, value in output.items():
        if key == "num_items_in_batch" or value is None:
            continue
        if key in IMAGE_SIDE and images is not None:
            per_image, per_row = images
            if key == "pixel_values":
                rows[key] = (
                    torch.cat([per_row[r] for r in range(start, end)])
                    if any(per_row[r].numel() for r in range(start, end))
                    else per_row[start][:0]
                )
            else:
                lo, hi = per_image[start][0], per_image[end - 1][1]
                rows[key] = value[lo:hi]
        elif isinstance(value, torch.Tensor) and value.ndim >= 1:
            rows[key] = value[start:end]
        elif isinstance(value, list):
            rows[key] = value[start:end]
        else:
            rows[key] = value
    return rows


def _image_slices(output: dict):
    """(image index range per row, pixel rows per row) from num_images and image_grid_thw (Qwen layout)."""
    counts = list(output["num_images"])
    grid = output["image_grid_thw"]
    patches = grid.prod(dim=-1).tolist()
    per_image, per_row, image, pixel = [], [], 0, 0
    for count in counts:
        size = sum(patches[image : image + count])
        per_image.append((image, image + count))
        per_row.append(output["pixel_values"][pixel : pixel + size])
        image, pixel = image + count, pixel + size
    return per_image, per_row


def _masked(rows: dict) -> dict:
    """A tied group kept only for the batch's shape: no completion token of it counts in the loss."""
    return {**rows, "completion_mask": torch.zeros_like(rows["completion_mask"])}


def _merge(groups: list[dict], like: dict, pad_id: int) -> dict:
    """Groups (from one or more rounds, padded to different lengths) as one rollout output."""
    merged = {}
    keys = list(dict.fromkeys(key for g in groups for key in g))
    for key in keys:
        template = next(g[key] for g in groups if key in g)
        values = [g[key] if key in g else _without_images(key, template, g) for g in groups]
        first = values[0]
        if key in WHOLE_SEQUENCE:
            merged[key] = _merge_whole_sequence(values, groups)
        elif isinstance(first, torch.Tensor) and first.ndim >= 1:
            if first.ndim >= 2 and key not in IMAGE_SIDE:
                width = max(v.shape[1] for v in values)
                left = key in PROMPT_SIDE
                fill = pad_id if key == "prompt_ids" else 0
                values = [_pad(v, width, left, fill) for v in values]
            merged[key] = torch.cat(values)
        elif isinstance(first, list):
            merged[key] = [item for v in values for item in v]
        else:
            merged[key] = first
    if "pixel_values" in merged and merged["pixel_values"].shape[0] == 0:
        # Only text rows made it (their groups came from rounds that had pictures): a text batch, as TRL makes one.
        for key in (*IMAGE_SIDE, "num_images"):
            merged.pop(key, None)
    # Fields TRL set to None (the groups leave them out). Not image fields of a round none of whose groups made it
    # into the batch: those would give text rows pixels.
    for key, value in like.items():
        if key not in merged and value is None:
            merged[key] = None
    return merged


def _without_images(key: str, template, rows: dict):
    """What a group from a round without any image holds for an image field another round has: TRL leaves image
    fields out of a rollout whose prompts are all text (a mix-data round can draw only text rows)."""
    count = rows["prompt_ids"].shape[0]
    if key == "num_images":
        return [0] * count
    if key in IMAGE_SIDE:
        return template[:0]
    if key in WHOLE_SEQUENCE:  # text tokens are type 0
        width = rows["prompt_ids"].shape[1] + rows["completion_ids"].shape[1]
        return torch.zeros((count, width), dtype=template.dtype, device=template.device)
    raise RuntimeError(f"dynamic sampling: rollout field {key!r} is in some rounds and not others")


def _merge_whole_sequence(values: list[torch.Tensor], groups: list[dict]) -> torch.Tensor:
    """Token types of [prompt | completion] rows: the prompt part left-padded and the completion part right-padded
    to the merged widths, as prompt_ids and completion_ids are, so image tokens stay where the prompt has them."""
    prompt_width = max(g["prompt_ids"].shape[1] for g in groups)
    completion_width = max(g["completion_ids"].shape[1] for g in groups)
    parts = []
    for value, g in zip(values, groups, strict=True):
        cut = g["prompt_ids"].shape[1]
        prompt = _pad(value[:, :cut], prompt_width, left=True, fill=0)
        parts.append(torch.cat([prompt, _pad(value[:, cut:], completion_width, left=False, fill=0)], dim=1))
    return torch.cat(parts)


def _pad(tensor: torch.Tensor, width: int, left: bool, fill) -> torch.Tensor:
    missing = width - tensor.shape[1]
    if missing <= 0:
        return tensor
    shape = (tensor.shape[0], missing, *tensor.shape[2:])
    pad = torch.full(shape, fill, dtype=tensor.dtype, device=tensor.device)
    return torch.cat([pad, tensor] if left else [tensor, pad], dim=1)
