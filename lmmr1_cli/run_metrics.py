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
        self._rows: list[
            dict
        ] = []  # logged so far (a resumed run's earlier steps included), for the progress bar

    def begin(self, state) -> None:
        if state.is_world_process_zero and self.resume_step is not None and self.path.exists():
            truncate_after(self.path, self.resume_step)
        self._rows = read_metrics(self.path) if state.is_world_process_zero else []
        self._last_time = time.time()
        if self.progress:
            self.progress({"event": "begin", "max_steps": state.max_steps, "step": state.global_step})

    def log(self, args, state, logs: dict | None) -> None:
        if not state.is_world_process_zero or not logs or "train_runtime" in logs:
            return
        if all(key.startswith("eval/") for key in logs):
            # A validation row (validation.py): no step timing, so the training rows' timing stays the steps'.
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")
            if self._last_time is not None:
                self._last_time += logs.get("eval/seconds", 0.0)
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
            self._rows.append(row)
            # The running end value, by the same definition the final summary uses.
            summary = summarize_rows(self._rows)
            self.progress({"event": "log", "max_steps": state.max_steps, **row, "summary": summary})


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


# The one definition of a run's start and end that the train summary, the progress bar and `lmmr1 report` share:
# the mean of the first / last `start_end_window(n)` of its n logged steps. Up to END_WINDOW steps, never more
# than half of them, so start and end never share a step (a 2-step run compares step 1 with step 2).
END_WINDOW = 5
SUMMARY_METRICS = (("reward", REWARD_METRIC), ("accuracy", ACCURACY_METRIC), ("format", FORMAT_METRIC))


START_END_RULE = (
    f"start → end: mean of the first / last {END_WINDOW} logged steps "
    f"(of half the steps for runs under {2 * END_WINDOW})"
)


def start_end_window(logged_steps: int) -> int:
    return max(1, min(END_WINDOW, logged_steps // 2))


def start_end_label(logged_steps: int) -> str:
    """What start and end mean for a run of `logged_steps` logged steps (for table headers)."""
    window = start_end_window(logged_steps)
    if logged_steps <= 1:
        return "start = end: one logged step"
    return "first / last logged step" if window == 1 else f"mean of first / last {window} logged steps"


def start_end(rows: list[dict], key: str) -> tuple[float | None, float | None]:
    """(start, end) of `key` over logged rows, by the shared definition above."""
    values = [r[key] for r in rows if r.get(key) is not None]
    if not values:
        return None, None
    window = start_end_window(len(values))
    return sum(values[:window]) / window, sum(values[-window:]) / window


def mean_seconds_per_step(rows: list[dict]) -> float | None:
    """Mean wall time per step, leaving out the first logged step (it carries start-up) when there are others."""
    times = [r["seconds_per_step"] for r in rows if r.get("seconds_per_step") is not None]
    return _mean(times[1:] or times)


def summarize_rows(rows: list[dict]) -> dict:
    """Start/end reward, accuracy and format rate and seconds per step of logged rows (summary and progress)."""
    rows = [r for r in rows if REWARD_METRIC in r]
    if not rows:
        return {}
    out: dict = {"logged_steps": len(rows), "start_end": start_end_label(len(rows))}
    for name, key in SUMMARY_METRICS:
        start, end = start_end(rows, key)
        out[f"{name}_start"] = None if start is None else round(start, 4)
        out[f"{name}_end"] = None if end is None else round(end, 4)
    out["seconds_per_step"] = mean_seconds_per_step(rows)
    return out


def summarize_metrics(path: Path) -> dict:
    """summarize_rows over a run's metrics.jsonl."""
    return summarize_rows(read_metrics(path))
