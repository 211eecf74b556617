"""metrics.jsonl: one line per logged training step, and the numbers a run summary reports from it.

transformers is imported only inside `metrics_callback`, so importing this module (and train.py) stays cheap and
a bad command line fails before the heavy imports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from lmmr1_cli.atomic import write_jsonl_atomic
from lmmr1_cli.defaults import ACCURACY_METRIC, FORMAT_METRIC, REWARD_METRIC
from lmmr1_cli.rundir import read_metrics


def truncate_after(path: Path, step: int) -> None:
    """On resume, drop lines logged after the checkpoint: those steps are about to be trained again."""
    write_jsonl_atomic(path, [row for row in read_metrics(path) if row.get("step", 0) <= step])


class MetricsRecorder:
    """Appends each training log to metrics.jsonl and feeds the CLI's progress bar (rank 0 only)."""

    def __init__(
        self, path: Path, progress: Callable[[dict], None] | None = None, resume_step: int | None = None
    ):
        self.path = Path(path)
        self.progress = progress
        self.resume_step = resume_step
        self._last_time: float | None = None
        self._last_tokens: float | None = 0.0

    def begin(self, state) -> None:
        if state.is_world_process_zero and self.resume_step is not None and self.path.exists():
            truncate_after(self.path, self.resume_step)
        self._last_time = time.time()
        if self.progress:
            self.progress({"event": "begin", "max_steps": state.max_steps, "step": state.global_step})

    def log(self, args, state, logs: dict | None) -> None:
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return
        now = time.time()
        row = {"step": state.global_step, "epoch": state.epoch, **logs}
        elapsed = now - self._last_time
        row["seconds_per_step"] = round(elapsed / max(args.logging_steps, 1), 4)
        if "num_tokens" in logs and self._last_tokens is not None and elapsed > 0:
            # TRL logs a running total of prompt + completion tokens; the rate is what users compare across setups.
            row["tokens_per_second"] = round((logs["num_tokens"] - self._last_tokens) / elapsed, 1)
        self._last_tokens = logs.get("num_tokens", self._last_tokens)
        self._last_time = now
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.progress:
            self.progress({"event": "log", "max_steps": state.max_steps, **row})


def metrics_callback(
    path: Path, progress: Callable[[dict], None] | None = None, resume_step: int | None = None
):
    """A transformers TrainerCallback that records into metrics.jsonl (see MetricsRecorder)."""
    from transformers import TrainerCallback

    recorder = MetricsRecorder(path, progress, resume_step)

    class MetricsCallback(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            recorder.begin(state)

        def on_log(self, args, state, control, logs=None, **kwargs):
            recorder.log(args, state, logs)

    return MetricsCallback()


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize_metrics(path: Path, window: int = 5) -> dict:
    """Reward, accuracy and format rate averaged over the first and last `window` logged steps."""
    rows = [r for r in read_metrics(path) if REWARD_METRIC in r]
    if not rows:
        return {}
    head, tail = rows[:window], rows[-window:]
    out = {"logged_steps": len(rows)}
    for name, key in (("reward", REWARD_METRIC), ("accuracy", ACCURACY_METRIC), ("format", FORMAT_METRIC)):
        out[f"{name}_start"] = _mean([r[key] for r in head if key in r])
        out[f"{name}_end"] = _mean([r[key] for r in tail if key in r])
    out["seconds_per_step"] = _mean([r["seconds_per_step"] for r in rows[1:] or rows])
    return out
