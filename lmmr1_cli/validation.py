"""Validation during training: `lmmr1 eval`'s library on held-out sets every `eval.every_rollouts` rollouts, the
best model kept in RUN/best/, and the numbers written to metrics.jsonl and the trackers (TensorBoard, wandb).

The model is the trainer's own, in memory: no second load. Rows, prompts, batches, generation and scoring are
those of `lmmr1 eval` with the same settings (evaluation/runner.generate_records), so step k's per-row answers are
`lmmr1 eval --model RUN/checkpoints/checkpoint-k`'s. With several processes, whole eval batches are dealt out to
the ranks (batch i to rank i mod N) and rank 0 gathers them: every batch is the one a single process would run, so
the numbers are the single-process ones.

    RUN/eval/NAME/step-K.jsonl    the samples of set NAME at optimizer step K (samples.jsonl records)
"""

from __future__ import annotations

import contextlib
import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from lmmr1_cli.atomic import replace_dir, staging_dir_for, write_json_atomic, write_jsonl_atomic
from lmmr1_cli.config import EvalConfig, TrainConfig
from lmmr1_cli.engines import is_sharded
from lmmr1_cli.errors import ConfigError, DataError
from lmmr1_cli.rundir import BEST_DIR, LINEAGE_FILE

EVAL_DIR = "eval"
EVAL_PREFIX = "eval/"
_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")
Progress = Callable[[dict], None]


@dataclass(frozen=True)
class EvalSet:
    name: str
    path: Path


def parse_eval_sets(specs: list[str]) -> list[EvalSet]:
    """`NAME=DIR` or `DIR` (named after the dir) -> EvalSets; names must be distinct and usable in metric keys."""
    sets = []
    for spec in specs:
        name, sep, where = spec.partition("=")
        if not sep or Path(spec).expanduser().is_dir():
            name, where = Path(spec).expanduser().resolve().name, spec
        if not _NAME.match(name):
            raise ConfigError(f"--eval-data {spec!r}: name {name!r} must be letters, digits, '.', '-' or '_'")
        sets.append(EvalSet(name, Path(where).expanduser()))
    names = [s.name for s in sets]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise ConfigError(f"--eval-data: two sets are named {clash[0]!r}; name them, e.g. NAME=DIR")
    return sets


def metric_names(sets: list[EvalSet]) -> list[str]:
    return [f"{EVAL_PREFIX}{s.name}/{metric}" for s in sets for metric in ("accuracy", "format")]


def best_metric(section: EvalConfig, sets: list[EvalSet]) -> str:
    """eval.best_metric, checked against the sets; by default the first set's accuracy."""
    if section.best_metric is None:
        return f"{EVAL_PREFIX}{sets[0].name}/accuracy"
    if section.best_metric not in metric_names(sets):
        raise ConfigError(
            f"eval.best_metric {section.best_metric!r} is not a validation metric of this run; expected one of "
            f"{', '.join(metric_names(sets))}"
        )
    return section.best_metric


def check_validation(config: TrainConfig) -> list[EvalSet]:
    """The eval sets of a config, each a readable dataset dir, and its best metric: one-line errors before any
    model loads or the run dir is touched. [] when the run does not validate."""
    from lmmr1_cli.data.dataset import load_rows

    sets = parse_eval_sets(config.eval.sets)
    if not sets:
        if config.eval.best_metric is not None:
            raise ConfigError("eval.best_metric is set but there is nothing to evaluate: add --eval-data DIR")
        return []
    for s in sets:
        if not s.path.is_dir():
            raise DataError(
                f"--eval-data {s.name}: {s.path} is not a dataset dir (make one with `lmmr1 prepare-data`)"
            )
        try:
            load_rows(s.path, limit=config.eval.limit)
        except DataError as exc:
            raise DataError(f"--eval-data {s.name}: {exc}") from None
    best_metric(config.eval, sets)
    return sets


def validation_steps(
    config: TrainConfig, steps_per_rollout: int, total_steps: int | None
) -> list[int] | None:
    """The optimizer steps a run validates at (step 0 with eval.before_training, then every eval.every_rollouts
    rollouts, as ValidationCallback fires); [] without eval.sets, None when the run's length is unknown."""
    if not config.eval.sets:
        return []
    if total_steps is None:
        return None
    every = config.eval.every_rollouts * steps_per_rollout
    return ([0] if config.eval.before_training else []) + list(range(every, total_steps + 1, every))


