"""`lmmr1 prepare-data`: any known source format -> one validated canonical dataset dir."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from lmmr1_cli.commands.options import DatasetOutOpt, ForceOpt, JsonOpt, MinPixelsOpt
from lmmr1_cli.commands.output import console
from lmmr1_cli.commands.progress import progress_bar
from lmmr1_cli.defaults import PREPARE_MAX_PROMPT_TOKENS
from lmmr1_cli.errors import ConfigError

PREPARE_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 prepare-data synthetic-arith --split train --limit 256 -o data/arith-train\n\n"
    "  lmmr1 prepare-data geometry3k --source ./geometry3k_parquet_dir -o data/geo3k\n\n"
    "  lmmr1 prepare-data ./my_rows.jsonl -o data/mine      (format told from all rows' keys)\n\n"
    "  lmmr1 prepare-data vermulti-geo --source v/mathv_geo_message.jsonl --max-pixels 1003520 -o data/geo\n\n"
    "  lmmr1 prepare-data --list"
)


def prepare_data(
    recipe: str = typer.Argument(
        None, help="Data recipe name (see --list), a recipe YAML file, or a data path/HF id."
    ),
    out: DatasetOutOpt = None,
    split: str = typer.Option(None, "--split", help="Split to read (default: the recipe's)."),
    limit: int = typer.Option(None, "--limit", min=1, help="Read at most N source rows."),
    source: str = typer.Option(
        None, "--source", help="Override the recipe's source: local file/dir or HF id."
    ),
    image_root: str = typer.Option(
        None, "--image-root", help="Root that image paths resolve under (never left)."
    ),
    strict: bool = typer.Option(False, "--strict", help="Fail on the first bad row instead of dropping it."),
    force: ForceOpt = False,
    num_proc: int = typer.Option(1, "--num-proc", min=1, help="Worker processes for image work and checks."),
    max_prompt_tokens: int = typer.Option(
        PREPARE_MAX_PROMPT_TOKENS,
        "--max-prompt-tokens",
        min=0,
        help="Drop rows whose prompt (images included) is longer; 0: no check.",
    ),
    min_pixels: MinPixelsOpt = None,
    max_pixels: int | None = typer.Option(
        None,
        "--max-pixels",
        help="Store images resized to at most this many pixels (at least the processor's min_pixels, 3136 for "
        "Qwen2.5-VL; default: the recipe's, else source resolution).",
    ),
    model: str = typer.Option(
        "tiny",
        "--model",
        help="Model whose tokenizer and chat template measure prompt lengths (not its pixel bounds: images "
        "keep their source resolution unless --max-pixels or the recipe's max_pixels downscales them).",
    ),
    as_json: JsonOpt = False,
    list_: bool = typer.Option(False, "--list", help="List the shipped data recipes and exit."),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print the resolved data recipe and options and check them (pixel bounds); read and write nothing.",
    ),
) -> None:
    """Turn a dataset (LMM-R1 messages, DeepScaleR, Geometry3K, EasyR1/verl, MathV360K, any HF/local
    load_dataset source, or a synthetic generator) into rows.jsonl + images/ + manifest.json, dropping bad rows
    with reasons."""
    from dataclasses import asdict

    from lmmr1_cli.data.prepare import PrepareOptions, check_pixel_options, prepare_dataset
    from lmmr1_cli.data.recipes import list_recipes, resolve_recipe

    if list_:
        _print_recipes(list_recipes(), as_json)
        return
    if recipe is None:
        raise ConfigError("give a RECIPE or PATH (see `lmmr1 prepare-data --list`)")
    resolved = resolve_recipe(recipe)
    options = PrepareOptions(
        split=split,
        limit=limit,
        source=source,
        image_root=image_root,
        strict=strict,
        force=force,
        num_proc=num_proc,
        max_prompt_tokens=max_prompt_tokens or None,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        model=model,
    )
    check_pixel_options(resolved, options)  # the same one-line refusal with or without --dry-run
    if dry_run:
        plan = {"recipe": asdict(resolved), "options": asdict(options), "out": str(out) if out else None}
        console.print_json(json.dumps(plan)) if as_json else console.print(plan)
        return
    if out is None:
        raise ConfigError("missing -o/--out: where to write the dataset dir")
    with progress_bar(resolved.name, label="prepare-data", console=console, disable=as_json) as update:
        result = prepare_dataset(
            resolved, out, options, progress=lambda done, total: update(completed=done, total=total)
        )
    manifest = result.manifest
    if as_json:
        print(json.dumps({**manifest, "out_dir": str(result.out_dir), "seconds": round(result.seconds, 3)}))
        return
    _print_summary(manifest, result.out_dir, result.seconds)


def _print_recipes(recipes: list, as_json: bool) -> None:
    if as_json:
        rows = [
            {
                "name": r.name,
                "source": r.source,
                "split": r.split,
                "answer_type": r.answer_type,
                "format": r.format,
                "description": r.description,
            }
            for r in recipes
        ]
        print(json.dumps(rows))
        return
    table = Table(title="data recipes")
    # Identifiers are never wrapped (a log reader greps for them); only the description folds.
    for col in ("name", "source", "split", "answer_type"):
        table.add_column(col, no_wrap=True)
    table.add_column("description", overflow="fold")
    for r in recipes:
        table.add_row(
            r.name, r.source or f"(synthetic: {r.generator})", r.split, r.answer_type, r.description
        )
    console.print(table)


def _print_summary(manifest: dict, out_dir: Path, seconds: float) -> None:
    counts = manifest["counts"]
    bounds = manifest.get("pixel_bounds") or {}
    stored = (
        "at source resolution"
        if bounds.get("max_pixels") is None
        else f"resized to <= {bounds['max_pixels']:,} pixels"
    )
    console.print(
        f"[green]wrote[/green] {out_dir}: {counts['kept']} rows, {counts['images']} images"
        f"{' ' + stored if counts['images'] else ''} "
        f"({counts['read']} read, {counts['dropped']} dropped) in {seconds:.1f}s",
        highlight=False,
    )
    if manifest["drops"]:
        table = Table(title="dropped rows by reason")
        table.add_column("reason", no_wrap=True)
        table.add_column("rows", justify="right")
        table.add_column("first example", overflow="fold")
        for reason, n in manifest["drops"].items():
            table.add_row(reason, str(n), (manifest["drop_examples"].get(reason) or [""])[0])
        console.print(table)
