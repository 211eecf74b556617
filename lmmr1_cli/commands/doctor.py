"""`lmmr1 doctor`: the environment against lmmr1's ranges and lock, and whether a given launch can start here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from lmmr1_cli.commands.options import AccelerateConfigOpt, JsonOpt, NumProcessesOpt, UseVllmOpt, VllmModeOpt
from lmmr1_cli.commands.output import console

DOCTOR_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 doctor                                         (this environment; exit 2 if lmmr1 is broken)\n\n"
    "  lmmr1 doctor --json\n\n"
    "  lmmr1 doctor --recipe fre-text --num-processes 8 --accelerate-config zero2    (can this launch start?)\n\n"
    "  lmmr1 doctor --recipe tiny-mgt --use-vllm --data data/geo-train      (also the checks on that dataset)"
)


def doctor_command(
    recipe: Annotated[
        str | None,
        typer.Option(
            "--recipe", help="Also check a training launch with this recipe (exit 2 if it cannot start)."
        ),
    ] = None,
    num_processes: NumProcessesOpt = 1,
    accelerate_config: AccelerateConfigOpt = None,
    use_vllm: UseVllmOpt = False,
    vllm_mode: VllmModeOpt = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="With --recipe: the dataset dir the launch would train on (checked too)."
        ),
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="With --recipe: key=value overrides, as train-* takes them.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Python, torch, CUDA and GPUs; each key package against lmmr1's range and the lock; the optional parts
    (vLLM, DeepSpeed, flash-attn); what will not work and the command that fixes it."""
    from lmmr1_cli.doctor import environment_report
    from lmmr1_cli.doctor_launch import launch_report

    report = environment_report()
    if recipe is not None:
        report["launch"] = launch_report(
            recipe, num_processes, accelerate_config, use_vllm, vllm_mode, data, overrides or []
        )
    failed = not report["ok"] or not report.get("launch", {"ok": True})["ok"]
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        _render(report)
    if failed:
        raise typer.Exit(2)


def _render(report: dict) -> None:
    torch_info = report["torch"]
    lines = [
        f"python  {report['python']['version']}  ({report['python']['executable']})",
        f"lmmr1   {report['lmmr1']['version']}  ({report['lmmr1']['location']})",
        f"lock    {report['lock']['name']}  ({report['lock']['path']})",
        f"torch   {torch_info['version']}  CUDA build {torch_info['cuda'] or 'none'}, driver "
        f"{torch_info['driver'] or 'none'}, GPU {'available' if torch_info['cuda_available'] else 'not available'}",
    ]
    lines += [
        f"gpu {gpu['index']}   {gpu['name']}, {gpu['memory_gib']} GiB, compute {gpu['compute_capability']}"
        for gpu in torch_info["gpus"]
    ]
    for line in lines:
        console.print(line, highlight=False)
    table = Table(show_header=True, title=None)
    for column in ("package", "installed", "lock", "lmmr1 needs", "status"):
        table.add_column(column)
    for row in report["packages"]:
        table.add_row(
            row["name"], row["installed"] or "-", row["locked"] or "-", row["required"] or "-", row["status"]
        )
    for row in report["optional"]:
        status = "ok" if row["importable"] else row["detail"]
        table.add_row(f"{row['name']} (optional)", row["installed"] or "-", row["locked"] or "-", "", status)
    console.print(table)
    for problem in report["problems"]:
        console.print(
            f"{problem['severity']}: {problem['what']}\n  fix: {problem['fix']}",
            highlight=False,
            markup=False,
        )
    if not report["problems"]:
        console.print("nothing to fix", highlight=False)
    launch = report.get("launch")
    if launch is None:
        return
    console.print(f"launch: {' '.join(launch['argv'])}", highlight=False, markup=False)
    for check in launch["checks"]:
        mark = "ok  " if check["ok"] else "FAIL"
        console.print(f"  {mark} {check['name']}: {check['detail']}", highlight=False, markup=False)
    verdict = "can start here" if launch["ok"] else "cannot start here"
    console.print(f"verdict: this launch {verdict}", highlight=False)