def schedule_warning(config: TrainConfig, steps_per_rollout: int, total_steps: int | None) -> str | None:
    """A sentence when validation is asked for but never fires during training (the run ends before the first
    point), naming the eval.every_rollouts that would fire; else None."""
    points = validation_steps(config, steps_per_rollout, total_steps)
    if not config.eval.sets or points is None or any(step > 0 for step in points):
        return None
    every = config.eval.every_rollouts * steps_per_rollout
    rollouts = -(-total_steps // steps_per_rollout)
    fix = (
        f"pass eval.every_rollouts={total_steps // steps_per_rollout} to validate at least once"
        if total_steps >= steps_per_rollout
        else f"pass run.max_steps={steps_per_rollout} (one rollout) to validate at least once"
    )
    only = " (only the step-0 point of eval.before_training)" if points else ""
    return (
        f"--eval-data: validation never runs during training{only}: it runs every eval.every_rollouts = "
        f"{config.eval.every_rollouts} rollouts = {every} steps, and this run has {total_steps} steps "
        f"({rollouts} rollouts); {fix}"
    )


def previous_evaluations(run_dir: Path, sets: list[EvalSet], up_to_step: int) -> int:
    """How many validation points a resumed run already made (RUN/eval/NAME/step-K.jsonl with K <= the resume
    step): its summary counts the whole run, not the last segment."""
    if not sets:
        return 0
    folder = Path(run_dir) / EVAL_DIR / sets[0].name
    numbers = [p.stem.removeprefix("step-") for p in folder.glob("step-*.jsonl")]
    return sum(1 for n in set(numbers) if n.isdigit() and int(n) <= up_to_step)


def eval_settings(section: EvalConfig):
    """The `lmmr1 eval` settings the eval section stands for (HF backend: the trainer's model in memory)."""
    from lmmr1_cli.evaluation.runner import EvalSettings

    settings = EvalSettings(
        backend="hf",
        protocol=section.protocol,
        max_new_tokens=section.max_new_tokens,
        samples=section.samples,
        temperature=section.temperature,
        top_p=section.top_p,
        seed=section.seed,
        batch_size=section.batch_size,
        limit=section.limit,
        system_prompt=section.system_prompt,
    )
    settings.check()
    return settings


class Validator:
    """Evaluates the trainer's model on the eval sets, keeps the best model, and says what it found."""

    def __init__(self, config: TrainConfig, sets: list[EvalSet], run_dir: Path, steps_per_rollout: int):
        from lmmr1_cli.evaluation import plan as planning
        from lmmr1_cli.evaluation.benchmarks import resolve_benchmark
        from lmmr1_cli.evaluation.protocols import ModelProvenance

        self.section = config.eval
        self.settings = eval_settings(config.eval)
        self.run_dir = Path(run_dir)
        self.every_steps = config.eval.every_rollouts * steps_per_rollout
        self.metric = best_metric(config.eval, sets)
        self.plans = [
            planning.plan_benchmark(
                replace(resolve_benchmark(str(s.path), protocol=self.settings.protocol), name=s.name),
                self.settings,
                judge=False,
            )
            for s in sets
        ]
        # The model in the loop is this run's: `lmmr1 eval` on its checkpoint finds run.json and calls it trained.
        provenance = ModelProvenance(True, config.recipe, f"{self.run_dir / LINEAGE_FILE} (in training)")
        self.system_prompts = [
            planning.system_prompt(p, self.settings.system_prompt, provenance) for p in self.plans
        ]
        self.max_pixels = planning.backend_max_pixels(self.plans, None)
        self.best: dict | None = None
        self.backend: str | None = None
        self.evaluations = 0

    def due(self, step: int) -> bool:
        return step > 0 and step % self.every_steps == 0

    def evaluate(
        self, model, processor, step: int, rank: int = 0, world: int = 1, engine=None, sharded: bool = False
    ) -> dict | None:
        """Every rank calls this at the same step; rank 0 gets the metrics row (others None). With `engine` (the
        run's own vLLM engine, weights pushed) it generates there instead of with transformers. `sharded` (ZeRO-3,
        FSDP): each forward gathers parameters from every rank, so every rank runs as many generate calls as the
        busiest one (see `_filler_batches`) and generation keeps the ranks in step until all have finished."""
        from lmmr1_cli.data.dataset import load_rows
        from lmmr1_cli.evaluation import plan as planning
        from lmmr1_cli.evaluation.backends import HFBackend
        from lmmr1_cli.evaluation.runner import generate_records
        from lmmr1_cli.evaluation.scoring import summarize_records
        from lmmr1_cli.modeling import set_pixel_bounds

        # A copy: the eval backend sets left padding and the protocol's pixel bounds, as `lmmr1 eval` loads them.
        processor = copy.deepcopy(processor)
        set_pixel_bounds(processor, None, self.max_pixels)
        if engine is not None:
            from lmmr1_cli.vllm_engine import VLLMBackend

            backend = VLLMBackend.from_engine(engine, vision=hasattr(processor, "image_processor"))
        else:
            backend = HFBackend.from_loaded(model, processor)
        self.backend = (
            "vllm (the run's engine)" if engine is not None else "transformers (the trainer's model)"
        )
        was_training = model.training
        model.eval()
        row: dict = {}
        started = time.monotonic()
        try:
            for plan, system in zip(self.plans, self.system_prompts, strict=True):
                rows = load_rows(plan.benchmark.path, limit=self.settings.limit)
                size = self.settings.batch_size
                batches = [rows[i : i + size] for i in range(0, len(rows), size)]
                sampling = planning.sampling_for(plan, self.settings)
                mine = []
                for batch in batches[rank::world]:
                    mine += generate_records(backend, plan, batch, sampling, self.settings.timeout, system)[0]
                for batch in _filler_batches(batches, rank, world) if sharded else []:
                    generate_records(backend, plan, batch, sampling, self.settings.timeout, system)
                records = _gather(mine, world)
                if rank != 0:
                    continue
                order = {str(r["id"]): i for i, r in enumerate(rows)}
                records.sort(key=lambda r: (order[r["id"]], r["sample"]))
                summary = summarize_records(records, self.settings.samples)
                name = plan.benchmark.name
                write_jsonl_atomic(self.run_dir / EVAL_DIR / name / f"step-{step}.jsonl", records)
                row[f"{EVAL_PREFIX}{name}/accuracy"] = round(summary["accuracy"], 4)
                row[f"{EVAL_PREFIX}{name}/accuracy_ci95_low"] = summary["ci95"][0]
                row[f"{EVAL_PREFIX}{name}/accuracy_ci95_high"] = summary["ci95"][1]
                row[f"{EVAL_PREFIX}{name}/format"] = round(summary["format_rate"], 4)
                row[f"{EVAL_PREFIX}{name}/rows"] = summary["rows"]
        finally:
            model.train(was_training)
        self.evaluations += 1
        row[f"{EVAL_PREFIX}seconds"] = round(time.monotonic() - started, 3)
        return row if rank == 0 else None

    def is_better(self, row: dict) -> bool:
        value = row[self.metric]
        if self.best is None:
            return True
        return value > self.best["value"] if self.section.best_mode == "max" else value < self.best["value"]

    def save_best(self, trainer, step: int, row: dict | None) -> None:
        """RUN/best/ (model + processor, atomically) and its record in run.json. Every rank calls this (ZeRO-3 and
        FSDP gather the weights from all of them); the main process writes, `row` is its evaluation row."""
        import shutil

        accelerator = trainer.accelerator
        main = accelerator.is_main_process
        target = self.run_dir / BEST_DIR
        staging = Path(_broadcast(str(staging_dir_for(target)) if main else None, accelerator.num_processes))
        try:
            trainer.save_model(str(staging))
            if main:
                trainer.processing_class.save_pretrained(str(staging))
                replace_dir(staging, target)
        finally:
            if main:
                shutil.rmtree(staging, ignore_errors=True)
        accelerator.wait_for_everyone()
        if main:
            self.best = {
                "step": step,
                "metric": self.metric,
                "value": row[self.metric],
                "mode": self.section.best_mode,
                "model": str(target),
            }
            _record_best(self.run_dir, self.best)

    def summary(self) -> dict:
        return {"evaluations": self.evaluations, "backend": self.backend, "best": self.best}


def _filler_batches(batches: list[list[dict]], rank: int, world: int) -> list[list[dict]]:
    """Batches a rank generates and throws away so that it runs as many generate calls as the busiest rank: with
    5 batches on 2 ranks, rank 1 has 2 and rank 0 has 3, and under ZeRO-3/FSDP rank 0's third call would wait
    forever for rank 1 in its first parameter gather."""
    busiest = -(-len(batches) // world)
    return batches[:1] * (busiest - len(batches[rank::world]))


def _gather(records: list[dict], world: int) -> list[dict]:
    if world == 1:
        return list(records)
    import torch.distributed as dist

    gathered: list = [None] * world
    dist.all_gather_object(gathered, records)
    return [r for part in gathered for r in part]


def _broadcast(value, world: int):
    """Rank 0's `value` on every rank."""
    if world == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _recorded_best(run_dir: Path, metric: str) -> dict | None:
    import json

    path = run_dir / LINEAGE_FILE
    best = json.loads(path.read_text(encoding="utf-8")).get("best") if path.is_file() else None
    return best if isinstance(best, dict) and best.get("metric") == metric else None


def _record_best(run_dir: Path, best: dict) -> None:
    import json

    path = run_dir / LINEAGE_FILE
    if path.is_file():
        lineage = json.loads(path.read_text(encoding="utf-8"))
        lineage["best"] = best
        write_json_atomic(path, lineage)


def event_line(event: dict) -> str:
    """The progress line of one evaluation: `eval at step 20: arith accuracy 0.375 [0.21, 0.57] format 1.000`."""
    parts = []
    for name in event["sets"]:
        acc, low, high = (
            event["row"][f"{EVAL_PREFIX}{name}/{k}"]
            for k in ("accuracy", "accuracy_ci95_low", "accuracy_ci95_high")
        )
        parts.append(
            f"{name} accuracy {acc:.3f} [{low:.2f}, {high:.2f}] format {event['row'][f'{EVAL_PREFIX}{name}/format']:.3f}"
        )
    line = f"eval at step {event['step']}: " + "; ".join(parts)
    return line + ("  (new best: saved best/)" if event.get("new_best") else "")


def start_validation(
    config: TrainConfig, sets: list[EvalSet], run_dir: Path, progress: Progress | None, resuming: bool = False
):
    """(Validator, its TrainerCallback) for a run that validates, else (None, None). A resumed run keeps the best
    point run.json recorded before it was stopped, so a worse later point does not replace best/."""
    if not sets:
        return None, None
    from lmmr1_cli.batching import trl_layout
    from lmmr1_cli.launch import world_size

    layout = trl_layout(config.batch.shape(), world_size())
    validator = Validator(config, sets, run_dir, layout.optimizer_steps_per_rollout * layout.num_iterations)
    if resuming:
        from lmmr1_cli.rundir import checkpoint_step, last_checkpoint

        validator.best = _recorded_best(run_dir, validator.metric)
        validator.evaluations = previous_evaluations(
            run_dir, sets, checkpoint_step(last_checkpoint(run_dir)) or 0
        )
    return validator, validation_callback(validator, progress)


@contextlib.contextmanager
def run_engine(trainer):
    """The run's own vLLM engine (`--use-vllm`, colocate, one GPU per engine) holding the trainer's current weights,
    else None (transformers generates). The push goes through TRL's sync_weights (and the rollout guard's checks);
    TRL pushes again before its next rollout, and a sleeping engine goes back to sleep."""
    generation = getattr(trainer, "vllm_generation", None)
    if not getattr(trainer, "use_vllm", False) or generation is None or generation.mode != "colocate":
        yield None
        return
    if trainer.args.vllm_tensor_parallel_size > 1:
        yield None  # a tensor-parallel group must generate the same prompts: evaluate with transformers
        return
    generation.sync_weights()
    if generation.enable_sleep_mode:
        generation.llm.wake_up(tags=["kv_cache"])
    try:
        yield generation.llm
    finally:
        if generation.enable_sleep_mode:
            generation.llm.sleep(level=2)
            generation._llm_weights_sleeping = True
        trainer._last_loaded_step = -1  # TRL pushes the weights again before its next rollout


def validation_callback(validator: Validator, progress: Progress | None = None):
    """A TrainerCallback that evaluates at step 0 (eval.before_training) and every eval.every_rollouts rollouts.
    Set `.trainer` once the trainer exists: the callback uses its model, processor, accelerator and log route."""
    from transformers import TrainerCallback

    class ValidationCallback(TrainerCallback):
        trainer = None

        def on_train_begin(self, args, state, control, **kwargs):
            if validator.section.before_training and state.global_step == 0:
                self._evaluate(args, state, control)

        def on_step_end(self, args, state, control, **kwargs):
            if validator.due(state.global_step):
                self._evaluate(args, state, control)

        def _evaluate(self, args, state, control):
            trainer = self.trainer
            accelerator = trainer.accelerator
            step = state.global_step
            with run_engine(trainer) as engine:
                row = validator.evaluate(
                    trainer.model,
                    trainer.processing_class,
                    step,
                    accelerator.process_index,
                    accelerator.num_processes,
                    engine,
                    sharded=is_sharded(accelerator),
                )
            new_best = _broadcast(row is not None and validator.is_better(row), accelerator.num_processes)
            if new_best:
                validator.save_best(trainer, step, row)
            if row is None:
                return
            # Through the callbacks, not trainer.log: TRL's log would fold its pending training metrics into it.
            # The handler clears should_log, which the step's own training log (after on_step_end) still needs.
            should_log = control.should_log
            trainer.callback_handler.on_log(args, state, control, row)
            control.should_log = should_log
            if progress:
                names = [p.benchmark.name for p in validator.plans]
                progress({"event": "eval", "step": step, "sets": names, "row": row, "new_best": new_best})

    return ValidationCallback()
