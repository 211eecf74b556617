"""Score any system's outputs from JSONL: rows `{"prediction", "answer", "answer_type"?, "choices"?}` in,
the same rows plus `correct`, `format_ok`, `extracted`, `reason` out (paper mode: also `reward`, the official
server's reward), and a summary (accuracy, format rate, counts per reason, timeouts).

`mode` is `strict` (lmmr1's verifier and format rule) or `paper` (the official LMM-R1 rules, verify/paper.py)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lmmr1_cli.atomic import write_jsonl_atomic
from lmmr1_cli.defaults import ANSWER_TYPES, VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.errors import ConfigError, DataError, OutputExistsError
from lmmr1_cli.verify.batch import verify_batch
from lmmr1_cli.verify.format import check_format
from lmmr1_cli.verify.paper import PaperVerdict, paper_summary
from lmmr1_cli.verify.paper_batch import verify_paper_batch
from lmmr1_cli.verify.verdicts import Verdict, VerifyItem


def read_rows(path: Path) -> list[dict]:
    """Read and validate the input rows; a malformed row raises DataError naming its (1-based) line."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}: row {number} is not valid UTF-8 ({exc.reason})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: row {number} is not valid JSON ({exc.msg})") from exc
            rows.append(_check_row(row, f"{path}: row {number}"))
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _check_row(row, where: str) -> dict:
    if not isinstance(row, dict):
        raise DataError(f"{where} must be a JSON object")
    for key in ("prediction", "answer"):
        if key not in row:
            raise DataError(f"{where} has no {key!r} field")
        if not isinstance(row[key], str):
            raise DataError(f"{where}: {key!r} must be a string, got {type(row[key]).__name__}")
    answer_type = row.get("answer_type")
    if answer_type is not None and answer_type not in ANSWER_TYPES:
        raise DataError(
            f"{where}: unknown answer_type {answer_type!r} (expected one of {', '.join(ANSWER_TYPES)})"
        )
    choices = row.get("choices")
    if choices is not None and not (isinstance(choices, list) and all(isinstance(c, str) for c in choices)):
        raise DataError(f"{where}: 'choices' must be a list of strings or null")
    return row


SCORE_MODES = ("strict", "paper")


def score_rows(
    rows: list[dict],
    *,
    mode: str = "strict",
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    boxed_fallback: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Verdict] | list[PaperVerdict], dict]:
    """Verify every row under `mode`; returns the verdicts and a summary dict."""
    if mode not in SCORE_MODES:
        raise ConfigError(f"mode must be one of {', '.join(SCORE_MODES)}, got {mode!r}")
    if mode == "paper" and boxed_fallback:
        raise ConfigError("--boxed-fallback belongs to --mode strict (paper mode reads the whole response)")
    items = [
        VerifyItem(
            row["prediction"],
            row["answer"],
            row.get("answer_type") or "math",
            tuple(row["choices"]) if row.get("choices") is not None else None,
        )
        for row in rows
    ]
    start = time.perf_counter()
    if mode == "paper":
        verdicts = verify_paper_batch(items, timeout=timeout, progress=progress)
        return verdicts, paper_summary(verdicts, time.perf_counter() - start)
    verdicts = verify_batch(items, timeout=timeout, boxed_fallback=boxed_fallback, progress=progress)
    formats = [check_format(item.prediction) for item in items]
    return verdicts, summarize(verdicts, time.perf_counter() - start, formats)


def summarize(verdicts: list[Verdict], seconds: float, formats: list[bool] | None = None) -> dict:
    """Accuracy, format rate, counts per verdict reason and timeouts of one strict scoring run."""
    reasons = Counter(v.reason for v in verdicts)
    correct = sum(v.correct for v in verdicts)
    summary = {
        "mode": "strict",
        "rows": len(verdicts),
        "correct": correct,
        "accuracy": correct / len(verdicts) if verdicts else 0.0,
        "reasons": dict(sorted(reasons.items())),
        "timeouts": reasons.get("timeout", 0),
        "seconds": round(seconds, 3),
    }
    if formats is not None:
        summary["format_ok"] = sum(formats)
        summary["format_rate"] = sum(formats) / len(formats) if formats else 0.0
    return summary


def write_scored_file(path: Path, rows: list[dict], *, force: bool = False) -> None:
    """Write the scored rows as JSONL, atomically; an existing file is replaced only with `force`."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists (use --force to replace it)")
    write_jsonl_atomic(path, rows)


def scored_rows(rows: list[dict], verdicts: list[Verdict] | list[PaperVerdict]) -> list[dict]:
    """Each input row with its verdict added: `correct`, `format_ok`, `extracted`, `reason`, and in paper mode
    `reward`, the official server's reward (0.5 x format + accuracy; Sokoban: its shaped reward)."""
    out = []
    for row, v in zip(rows, verdicts, strict=True):
        if isinstance(v, PaperVerdict):
            extra = {"format_ok": v.format_ok, "reward": 0.5 * v.format_ok + v.accuracy}
        else:
            extra = {"format_ok": check_format(row["prediction"])}
        out.append({**row, "correct": v.correct, **extra, "extracted": v.extracted, "reason": v.reason})
    return out
