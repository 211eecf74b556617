"""Score any system's outputs from JSONL: rows `{"prediction", "answer", "answer_type"?, "choices"?}` in,
the same rows plus `correct`, `extracted`, `reason` out, and a summary (accuracy, counts per reason, timeouts)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lmmr1_cli.atomic import write_jsonl_atomic
from lmmr1_cli.defaults import ANSWER_TYPES, VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.errors import DataError, OutputExistsError
from lmmr1_cli.verify.batch import verify_batch
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


def score_rows(
    rows: list[dict],
    *,
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    boxed_fallback: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Verdict], dict]:
    """Verify every row; returns the verdicts and a summary dict."""
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
    verdicts = verify_batch(items, timeout=timeout, boxed_fallback=boxed_fallback, progress=progress)
    return verdicts, summarize(verdicts, time.perf_counter() - start)


def summarize(verdicts: list[Verdict], seconds: float) -> dict:
    """Accuracy, counts per verdict reason and timeouts of one scoring run."""
    reasons = Counter(v.reason for v in verdicts)
    correct = sum(v.correct for v in verdicts)
    return {
        "rows": len(verdicts),
        "correct": correct,
        "accuracy": correct / len(verdicts) if verdicts else 0.0,
        "reasons": dict(sorted(reasons.items())),
        "timeouts": reasons.get("timeout", 0),
        "seconds": round(seconds, 3),
    }


def write_scored_file(path: Path, rows: list[dict], *, force: bool = False) -> None:
    """Write the scored rows as JSONL, atomically; an existing file is replaced only with `force`."""
    if path.exists() and not force:
        raise OutputExistsError(f"{path} exists (use --force to replace it)")
    write_jsonl_atomic(path, rows)


def scored_rows(rows: list[dict], verdicts: list[Verdict]) -> list[dict]:
    """Each input row with its verdict's `correct`, `extracted` and `reason` added."""
    return [
        {**row, "correct": v.correct, "extracted": v.extracted, "reason": v.reason}
        for row, v in zip(rows, verdicts, strict=True)
    ]
