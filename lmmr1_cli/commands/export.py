"""`lmmr1 export`: a run or checkpoint -> a standalone HF model dir, checked by reloading it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lmmr1_cli.commands.options import DtypeOpt, ForceOpt, JsonOpt, OutDirOpt
from lmmr1_cli.commands.output import console
from lmmr1_cli.commands.progress import progress_spinner

EXPORT_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 export runs/mgt -o exported/mgt                        (the run's final model)\n\n"
    "  lmmr1 export runs/mgt/checkpoints/checkpoint-20 -o exported/mgt-20 --dtype bfloat16\n\n"
    "  lmmr1 export runs/mgt@best -o exported/mgt-best      (the best validation point; also: runs/mgt --best)\n\n"
    "  lmmr1 eval --model exported/mgt --benchmark data/geo-test -o results/   (use the export anywhere)"
)


def export_command(
    source: Annotated[str, typer.Argument(help="A run dir, checkpoint dir, model dir, `tiny`, or an HF id.")],
    out: OutDirOpt,
    dtype: DtypeOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    best: Annotated[
        bool,
        typer.Option("--best", help="Export the run's best/ model (validation during training): RUN@best."),
    ] = False,
) -> None:
    """Write safetensors weights, config, processor, chat template and generation config, with LoRA adapters
    merged; reload the export and require token-identical greedy outputs on text and image probes."""
    # export_model checks the dtype, the output dir and the source before it imports torch.
    from lmmr1_cli.export import export_model

    if best and not source.endswith("@best"):
        source = f"{source.rstrip('/')}@best"

    with progress_spinner("exporting", disable=as_json) as show_step:
        manifest = export_model(source, out, dtype=dtype, force=force, progress=show_step)
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
