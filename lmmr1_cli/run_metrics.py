"""metrics.jsonl: one line per logged training step, and the numbers a run summary reports from it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from transformers import TrainerCallback

# TRL names a reward column after its function: rewards/<function name>/mean.
FORMAT_KEY = "rewards/format_reward/mean"
ACCURACY_KEY = "rewards/accuracy_reward/mean"


def read_metrics(path: Path) -> list[dict]:
    if not Path(path).is_file():
        return []
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def _truncate_after(path: Path, step: int) -> None:
    """On resume, drop lines logged after the checkpoint: those steps are about to be trained again."""
    kept = [row for row in read_metrics(path) if row.get("step", 0) <= step]
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")
    tmp.replace(path)


class MetricsCallback(TrainerCallback):
    """Appends each training log to metrics.jsonl and feeds the CLI's progress bar."""

    def __init__(
        self, path: Path, progress: Callable[[dict], None] | None = None, resume_step: int | None = None
    ):
        self.path = Path(path)
        self.progress = progress
        self.resume_step = resume_step
        self._last_time: float | None = None
        self._last_tokens: float | None = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.resume_step is not None and self.path.exists():
            _truncate_after(self.path, self.resume_step)
        self._last_time = time.time()
        if self.progress:
            self.progress({"event": "begin", "max_steps": state.max_steps, "step": state.global_step})

    def on_log(self, args, state, control, logs=None, **kwargs):
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


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize_metrics(path: Path, window: int = 5) -> dict:
    """Reward, accuracy and format rate averaged over the first and last `window` logged steps."""
    rows = [r for r in read_metrics(path) if "reward" in r]
    if not rows:
        return {}
    head, tail = rows[:window], rows[-window:]
    out = {"logged_steps": len(rows)}
    for name, key in (("reward", "reward"), ("accuracy", ACCURACY_KEY), ("format", FORMAT_KEY)):
        out[f"{name}_start"] = _mean([r[key] for r in head if key in r])
        out[f"{name}_end"] = _mean([r[key] for r in tail if key in r])
    out["seconds_per_step"] = _mean([r["seconds_per_step"] for r in rows[1:] or rows])
    return out
