"""`lmmr1 report`: training curves of one or more runs as PNG plots and a markdown summary."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lmmr1_cli.commands.options import ForceOpt, JsonOpt, OutDirOpt
from lmmr1_cli.commands.output import console

REPORT_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 report runs/fre runs/mgt -o report/      (FRE then MGT on one step axis)\n\n"
    "  lmmr1 report runs/fre runs/mgt --eval results/ -o report/   (plus the eval comparison table)\n\n"
    "  lmmr1 report runs/fre-a runs/fre-b -o report/  (same stage: curves overlaid)"
)


def report_command(
    runs: list[Path] = typer.Argument(..., help="Run dirs made by train-fre / train-mgt, in pipeline order."),
    out: OutDirOpt = Path("report"),
    eval_dir: Path = typer.Option(None, "--eval", help="An `lmmr1 eval -o` dir whose table to include."),
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Plot reward, accuracy, format rate, KL and completion length over steps, and write report.md."""
    from lmmr1_cli.report import build_report

    summary = build_report(runs, out, force=force, eval_dir=eval_dir)
    if as_json:
        print(json.dumps(summary))
        return
    console.print(_runs_table(summary["runs"]))
    if "eval" in summary:
        console.print(_eval_table(summary["eval"]["results"]))
        if any(r.get("paper") for per in summary["eval"]["results"].values() for r in per.values()):
            console.print(_paper_table(summary["eval"]["results"]))
    console.print(
        f"wrote {summary['output']}/report.md with {len(summary['plots'])} plots ({', '.join(summary['plots'])})",
        highlight=False,
    )


def _arrow(first, last, fmt="{:.2f}") -> str:
    if first is None or last is None:
        return "-"
    return f"{fmt.format(first)} → {fmt.format(last)}"


def _runs_table(runs: list[dict]):
    from rich.table import Table

    # Start and end are the train summary's (run_metrics.start_end): means over the first / last steps of a run
    # with 10 or more, so the heading says which, per run when runs differ.
    rules = {run["start_end"] for run in runs}
    shared = rules.pop() if len(rules) == 1 else None
    table = Table(title=f"training (start → end: {shared})" if shared else "training (start → end)")
    columns = ["run", "recipe", "steps"]
    columns += ["starts at"] if any(run.get("starts_at") for run in runs) else []
    columns += ["reward", "accuracy", "format", "s/step"] + ([] if shared else ["start → end"])
    for column in columns:
        table.add_column(column, justify="left" if column in ("run", "recipe", "starts at") else "right")
    for run in runs:
        cells = [run["label"], run["recipe"] or "-", str(run["steps"])]
        cells += [run.get("starts_at") or "-"] if "starts at" in columns else []
        cells += [
            _arrow(run["reward_first"], run["reward_last"]),
            _arrow(run["accuracy_first"], run["accuracy_last"]),
            _arrow(run["format_first"], run["format_last"]),
            "-" if run.get("seconds_per_step") is None else f"{run['seconds_per_step']:.2f}",
        ]
        table.add_row(*cells, *([] if shared else [run["start_end"]]))
    return table


def _eval_table(results: dict):
    from rich.table import Table

    table = Table(title="eval: accuracy / format rate per model")
    models = list(results)
    benchmarks = list(dict.fromkeys(b for m in models for b in results[m]))
    table.add_column("benchmark")
    for model in models:
        table.add_column(model, justify="right")
    for bench in benchmarks:
        cells = []
        for model in models:
            r = results[model].get(bench)
            cells.append("-" if r is None else f"{100 * r['accuracy']:.1f}% / {100 * r['format_rate']:.0f}%")
        table.add_row(bench, *cells)
    return table


def _paper_table(results: dict):
    """Measured accuracy with its 95% CI beside the paper's numbers (an `eval --protocol paper` dir)."""
    from rich.table import Table

    table = Table(title="eval vs the paper (arXiv 2503.07536): accuracy %, 95% CI")
    for name in ("model", "benchmark", "accuracy", "95% CI", "judge", "paper base", "paper recipe"):
        table.add_column(name, justify="left" if name in ("model", "benchmark") else "right")
    for model, per_bench in results.items():
        for bench, r in per_bench.items():
            ref = r.get("paper")
            if not ref:
                continue
            low, high = r["ci95"]
            judge = "-" if r.get("judge_accuracy") is None else f"{100 * r['judge_accuracy']:.1f}"
            mine = (
                "-" if ref.get("recipe_result") is None else f"{ref['recipe_result']:.1f} ({ref['recipe']})"
            )
            table.add_row(
                model, bench, f"{100 * r['accuracy']:.1f}", f"{100 * low:.1f}-{100 * high:.1f}", judge,
                f"{ref['baseline']:.1f}", mine,
            )  # fmt: skip
    return table
