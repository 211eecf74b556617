"""`lmmr1 verify`: score any system's outputs with lmmr1's verifier (one pair, or a JSONL file)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from lmmr1_cli.commands.options import ForceOpt, JsonOpt
from lmmr1_cli.commands.output import console
from lmmr1_cli.commands.progress import progress_bar
from lmmr1_cli.defaults import ANSWER_TYPES, VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.errors import ConfigError, OutputExistsError

VERIFY_EPILOG = (
    "Examples:\n\n"
    "  lmmr1 verify outputs.jsonl -o scored.jsonl        (rows: prediction, answer, answer_type?, choices?)\n\n"
    "  lmmr1 verify outputs.jsonl --mode paper -o scored.jsonl   (the official LMM-R1 reward rules)\n\n"
    "  lmmr1 verify outputs.jsonl --json                 (summary only, as JSON)\n\n"
    "  lmmr1 verify --pred '<think>..</think><answer>\\boxed{1/2}</answer>' --gold 0.5"
)


def verify_command(
    input_path: Path = typer.Argument(
        None, help="JSONL with prediction, answer, answer_type?, choices? per row."
    ),
    out: Path = typer.Option(None, "-o", "--out", help="Write the rows plus correct/extracted/reason here."),
    pred: str = typer.Option(None, "--pred", help="Score one prediction (with --gold) instead of a file."),
    gold: str = typer.Option(None, "--gold", help="Gold answer for --pred."),
    answer_type: str = typer.Option(
        "math", "--answer-type", help="math, choice, geometry or sokoban (--pred)."
    ),
    choices: list[str] = typer.Option(None, "--choice", help="An option text for --pred, in letter order."),
    timeout: float = typer.Option(
        VERIFY_TIMEOUT_SECONDS, "--timeout", min=0.1, help="Wall-clock limit per check, seconds."
    ),
    boxed_fallback: bool = typer.Option(
        False, "--boxed-fallback", help="Without an <answer> span, score the last \\boxed{} instead."
    ),
    mode: str = typer.Option(
        "strict",
        "--mode",
        help="strict (lmmr1's verifier: the <answer> span) or paper (the official LMM-R1 reward server's "
        "format and math-verify rules, exactly); rows get correct and format_ok either way.",
    ),
    force: ForceOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Score predictions against gold answers: extraction from <answer> (then \\boxed{}), math-verify with
    guards, multiple choice, geometry, sokoban (--mode strict), or the official LMM-R1 rules (--mode paper);
    every check under a wall-clock limit."""
    from lmmr1_cli.verify.score_file import SCORE_MODES, read_rows, score_rows, scored_rows, write_scored_file

    if mode not in SCORE_MODES:
        raise ConfigError(f"--mode {mode!r} unknown; expected one of {', '.join(SCORE_MODES)}")
    if pred is not None or gold is not None:
        if pred is None or gold is None or input_path is not None:
            raise ConfigError("give --pred and --gold together, without an input file")
        if answer_type not in ANSWER_TYPES:
            raise ConfigError(
                f"--answer-type {answer_type!r} unknown; expected one of {', '.join(ANSWER_TYPES)}"
            )
        row = {"prediction": pred, "answer": gold, "answer_type": answer_type, "choices": choices or None}
        verdicts, _ = score_rows([row], mode=mode, timeout=timeout, boxed_fallback=boxed_fallback)
        result = {k: v for k, v in scored_rows([row], verdicts)[0].items() if k not in row}
        if as_json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            mark = "[green]correct[/green]" if result["correct"] else f"[red]{result['reason']}[/red]"
            fmt = "format ok" if result["format_ok"] else "[red]format wrong[/red]"
            console.print(mark, fmt, "extracted:", repr(result["extracted"]), highlight=False)
        return
    if input_path is None:
        raise ConfigError("give an input JSONL file, or --pred and --gold")
    if out is not None and out.exists() and not force:
        raise OutputExistsError(f"{out} exists (use --force to replace it)")
    rows = read_rows(input_path)
    with progress_bar("verifying", total=len(rows), disable=as_json) as update:
        verdicts, summary = score_rows(
            rows,
            mode=mode,
            timeout=timeout,
            boxed_fallback=boxed_fallback,
            progress=lambda done, total: update(completed=done),
        )
    if out is not None:
        write_scored_file(out, scored_rows(rows, verdicts), force=force)
        summary["output"] = str(out)
    if as_json:
        print(json.dumps(summary))
        return
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    title = (
        f"{summary['mode']} mode: accuracy {summary['accuracy']:.2%} ({summary['correct']}/{summary['rows']})"
    )
    if "format_rate" in summary:
        title += f", format {summary['format_rate']:.2%}"
    table = Table(title=title)
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for reason, count in summary["reasons"].items():
        table.add_row(reason, str(count))
    console.print(table)
    console.print(f"timeouts: {summary['timeouts']}   time: {summary['seconds']:.2f} s")
    if "output" in summary:
        console.print(f"wrote {summary['output']}")
