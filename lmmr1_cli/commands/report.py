"""`lmmr1 report`: training curves of one or more runs as PNG plots and a markdown summary."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lmmr1_cli.cli import app, console

_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 report runs/fre runs/mgt -o report/      (FRE then MGT on one step axis)\n\n"
    "  lmmr1 report runs/fre runs/mgt --eval results/ -o report/   (plus the eval comparison table)\n\n"
    "  lmmr1 report runs/fre-a runs/fre-b -o report/  (same stage: curves overlaid)"
)


@app.command("report", epilog=_EPILOG)
def report_command(
    runs: list[Path] = typer.Argument(..., help="Run dirs made by train-fre / train-mgt, in pipeline order."),
    out: Path = typer.Option(Path("report"), "-o", "--out", help="Output dir for PNGs and report.md."),
    eval_dir: Path = typer.Option(None, "--eval", help="An `lmmr1 eval -o` dir whose table to include."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output dir."),
    as_json: bool = typer.Option(False, "--json", help="Print summary.json to stdout."),
) -> None:
    """Plot reward, accuracy, format rate, KL and completion length over steps, and write report.md."""
    from lmmr1_cli.report import build_report

    summary = build_report(runs, out, force=force, eval_dir=eval_dir)
    if as_json:
        print(json.dumps(summary))
        return
    console.print(
        f"wrote {summary['output']}/report.md with {len(summary['plots'])} plots ({', '.join(summary['plots'])})",
        highlight=False,
    )
