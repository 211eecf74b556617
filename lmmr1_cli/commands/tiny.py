"""`lmmr1 tiny`: where the shipped tiny model is and its sha256; `--rebuild` builds one from scratch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lmmr1_cli.commands.options import ForceOpt, JsonOpt
from lmmr1_cli.commands.output import console
from lmmr1_cli.commands.progress import progress_spinner
from lmmr1_cli.errors import ConfigError

TINY_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 tiny                                   (the shipped model: path, version, sha256, checked)\n\n"
    "  lmmr1 tiny --rebuild -o tiny-rebuilt         (build from scratch, ~62 s on one core; prints the sha256)\n\n"
    "  lmmr1 eval --model tiny-rebuilt --benchmark data/arith-test -o results/   (use a rebuild anywhere)"
)


def tiny_command(
    rebuild: Annotated[
        bool,
        typer.Option("--rebuild", help="Build the tiny model from scratch into -o instead of showing it."),
    ] = False,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Output dir of --rebuild.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Build seed (the shipped build: 0).")] = 0,
    warmup_steps: Annotated[
        int | None,
        typer.Option("--warmup-steps", min=1, help="Format warm-up steps (default: the shipped 600)."),
    ] = None,
    align_steps: Annotated[
        int | None,
        typer.Option("--align-steps", min=1, help="Vision alignment steps (default: the shipped 800)."),
    ] = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the tiny model `--model tiny` uses (shipped inside lmmr1, identical on every machine), or rebuild it.
    A rebuild matches the shipped sha256 only with the shipped build's seed, steps, library versions and CPU kind
    (float sums differ between AVX2 and AVX-512 kernels)."""
    from lmmr1_cli import tiny

    if not rebuild:
        if out is not None:
            raise ConfigError("-o is for --rebuild (the shipped model is not written anywhere)")
        info = tiny.shipped_tiny_model()
    else:
        if out is None:
            raise ConfigError("--rebuild needs -o DIR: where to write the new build")
        steps = {
            "warmup_steps": warmup_steps or tiny.WARMUP_STEPS,
            "align_steps": align_steps or tiny.ALIGN_STEPS,
        }
        with progress_spinner("building the tiny model", disable=as_json) as show_step:
            info = tiny.rebuild_tiny_model(out, seed, force=force, progress=show_step, **steps)
    if as_json:
        print(json.dumps(info))
        return
    _render(info, rebuild)


def _render(info: dict, rebuilt: bool) -> None:
    what = "rebuilt" if rebuilt else "shipped"
    console.print(
        f"{what} tiny model v{info['tiny_version']} (seed {info['seed']}, {info['parameters']:,} parameters) "
        f"in {info['output']}",
        highlight=False,
    )
    console.print(f"sha256 {info['sha256']}", highlight=False)
    if info["identical_to_shipped"]:
        console.print("identical to the shipped build" + ("" if rebuilt else " (checked)"), highlight=False)
    else:
        console.print(
            f"differs from the shipped build ({info['shipped_sha256'][:12]}): another seed, step count, library "
            "version or CPU kind; use it with --model/--init DIR",
            highlight=False,
        )
