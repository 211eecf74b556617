"""`lmmr1 export`: a run or checkpoint -> a standalone HF model dir, checked by reloading it."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from lmmr1_cli.cli import app, console, err_console

_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 export runs/mgt -o exported/mgt                        (the run's final model)\n\n"
    "  lmmr1 export runs/mgt/checkpoints/checkpoint-20 -o exported/mgt-20 --dtype bfloat16\n\n"
    "  lmmr1 eval --model exported/mgt --benchmark data/geo-test -o results/   (use the export anywhere)"
)


@app.command("export", epilog=_EPILOG)
def export_command(
    source: str = typer.Argument(..., help="A run dir, checkpoint dir, model dir, `tiny`, or an HF id."),
    out: Path = typer.Option(..., "-o", "--out", help="Directory to create."),
    dtype: str = typer.Option(
        None, "--dtype", help="float32, bfloat16 or float16 (default: keep the source's)."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing output dir."),
    as_json: bool = typer.Option(False, "--json", help="Print export.json to stdout."),
) -> None:
    """Write safetensors weights, config, processor, chat template and generation config, with LoRA adapters
    merged; reload the export and require token-identical greedy outputs on text and image probes."""
    from lmmr1_cli.export import export_model

    with err_console.status("exporting", spinner="dots") as status:

        def on_step(message: str) -> None:
            if not as_json:
                status.update(message)

        manifest = export_model(source, out, dtype=dtype, force=force, progress=on_step)
    if as_json:
        print(json.dumps(manifest))
        return
    merged = " (LoRA merged)" if manifest.get("lora_merged") else ""
    console.print(
        f"exported {manifest['source']}{merged} -> {manifest['output']}  dtype {manifest['dtype']}, "
        f"{manifest['parameters']:,} parameters; reload check: {manifest['probes']} probe prompts identical "
        f"({manifest['seconds']:.1f} s)",
        highlight=False,
    )
