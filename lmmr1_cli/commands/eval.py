"""`lmmr1 eval`: models x benchmarks -> per-sample JSONL, summary.json, one comparison table."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from lmmr1_cli.commands.options import DtypeOpt, JsonOpt, MaxPixelsOpt, MinPixelsOpt
from lmmr1_cli.commands.output import console
from lmmr1_cli.commands.progress import progress_bar
from lmmr1_cli.defaults import EVAL_BATCH_SIZE, EVAL_MAX_NEW_TOKENS
from lmmr1_cli.evaluation.runner import EvalSettings

# The library's defaults are the CLI's: one home for each value.
EVAL_DEFAULTS = EvalSettings()

EVAL_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 eval --model tiny --benchmark data/arith-test -o results/                  (CPU smoke test)\n\n"
    "  lmmr1 eval --model tiny --model runs/fre --model runs/mgt --benchmark data/geo-test -o results/\n\n"
    "  lmmr1 eval --model runs/mgt --benchmark mathvista-testmini --backend vllm -o results/\n\n"
    "  lmmr1 eval --model runs/mgt --benchmark data/geo-test --samples 8 --temperature 1.0 -o results/  (pass@8)\n\n"
    "Re-running the same command resumes: finished samples are kept and skipped."
)


def eval_command(
    models: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        help="tiny, a run dir, a checkpoint or exported dir, or an HF id. Repeat to compare.",
    ),
    benchmarks: list[str] = typer.Option(
        ...,
        "--benchmark",
        "-b",
        help="A prepared dataset dir, or a data recipe (`mathvista-testmini`, `synthetic-arith:test`). Repeatable.",
    ),
    out: Path = typer.Option(Path("results"), "-o", "--out", help="Output dir (resumed when re-run)."),
    backend: str = typer.Option(
        EVAL_DEFAULTS.backend, "--backend", help="hf (transformers generate) or vllm."
    ),
    limit: int = typer.Option(
        None, "--limit", min=1, help="Evaluate only the first N rows of each benchmark."
    ),
    max_new_tokens: int = typer.Option(
        EVAL_MAX_NEW_TOKENS, "--max-new-tokens", min=1, help="Generation budget per answer."
    ),
    batch_size: int = typer.Option(
        EVAL_BATCH_SIZE, "--batch-size", min=1, help="Prompts per generate call (hf)."
    ),
    samples: int = typer.Option(
        EVAL_DEFAULTS.samples, "--samples", "-k", min=1, help="Completions per prompt (pass@k, mean@k)."
    ),
    temperature: float = typer.Option(
        EVAL_DEFAULTS.temperature, "--temperature", min=0.0, help="0 is greedy (the default)."
    ),
    top_p: float = typer.Option(
        EVAL_DEFAULTS.top_p, "--top-p", min=0.0, max=1.0, help="Nucleus sampling with --temperature."
    ),
    seed: int = typer.Option(EVAL_DEFAULTS.seed, "--seed", help="Sampling seed."),
    system_prompt: str = typer.Option(
        None, "--system-prompt", help="Replace the training system prompt; 'none' drops it."
    ),
    dtype: DtypeOpt = None,
    min_pixels: MinPixelsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    threads: int = typer.Option(
        None, "--threads", min=1, help="torch CPU threads (1 is fastest for tiny models on a busy machine)."
    ),
    force: bool = typer.Option(False, "--force", help="Discard existing samples in -o and start over."),
    as_json: JsonOpt = False,
) -> None:
    """Evaluate models on benchmarks: greedy by default with the training system prompt, scored by lmmr1's
    verifier; accuracy with a 95% CI, format rate and length per benchmark; deltas against the first model."""
    from lmmr1_cli.evaluation import EvalSettings, evaluate
    from lmmr1_cli.prompts import SYSTEM_PROMPT

    prompt = (
        SYSTEM_PROMPT
        if system_prompt is None
        else (None if system_prompt.lower() == "none" else system_prompt)
    )
    settings = EvalSettings(
        backend=backend,
        max_new_tokens=max_new_tokens,
        samples=samples,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        batch_size=batch_size,
        limit=limit,
        system_prompt=prompt,
        dtype=dtype,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        threads=threads,
        force=force,
    )
    with progress_bar("loading", disable=as_json) as update:

        def on_event(event: dict) -> None:
            if event["event"] == "load":
                update(description=f"loading {event['model']}", total=None, completed=0)
            else:
                desc = f"{event['model']} on {event['benchmark']}"
                update(description=desc, total=event["total"], completed=event["done"])

        summary = evaluate(models, benchmarks, out, settings, progress=on_event)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    _print_tables(summary)


def _print_tables(summary: dict) -> None:
    from lmmr1_cli.evaluation import comparison_rows

    k = summary["settings"]["samples"]
    detail = Table(title=f"eval ({'greedy' if k == 1 else f'{k} samples'})")
    for name, justify in (
        ("model", "left"),
        ("benchmark", "left"),
        ("rows", "right"),
        ("accuracy" if k == 1 else f"mean@{k}", "right"),
        ("95% CI", "right"),
        ("format", "right"),
        ("tokens", "right"),
    ):
        detail.add_column(name, justify=justify)
    if k > 1:
        detail.add_column(f"pass@{k}", justify="right")
    for label, per_bench in summary["results"].items():
        for name, r in per_bench.items():
            low, high = r["ci95"]
            cells = [
                label,
                name,
                str(r["rows"]),
                f"{100 * r['accuracy']:.1f}%",
                f"{100 * low:.1f}-{100 * high:.1f}",
                f"{100 * r['format_rate']:.1f}%",
                f"{r['mean_tokens']:.1f}",
            ]
            if k > 1:
                cells.append(f"{100 * r[f'pass@{k}']:.1f}%")
            detail.add_row(*cells)
    console.print(detail)
    if len(summary["models"]) > 1:
        header, rows = comparison_rows(summary)
        table = Table(title=f"accuracy (%), deltas vs {header[1]}")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(f"wrote {summary['output']}/summary.json and comparison.md ({summary['seconds']:.1f} s)")
