"""OpenRLHF's batch semantics (the LMM-R1 scripts' flags) mapped onto TRL's GRPOTrainer, and the plan of a run.

OpenRLHF (`openrlhf/cli/train_ppo_ray.py`, `trainer/ppo_trainer.py`) counts a run this way:
- `--rollout_batch_size` P prompts are sampled per rollout, `--n_samples_per_prompt` G completions each: a rollout
  is C = P x G completions;
- `--train_batch_size` T counts *completions* per optimizer step, so one rollout feeds C / T optimizer steps, each
  accumulated from `--micro_train_batch_size` m completions per GPU per forward/backward;
- `--max_epochs` passes over one rollout before the next is generated; `--num_episodes` passes over the prompt set;
- the prompt loader drops the last incomplete rollout (`drop_last=True`), so an episode is floor(N / P) rollouts;
- the cosine schedule warms up for ceil(0.03 x total steps); `--save_steps` counts *rollouts*.

TRL expresses the same shape: `per_device_train_batch_size` = m, `gradient_accumulation_steps` = T / (m x processes),
`steps_per_generation` = micro-steps fed by one generation = (C / T) x accumulation, `num_iterations` = max_epochs,
`num_train_epochs` = episodes (its RepeatSampler also drops the incomplete last generation batch).
Pure arithmetic: nothing here imports torch or TRL.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from lmmr1_cli.errors import ConfigError


@dataclass(frozen=True)
class BatchShape:
    """The run's batch shape in the official scripts' terms (all processes together)."""

    prompts_per_rollout: int  # --rollout_batch_size
    samples_per_prompt: int  # --n_samples_per_prompt (TRL num_generations)
    samples_per_step: int  # --train_batch_size
    micro_batch_size: int  # --micro_train_batch_size (per process)
    passes_per_rollout: int = 1  # --max_epochs (TRL num_iterations)
    episodes: int = 1  # --num_episodes (TRL num_train_epochs)

    @property
    def completions_per_rollout(self) -> int:
        return self.prompts_per_rollout * self.samples_per_prompt


@dataclass(frozen=True)
class TrlLayout:
    """What a BatchShape becomes in TRL's GRPOConfig on `num_processes` processes."""

    num_processes: int
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    steps_per_generation: int  # micro-steps (forward/backward calls) fed by one generation
    generation_batch_size: int  # completions per generation, all processes
    num_generations: int
    num_iterations: int
    num_train_epochs: int
    optimizer_steps_per_rollout: int  # per pass over the rollout


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return small + [n // d for d in reversed(small) if d * d != n]


def _listed(values: list[int], limit: int = 12) -> str:
    shown = ", ".join(map(str, values[:limit]))
    return shown + (", ..." if len(values) > limit else "")


def check_shape(shape: BatchShape) -> None:
    """Checks that do not depend on the process count; ConfigError naming the `batch.*` key otherwise."""
    for name, value in asdict(shape).items():
        if value < 1:
            raise ConfigError(f"batch.{name} must be >= 1, got {value}")
    if shape.samples_per_prompt < 2:
        raise ConfigError("batch.samples_per_prompt must be >= 2: a group baseline needs two completions")
    c, t = shape.completions_per_rollout, shape.samples_per_step
    if c % t:
        fits = [d for d in _divisors(c) if d % shape.micro_batch_size == 0]
        # No divisor of the rollout is a multiple of the micro batch: the micro batch must shrink too.
        hint = (
            _listed(fits) if fits else f"{_listed(_divisors(c))} (with a batch.micro_batch_size dividing it)"
        )
        raise ConfigError(
            f"batch.samples_per_step ({t}) must divide the completions per rollout (batch.prompts_per_rollout x "
            f"batch.samples_per_prompt = {c}); values that divide: {hint}"
        )
    if t % shape.micro_batch_size:
        raise ConfigError(
            f"batch.micro_batch_size ({shape.micro_batch_size}) must divide batch.samples_per_step ({t}); "
            f"values that divide: {_listed(_divisors(t))}"
        )


def trl_layout(shape: BatchShape, num_processes: int) -> TrlLayout:
    """The GRPOConfig batch fields for `num_processes`; a one-line ConfigError says which counts would divide."""
    check_shape(shape)
    if num_processes < 1:
        raise ConfigError(f"number of processes must be >= 1, got {num_processes}")
    t, m = shape.samples_per_step, shape.micro_batch_size
    per_pass = t // m  # micro-batches per optimizer step, all processes together
    if per_pass % num_processes:
        raise ConfigError(
            f"{num_processes} processes cannot share an optimizer step of batch.samples_per_step = {t} completions "
            f"in micro batches of batch.micro_batch_size = {m}: batch.samples_per_step must be a multiple of "
            f"processes x batch.micro_batch_size = {num_processes * m}; "
            f"{_working_layout_hint(shape, num_processes, whole_groups=False)} (process counts that divide: "
            f"{_listed(_divisors(per_pass))})"
        )
    accumulation = per_pass // num_processes
    steps_per_rollout = shape.completions_per_rollout // t
    return TrlLayout(
        num_processes=num_processes,
        per_device_train_batch_size=m,
        gradient_accumulation_steps=accumulation,
        steps_per_generation=steps_per_rollout * accumulation,
        generation_batch_size=shape.completions_per_rollout,
        num_generations=shape.samples_per_prompt,
        num_iterations=shape.passes_per_rollout,
        num_train_epochs=shape.episodes,
        optimizer_steps_per_rollout=steps_per_rollout,
    )


def check_whole_groups(shape: BatchShape, num_processes: int) -> None:
    """Dynamic sampling drops and refills whole groups on each process, so every process must hold whole prompts'
    groups: batch.prompts_per_rollout a multiple of the process count (TRL splits a rollout evenly by rank)."""
    trl_layout(shape, num_processes)
    if shape.prompts_per_rollout % num_processes:
        raise ConfigError(
            f"rollout.dynamic_sampling on {num_processes} processes needs whole groups on every process, but "
            f"batch.prompts_per_rollout = {shape.prompts_per_rollout} is not a multiple of {num_processes}; "
            f"{_working_layout_hint(shape, num_processes, whole_groups=True)}"
        )


def _working_layout_hint(shape: BatchShape, num_processes: int, whole_groups: bool) -> str:
    """'a layout that works on N processes: batch.k=v ...' with the fewest and smallest changes to the batch keys
    that decide the layout (prompts per rollout, samples per step, micro batch); group size stays, it is the
    algorithm's."""
    p, g, t, m, n = (
        shape.prompts_per_rollout,
        shape.samples_per_prompt,
        shape.samples_per_step,
        shape.micro_batch_size,
        num_processes,
    )
    best = None
    for p2 in range(max(1, p - 2 * n), p + 2 * n + 1):
        if whole_groups and p2 % n:
            continue
        for t2 in _divisors(p2 * g):
            if t2 % n:
                continue
            # The micro batch closest to the current one (a memory budget the user chose).
            m2 = min(_divisors(t2 // n), key=lambda d: (abs(d - m), d))
            new = (p2, t2, m2)
            changed = sum(a != b for a, b in zip(new, (p, t, m), strict=True))
            distance = abs(p2 - p) / p + abs(t2 - t) / t + abs(m2 - m) / m
            if best is None or (changed, distance) < best[0]:
                best = ((changed, distance), new)
    names = ("batch.prompts_per_rollout", "batch.samples_per_step", "batch.micro_batch_size")
    # A prompt count that is a multiple of n always has one (samples per step = the whole rollout), so best is set.
    keys = " ".join(f"{k}={v}" for k, v, old in zip(names, best[1], (p, t, m), strict=True) if v != old)
    return f"a layout that works on {n} processes: {keys}"


@dataclass(frozen=True)
class RunPlan:
    """What a run will do, in numbers a user checks before spending GPU hours."""

    num_processes: int
    completions_per_rollout: int
    optimizer_steps_per_rollout: int  # all passes over one rollout together
    training_rows: int | None  # None: no dataset rows known (no manifest); whole-run numbers are then None
    rollouts_per_episode: int | None
    rollouts: int | None
    optimizer_steps: int | None
    warmup_steps: int | None
    checkpoint_every_steps: int
    checkpoint_steps: list[int] | None  # every step a checkpoint is written at (the final model is saved too)
    problem: str | None = None  # why this run would not train (the training command refuses it)

    def as_dict(self) -> dict:
        return asdict(self)


def plan_run(
    shape: BatchShape,
    num_processes: int,
    training_rows: int | None,
    *,
    max_steps: int = -1,
    warmup_ratio: float = 0.0,
    save_every_rollouts: int = 1,
) -> RunPlan:
    """Rollouts, optimizer steps, warmup and checkpoints of a run, counted as TRL/transformers will count them.

    `max_steps` > 0 caps optimizer steps (TRL/transformers semantics); -1 runs `shape.episodes` over the rows.
    """
    layout = trl_layout(shape, num_processes)
    steps_per_rollout = layout.optimizer_steps_per_rollout * shape.passes_per_rollout
    every = save_every_rollouts * steps_per_rollout
    per_episode = None if training_rows is None else training_rows // shape.prompts_per_rollout
    problem = None if training_rows is None else rows_problem(shape, training_rows)
    if problem:
        total = 0
    elif max_steps > 0:
        total = max_steps
    elif per_episode is not None:
        total = shape.episodes * per_episode * steps_per_rollout
    else:
        total = None
    rollouts = None if total is None else math.ceil(total / steps_per_rollout)
    return RunPlan(
        num_processes=num_processes,
        completions_per_rollout=shape.completions_per_rollout,
        optimizer_steps_per_rollout=steps_per_rollout,
        training_rows=training_rows,
        rollouts_per_episode=per_episode,
        rollouts=rollouts,
        optimizer_steps=total,
        warmup_steps=None if total is None else warmup_steps(total, warmup_ratio),
        checkpoint_every_steps=every,
        checkpoint_steps=None if total is None else list(range(every, total + 1, every)),
        problem=problem,
    )


def rows_problem(shape: BatchShape, training_rows: int) -> str | None:
    """Why `training_rows` cannot train with this shape (fewer rows than one rollout's prompts), or None."""
    if training_rows >= shape.prompts_per_rollout:
        return None
    return (
        f"the training data has {training_rows} rows, fewer than batch.prompts_per_rollout = "
        f"{shape.prompts_per_rollout}: not one rollout fits (lower batch.prompts_per_rollout)"
    )


def require_one_rollout(shape: BatchShape, training_rows: int) -> None:
    """ConfigError when not one rollout fits in the training rows (TRL would silently train zero steps)."""
    problem = rows_problem(shape, training_rows)
    if problem:
        raise ConfigError(problem)


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    """transformers' (and OpenRLHF's) warmup: ceil(ratio x total steps)."""
    return math.ceil(total_steps * warmup_ratio)
