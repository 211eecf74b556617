"""`build_report`: training runs -> PNG plots of reward, accuracy, format rate, KL and completion length over
steps (smoothed over the raw points), the GRPO health curves TRL logs (frac_reward_zero_std, entropy, clip ratio,
learning rate), an eval chart with `--eval`, and a markdown summary that embeds them.

Runs of different stages given in pipeline order (FRE, then MGT) share one step axis: each stage starts at the
step of the model it was initialised from (the FRE run's last step for its final model, N for checkpoint-N, the
best point for `RUN@best`), with a dashed line at the handoff and each stage's own step range above it,
which is how the LMM-R1 paper reads; runs are put in lineage order (run.json's init) whatever order they are given
in. Runs of the same stage are overlaid from step 0 so they can be compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lmmr1_cli.atomic import atomic_dir, write_json_atomic, write_text_atomic
from lmmr1_cli.defaults import ACCURACY_METRIC, FORMAT_METRIC, REWARD_METRIC
from lmmr1_cli.errors import DataError, OutputExistsError
from lmmr1_cli.report_plots import (
    EVAL_PLOT,
    HEALTH_PLOTS,
    STEP_TIME_PLOT,
    VALIDATION_PLOT,
    plot_curves,
    plot_eval,
    plot_step_time,
    plot_validation,
)
from lmmr1_cli.run_metrics import START_END_RULE, mean_seconds_per_step, start_end, start_end_label
from lmmr1_cli.rundir import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    LINEAGE_FILE,
    METRICS_FILE,
    SUMMARY_FILE,
    checkpoint_step,
    read_metrics,
)
from lmmr1_cli.step_timing import STEP_PARTS

# (file stem, title, metrics.jsonl key); TRL names reward columns after the reward function.
PLOTS = (
    ("reward", "reward (0.5 x format + 1.0 x accuracy)", REWARD_METRIC),
    ("accuracy", "accuracy reward", ACCURACY_METRIC),
    ("format", "format rate", FORMAT_METRIC),
    ("kl", "KL to the reference model", "kl"),
    ("completion_length", "mean completion length (tokens)", "completions/mean_length"),
)
REPORT_FILE = "report.md"


@dataclass
class RunCurves:
    label: str
    stage: str
    recipe: str
    path: Path
    rows: list[dict]
    offset: int = 0  # steps before this run on the shared axis
    init: str | None = None  # run.json's resolved_init: the model this run started from
    best_step: int | None = None  # run.json's best validation point (what `RUN@best` names)
    handoff: str | None = None  # chained: where on the stage before it this run started, e.g. "FRE step 0"
    validation: list[dict] = field(default_factory=list)  # eval/... rows (validation during training)

    def series(self, key: str) -> tuple[list[float], list[float]]:
        points = [(r["step"] + self.offset, r[key]) for r in self.rows if key in r and r[key] is not None]
        return [p[0] for p in points], [p[1] for p in points]


def load_run(run_dir: Path) -> RunCurves:
    run_dir = Path(run_dir)
    metrics = run_dir / METRICS_FILE
    if not metrics.is_file():
        raise DataError(f"{run_dir}: no {METRICS_FILE} (is it a run dir from `lmmr1 train-fre/train-mgt`?)")
    logged = read_metrics(metrics)
    rows = [r for r in logged if "step" in r and REWARD_METRIC in r]
    validation = [r for r in logged if "step" in r and any(k.startswith("eval/") for k in r)]
    if not rows:
        raise DataError(f"{metrics}: no logged training steps")
    lineage = {}
    if (run_dir / LINEAGE_FILE).is_file():
        lineage = json.loads((run_dir / LINEAGE_FILE).read_text(encoding="utf-8"))
    stage = str(lineage.get("stage") or "run")
    label = f"{stage.upper()} ({run_dir.resolve().name})"
    init = lineage.get("resolved_init")
    run = RunCurves(label, stage, str(lineage.get("recipe") or "-"), run_dir, rows, init=init)
    run.validation = validation
    best = lineage.get("best")
    run.best_step = best.get("step") if isinstance(best, dict) else None
    return run


def parent_run(run: RunCurves, runs: list[RunCurves]) -> RunCurves | None:
    """The run among `runs` whose dir holds the model `run` started from (run.json's resolved_init)."""
    if not run.init:
        return None
    init = Path(run.init).resolve()
    for other in runs:
        root = other.path.resolve()
        if other is not run and (init == root or root in init.parents):
            return other
    return None


def handoff_step(parent: RunCurves, init: str) -> int:
    """The parent's step the child started from: checkpoint-N is N, best/ the step run.json recorded for it,
    final/ (or the run dir) the parent's last logged step."""
    last = parent.rows[-1]["step"]
    inside = Path(init).resolve().relative_to(parent.path.resolve()).parts
    if len(inside) >= 2 and inside[0] == CHECKPOINTS_DIR:
        return checkpoint_step(Path(inside[1])) or 0
    if inside[:1] == (BEST_DIR,) and parent.best_step is not None:
        return int(parent.best_step)
    return last


def lay_end_to_end(runs: list[RunCurves]) -> None:
    """Offsets for chained stages: a run starts at the step of the parent's model it was initialised from (an
    MGT run from `fre@best` at step 0 branches at 0), else after the last step of the run before it."""
    for before, run in zip(runs, runs[1:], strict=False):
        parent = parent_run(run, runs)
        if parent is not None and run.init:
            step = handoff_step(parent, run.init)
            run.offset = parent.offset + step
            run.handoff = f"{parent.stage.upper()} step {step}"
        else:
            run.offset = before.offset + before.rows[-1]["step"]
            run.handoff = f"{before.stage.upper()} step {before.rows[-1]['step']}"


def order_by_lineage(runs: list[RunCurves]) -> list[RunCurves]:
    """Parents before children (run.json's `resolved_init` lies inside the parent's run dir), otherwise the order
    given: `report runs/mgt runs/fre` plots FRE first, as the pipeline ran."""

    def depth(run: RunCurves, seen: tuple = ()) -> int:
        up = parent_run(run, runs)
        return 0 if up is None or up in seen else 1 + depth(up, (*seen, run))

    return sorted(runs, key=depth)  # stable: runs at the same depth keep the order given


def _chain(runs: list[RunCurves]) -> bool:
    """Different stages in order: lay them end to end on one axis."""
    stages = [r.stage for r in runs]
    return len(runs) > 1 and len(set(stages)) == len(stages)


def plot_metric(runs: list[RunCurves], key: str, title: str, path: Path, chained: bool) -> bool:
    """One PNG, smoothed over raw points (report_plots.plot_curves); False (and no file) when no run logged `key`."""
    return plot_curves(runs, [key], title, path, chained)


def _plots(runs: list[RunCurves], chained: bool, eval_summary: dict | None, staging: Path) -> list[tuple]:
    """Draw every plot some run logged: the summary metrics, GRPO health, the eval chart; (stem, title) each."""
    drawn = [
        (stem, title)
        for stem, title, key in PLOTS
        if plot_metric(runs, key, title, staging / f"{stem}.png", chained)
    ]
    drawn += [
        (stem, f"GRPO health: {title}")
        for stem, title, keys in HEALTH_PLOTS
        if plot_curves(runs, keys, title, staging / f"{stem}.png", chained)
    ]
    if plot_step_time(runs, STEP_PARTS, staging / f"{STEP_TIME_PLOT}.png", chained):
        drawn.append((STEP_TIME_PLOT, "where a step's time goes: generation, verifier, optimizer"))
    if plot_validation(runs, staging / f"{VALIDATION_PLOT}.png", chained):
        drawn.append((VALIDATION_PLOT, "validation during training: held-out accuracy (95% CI)"))
    if eval_summary is not None and plot_eval(eval_summary, staging / f"{EVAL_PLOT}.png"):
        drawn.append((EVAL_PLOT, "evaluation: accuracy per benchmark and model (95% CI)"))
    return drawn


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def _run_summary(run: RunCurves) -> dict:
    """Start and end as the train summary computes them (run_metrics.start_end), stored as `_first`/`_last`."""
    out = {"label": run.label, "stage": run.stage, "recipe": run.recipe, "path": str(run.path)}
    out["steps"] = run.rows[-1]["step"]
    out["starts_at"] = run.handoff  # chained: e.g. "FRE step 0" for an MGT run from fre@best
    out["seconds_per_step"] = mean_seconds_per_step(run.rows)
    out["start_end"] = start_end_label(len(run.rows))
    for stem, _, key in PLOTS:
        out[f"{stem}_first"], out[f"{stem}_last"] = start_end(run.rows, key)
    return out


def load_eval(results_dir: Path) -> tuple[dict, str]:
    """summary.json and the comparison table that `lmmr1 eval -o results_dir` wrote."""
    from lmmr1_cli.evaluation.comparison import comparison_markdown

    path = Path(results_dir) / SUMMARY_FILE
    if not path.is_file():
        raise DataError(f"{results_dir}: no {SUMMARY_FILE} (is it an `lmmr1 eval -o` dir?)")
    summary = json.loads(path.read_text(encoding="utf-8"))
    return summary, comparison_markdown(summary)


def _markdown(
    summaries: list[dict], plots: list[tuple[str, str]], chained: bool, eval_table: str | None = None
) -> str:
    lines = ["# Training report", ""]
    lines.append(
        "Stages are laid end to end on one step axis (dashed line: handoff)."
        if chained
        else "Runs are overlaid from step 0."
    )
    lines += [
        "",
        "| run | recipe | steps | starts at | reward | accuracy | format | KL | length |",
        "|---|---|---:|---|---|---|---|---|---|",
    ]
    for s in summaries:
        cells = [f"{_fmt(s[f'{stem}_first'])} → {_fmt(s[f'{stem}_last'])}" for stem, _, _ in PLOTS]
        start = s.get("starts_at") or "-"
        lines.append(f"| {s['label']} | {s['recipe']} | {s['steps']} | {start} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{START_END_RULE[0].upper()}{START_END_RULE[1:]}, as in each run's train summary.")
    if eval_table:
        lines += ["", "## Evaluation", "", eval_table.rstrip()]
    lines += ["", "Curves: raw per-step values faint, their exponential moving average bold."]
    for stem, title in plots:
        lines += ["", f"## {title}", "", f"![{title}]({stem}.png)"]
    return "\n".join(lines) + "\n"


def build_report(
    run_dirs: list[Path], out_dir: Path, force: bool = False, eval_dir: Path | None = None
) -> dict:
    """Write `out_dir/{reward,accuracy,format,kl,completion_length}.png`, `report.md` and `summary.json`;
    with `eval_dir` (an `lmmr1 eval -o` dir) the report also carries its comparison table."""
    if not run_dirs:
        raise DataError("give at least one run dir")
    out_dir = Path(out_dir)
    if out_dir.exists() and not force:
        raise OutputExistsError(f"{out_dir} exists (use --force to replace it)")
    runs = order_by_lineage([load_run(Path(d)) for d in run_dirs])
    eval_summary, eval_table = load_eval(eval_dir) if eval_dir is not None else (None, None)
    chained = _chain(runs)
    if chained:
        lay_end_to_end(runs)
    with atomic_dir(out_dir) as staging:
        plots = _plots(runs, chained, eval_summary, staging)
        summaries = [_run_summary(r) for r in runs]
        summary = {"runs": summaries, "plots": [f"{stem}.png" for stem, _ in plots], "chained": chained}
        if eval_summary is not None:
            summary["eval"] = {"dir": str(eval_dir), "results": eval_summary["results"]}
        write_text_atomic(staging / REPORT_FILE, _markdown(summaries, plots, chained, eval_table))
        write_json_atomic(staging / SUMMARY_FILE, summary)
    summary["output"] = str(out_dir)
    return summary
