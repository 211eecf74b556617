"""`lmmr1 eval`: models x benchmarks -> per-sample JSONL, summary.json, one comparison table."""

from __future__ import annotations

import json
import os
import sys
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
    "  lmmr1 eval --protocol paper --model runs/mgt --benchmark mathverse-testmini -o results/  (as the paper)\n\n"
    "  lmmr1 eval --model runs/mgt --benchmark mmstar --judge Qwen/Qwen2.5-14B-Instruct --judge-backend openai "
    "--judge-url http://127.0.0.1:8001/v1 -o results/\n\n"
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
    protocol: str = typer.Option(
        EVAL_DEFAULTS.protocol,
        "--protocol",
        help="paper: the paper's per-benchmark settings, prompts and system-prompt rule (docs/evaluation.md); "
        "lmmr1: lmmr1's own (512 tokens, training prompt); auto: paper for the paper's benchmarks, else lmmr1.",
    ),
    max_new_tokens: int = typer.Option(
        None,
        "--max-new-tokens",
        min=1,
        help=f"Generation budget per answer (default: the protocol's: {EVAL_MAX_NEW_TOKENS} under lmmr1; "
        "4096 multimodal, 8192 text under paper).",
    ),
    repetition_penalty: float = typer.Option(
        None,
        "--repetition-penalty",
        help="1.0 is off (default: the protocol's; 1.05 for the paper's text sets).",
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
        None,
        "--system-prompt",
        help="r1, tiny, none or any text (default: the protocol's rule; paper: R1 for trained models only).",
    ),
    judge: str = typer.Option(
        None,
        "--judge",
        help="LLM judge model that extracts each final answer (e.g. Qwen/Qwen2.5-14B-Instruct).",
    ),
    judge_backend: str = typer.Option(
        "openai",
        "--judge-backend",
        help="openai (any OpenAI-compatible --judge-url), hf or vllm (in-process).",
    ),
    judge_url: str = typer.Option(
        None, "--judge-url", help="The judge endpoint's base URL, e.g. http://127.0.0.1:8001/v1."
    ),
    judge_timeout: float = typer.Option(60.0, "--judge-timeout", min=0.1, help="Seconds per judge request."),
    dtype: DtypeOpt = None,
    min_pixels: MinPixelsOpt = None,
    max_pixels: MaxPixelsOpt = None,
    threads: int = typer.Option(
        None, "--threads", min=1, help="torch CPU threads (1 is fastest for tiny models on a busy machine)."
    ),
    force: bool = typer.Option(False, "--force", help="Discard existing samples in -o and start over."),
    as_json: JsonOpt = False,
) -> None:
    """Evaluate models on benchmarks, greedy, scored by lmmr1's verifier (and an LLM judge with --judge):
    accuracy with a 95% CI per benchmark and breakdown column; under --protocol paper, the paper's numbers beside."""
    from lmmr1_cli.errors import ConfigError
    from lmmr1_cli.evaluation import EvalSettings, evaluate
    from lmmr1_cli.evaluation.judge import JudgeSettings

    if backend == "vllm" and "--debug" not in sys.argv:
        # vLLM logs its engine start to stdout (~70 INFO/WARNING lines, one set_num_threads warning per forward
        # pass on CPU), which buries the table and breaks --json; its errors still show. A user's level wins.
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")

    judge_settings = None
    if judge is not None:
        judge_settings = JudgeSettings(
            model=judge, backend=judge_backend, url=judge_url, timeout=judge_timeout
        )
    elif judge_url is not None:
        raise ConfigError("--judge-url needs --judge MODEL (the model name the endpoint serves)")
    settings = EvalSettings(
        backend=backend,
        protocol=protocol,
        max_new_tokens=max_new_tokens,
        repetition_penalty=repetition_penalty,
        samples=samples,
        temperature=temperature,
        top_p=top_p,
        seed=seed,
        batch_size=batch_size,
        limit=limit,
        system_prompt=system_prompt,
        dtype=dtype,
        min_pixels=min_pixels,
        max_pixels=max_pixels,
        threads=threads,
        force=force,
        judge=judge_settings,
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


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _paper_cells(r: dict) -> list[str]:
    ref = r.get("paper") or {}
    base = f"{ref['baseline']:.1f}%" if ref else "-"
    mine = f"{ref['recipe_result']:.1f}% ({ref['recipe']})" if ref.get("recipe_result") is not None else "-"
    return [base, mine]


def _print_tables(summary: dict) -> None:
    from lmmr1_cli.evaluation.comparison import comparison_rows, verdict_lines

    k = summary["settings"]["samples"]
    results = [r for per_bench in summary["results"].values() for r in per_bench.values()]
    judged = any("judge_accuracy" in r for r in results)
    paper = any(r.get("paper") for r in results)
    detail = Table(title=f"eval ({'greedy' if k == 1 else f'{k} samples'}) · protocol {summary['protocol']}")
    columns = [
        "model",
        "benchmark",
        "rows",
        "accuracy" if k == 1 else f"mean@{k}",
        "95% CI",
        "format",
        "tokens",
    ]
    columns += [f"pass@{k}"] * (k > 1) + ["judge", "agree"] * judged + ["paper base", "paper recipe"] * paper
    for i, name in enumerate(columns):
        detail.add_column(name, justify="left" if i < 2 else "right")
    for label, per_bench in summary["results"].items():
        for name, r in per_bench.items():
            low, high = r["ci95"]
            cells = [label, name, str(r["rows"]), _pct(r["accuracy"]), f"{100 * low:.1f}-{100 * high:.1f}"]
            cells += [_pct(r["format_rate"]), f"{r['mean_tokens']:.1f}"]
            if k > 1:
                cells.append(_pct(r[f"pass@{k}"]))
            if judged:
                cells += [_pct(r.get("judge_accuracy")), _pct(r.get("judge_agreement"))]
            cells += _paper_cells(r) if paper else []
            detail.add_row(*cells)
            for column, groups in (r.get("breakdown") or {}).items():
                for value, cell in groups.items():
                    glow, ghigh = cell["ci95"]
                    row = ["", f"  {column}: {value}", str(cell["rows"]), _pct(cell["accuracy"])]
                    row += [f"{100 * glow:.1f}-{100 * ghigh:.1f}"] + [""] * (len(columns) - 5)
                    if judged:
                        row[columns.index("judge")] = _pct(cell.get("judge_accuracy"))
                    detail.add_row(*row)
    console.print(detail)
    _print_extras(summary)
    if len(summary["models"]) > 1:
        header, rows = comparison_rows(summary)
        table = Table(title=f"accuracy (%), deltas vs {header[1]}")
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        for line in verdict_lines(summary):
            console.print(line, highlight=False, soft_wrap=True)  # one line each, grep-able
    console.print(f"wrote {summary['output']}/summary.json and comparison.md ({summary['seconds']:.1f} s)")


def _print_extras(summary: dict) -> None:
    """The paper's own aggregates, the Sokoban stand-in's return, and where this run differs from the paper."""
    for label, per_bench in summary["results"].items():
        for name, r in per_bench.items():
            for metric, value in (r.get("paper_metrics") or {}).items():
                ref = value.get("paper") or {}
                paper = f"; paper base {ref['baseline']:.1f}%" if ref else ""
                console.print(f"{label} {name} {metric}: {_pct(value['accuracy'])}{paper}")
            if "mean_return" in r:
                console.print(
                    f"{label} {name}: solved {_pct(r['solved_rate'])}, mean gym-sokoban return "
                    f"{r['mean_return']:.2f} (stand-in; not comparable with the paper's Table 3)"
                )
    for bench in summary["benchmarks"]:
        for note in bench.get("notes") or []:
            console.print(f"note: {bench['name']}: {note}")
