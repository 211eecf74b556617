"""The run dir a training stage writes, and everything that names its parts.

    RUN/checkpoints/checkpoint-N   TRL checkpoints (`trainer_state.json` is written last: it marks a complete one)
    RUN/final/                     model + processor, written atomically (train-mgt --init, eval, export read it)
    RUN/best/                      the model at the best validation point (validation.py), named `RUN@best`
    RUN/metrics.jsonl              one line per logged training step
    RUN/run.json                   lineage: recipe, resolved config, init model, data hash, versions
    RUN/summary.json               what the CLI prints at the end

Cheap to import (no torch/transformers): the CLI, the model resolver and the report all read these names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lmmr1_cli.atomic import atomic_dir
from lmmr1_cli.defaults import REWARD_METRIC
from lmmr1_cli.errors import ConfigError, DataError, OutputExistsError

FINAL_DIR = "final"
BEST_DIR = "best"
BEST_SUFFIX = "@best"  # `RUN@best` names RUN/best/ wherever a model is named (modeling.resolve_model)
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_PREFIX = "checkpoint-"
METRICS_FILE = "metrics.jsonl"
LINEAGE_FILE = "run.json"
SUMMARY_FILE = "summary.json"
TRAINER_STATE_FILE = "trainer_state.json"  # inside a checkpoint; written last, so it marks a complete one


def checkpoint_step(checkpoint: Path | None) -> int | None:
    """N of `checkpoint-N` (None for no checkpoint)."""
    return int(Path(checkpoint).name.split("-")[-1]) if checkpoint else None


def last_checkpoint(run_dir: Path) -> Path | None:
    """Newest complete `checkpoint-N` of a run (TRL writes `trainer_state.json` last, so it marks completeness)."""
    ckpt_root = Path(run_dir) / CHECKPOINTS_DIR
    if not ckpt_root.is_dir():
        return None
    done = [
        p
        for p in ckpt_root.glob(f"{CHECKPOINT_PREFIX}*")
        if p.name.split("-")[-1].isdigit() and (p / TRAINER_STATE_FILE).is_file()
    ]
    return max(done, key=checkpoint_step, default=None)


def finished_summary(run_dir: Path, max_steps: int | None = None) -> dict | None:
    """summary.json of a run that finished (final/ written, no checkpoint past it), else None.

    `max_steps` (a resume's run.max_steps, when > 0) above the finished step count means the run is to go on.
    """
    run_dir = Path(run_dir)
    path = run_dir / SUMMARY_FILE
    if not path.is_file() or not (run_dir / FINAL_DIR).is_dir():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    steps = summary.get("steps") if isinstance(summary, dict) else None
    if not isinstance(steps, int) or (checkpoint_step(last_checkpoint(run_dir)) or 0) > steps:
        return None  # killed after a later checkpoint: the run was resumed past this summary
    if max_steps is not None and max_steps > steps:
        return None
    return summary


def prepare_run_dir(run_dir: Path, force: bool, resume: bool) -> Path | None:
    """Check the output dir; returns the checkpoint to resume from, if any.

    With --force an existing run is *not* removed here: `clear_run_dir` does that once the new model has loaded,
    so a start that fails keeps the old run.
    """
    run_dir = Path(run_dir)
    if resume:
        checkpoint = last_checkpoint(run_dir)
        if checkpoint is None:
            raise nothing_to_resume(run_dir)
        return checkpoint
    if run_dir.exists() and any(run_dir.iterdir()) and not force:
        raise existing_run(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    return None


def existing_run(run_dir: Path) -> OutputExistsError:
    """The refusal of a non-empty output dir without --resume or --force: what is there, and the command that
    keeps the work (--resume) before the one that deletes it (--force)."""
    run_dir = Path(run_dir)
    checkpoint = last_checkpoint(run_dir)
    finished = finished_summary(run_dir)
    if finished is not None:
        return OutputExistsError(
            f"{run_dir}: holds a finished run ({finished['steps']} steps, model in {run_dir / FINAL_DIR}); to "
            f"train it further pass --resume --allow-config-change run.max_steps=MORE, to start over pass --force "
            f"(deletes it), or choose another -o"
        )
    if checkpoint is not None:
        return OutputExistsError(
            f"{run_dir}: holds an unfinished run (last checkpoint {checkpoint.name}, step "
            f"{checkpoint_step(checkpoint)}); pass --resume to continue it from there, or --force to start over "
            f"(deletes it)"
        )
    if (run_dir / LINEAGE_FILE).is_file():
        return OutputExistsError(
            f"{run_dir}: holds a run that stopped before its first checkpoint (nothing to resume); pass --force "
            f"to start it over, or choose another -o"
        )
    return OutputExistsError(
        f"{run_dir}: output dir exists and is not empty (no lmmr1 run in it); choose another -o, or pass "
        f"--force to replace its contents"
    )


def nothing_to_resume(run_dir: Path) -> ConfigError:
    """The refusal of --resume where no complete checkpoint exists, saying why and what to run instead."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or not any(run_dir.iterdir()):
        return ConfigError(
            f"--resume: {run_dir} holds no run to resume; drop --resume to start a new run there"
        )
    return ConfigError(
        f"--resume: no complete checkpoint under {run_dir / CHECKPOINTS_DIR} (the run stopped before its first "
        f"checkpoint, so nothing can be resumed); start it over with --force instead of --resume"
    )


def clear_run_dir(run_dir: Path) -> None:
    """Empty a run dir that --force replaces (called once the new run has everything it needs to start)."""
    run_dir = Path(run_dir)
    for child in list(run_dir.iterdir()) if run_dir.is_dir() else []:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)


def save_final(trainer, run_dir: Path) -> Path:
    """Write final/ (model + processor) through a staging dir: a killed run never leaves a half model that
    --init would accept."""
    final = Path(run_dir) / FINAL_DIR
    if not trainer.accelerator.is_main_process:
        # Under ZeRO-3 and FSDP the save gathers the sharded weights, a collective every rank joins (a rank-0-only
        # save hung the run at its end); transformers writes only on rank 0, so this rank writes nothing.
        trainer.save_model(str(final))
        return final
    with atomic_dir(final) as staging:
        trainer.save_model(str(staging))
        trainer.processing_class.save_pretrained(str(staging))
    return final


def read_metrics(path: Path) -> list[dict]:
    """metrics.jsonl rows ([] when the file is missing); a malformed line is a DataError naming file:line."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        for key in ("step", REWARD_METRIC):
            value = row.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise DataError(f"{path}:{number}: '{key}' must be a number, got {type(value).__name__}")
        rows.append(row)
    return rows
