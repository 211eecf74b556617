"""`lmmr1 mix-data`: several prepared dataset dirs -> one (e.g. MGT pictures plus a share of FRE's text rows)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from lmmr1_cli.commands.options import DatasetOutOpt, ForceOpt, JsonOpt
from lmmr1_cli.commands.output import console
from lmmr1_cli.errors import ConfigError

MIX_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 mix-data data/picture-train:192 data/text-train:64 -o data/mgt-train\n\n"
    "  lmmr1 mix-data data/geo-train data/deepscaler-train:2000 --seed 1 -o data/mgt-mix"
)


def mix_data(
    parts: list[str] = typer.Argument(
        ..., help="Prepared dataset dirs (from `lmmr1 prepare-data`), each DIR or DIR:N (its first N rows)."
    ),
    out: DatasetOutOpt = None,
    seed: int = typer.Option(0, "--seed", help="Seed of the shuffle that interleaves the parts' rows."),
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Mix prepared datasets into one dataset dir: the rows (and images) of each part, shuffled together. Train
    MGT on pictures plus some of FRE's text rows so that it keeps rehearsing the text skill."""
    from lmmr1_cli.data.mix import MixPart, mix_datasets

    if out is None:
        raise ConfigError("missing -o/--out: where to write the mixed dataset dir")
    result = mix_datasets([MixPart.parse(p) for p in parts], out, seed=seed, force=force)
    manifest = result.manifest
    if as_json:
        print(json.dumps({**manifest, "out_dir": str(result.out_dir), "seconds": round(result.seconds, 3)}))
        return
    table = Table(title=f"mix-data -> {result.out_dir}")
    for column in ("part", "recipe", "split", "rows", "images"):
        table.add_column(column, no_wrap=column != "part", overflow="fold")
    for source in manifest["sources"]:
        table.add_row(
            source["mix_part"], str(source["recipe"]), str(source["split"]), str(source["rows"]),
            "yes" if source["images"] else "no",
        )  # fmt: skip
    console.print(table)
    counts = manifest["counts"]
    console.print(
        f"[green]wrote[/green] {result.out_dir}: {counts['kept']} rows, {counts['images']} images "
        f"(seed {seed}) in {result.seconds:.1f}s",
        highlight=False,
    )
