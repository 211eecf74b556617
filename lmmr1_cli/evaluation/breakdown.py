"""Per-benchmark extras of a summary: the judge's accuracy and its agreement with the rule, accuracy per value of a
breakdown column (MathVerse's problem versions, MathVision's subjects), and the paper's own aggregate where it is
not the plain mean (MMStar's mean over l2 categories, Table 2's MathVision geometry average)."""

from __future__ import annotations

from collections.abc import Sequence

from lmmr1_cli.evaluation.protocols import BenchmarkProtocol
from lmmr1_cli.evaluation.scoring import summarize_records

MISSING = "(none)"


def _value(row: dict | None, column: str) -> str:
    value = ((row or {}).get("meta") or {}).get(column)
    return MISSING if value is None else str(value)


def judge_summary(records: Sequence[dict], samples: int) -> dict:
    """`judge_accuracy` (rule verifier on the judge's extraction) with its 95% CI, and `judge_agreement` (share of
    samples where the judge-based verdict equals the rule verdict on the whole response); {} without a judge."""
    judged = [r for r in records if "judge_correct" in r]
    if not judged:
        return {}
    as_judge = summarize_records([{**r, "correct": r["judge_correct"]} for r in judged], samples)
    agree = sum(1 for r in judged if bool(r["judge_correct"]) == bool(r["correct"]))
    return {
        "judge_accuracy": as_judge["accuracy"],
        "judge_ci95": as_judge["ci95"],
        "judge_agreement": agree / len(judged),
        "judge_no_answer": sum(1 for r in judged if r.get("judge_reason") == "judge_no_answer"),
    }


def breakdown(records: Sequence[dict], rows_by_id: dict[str, dict], column: str, samples: int) -> dict:
    """{value: {rows, accuracy, ci95[, judge_accuracy]}} over the rows' `meta[column]`, values in first-seen order."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(_value(rows_by_id.get(record["id"]), column), []).append(record)
    out = {}
    for value, group in groups.items():
        summary = summarize_records(group, samples)
        cell = {"rows": summary["rows"], "accuracy": summary["accuracy"], "ci95": summary["ci95"]}
        judged = judge_summary(group, samples)
        if judged:
            cell["judge_accuracy"] = judged["judge_accuracy"]
        out[value] = cell
    return out


def macro_accuracy(groups: dict[str, dict], key: str = "accuracy", only: str | None = None) -> float | None:
    """Mean of per-value accuracies (each value weighs the same), over values containing `only` if given."""
    values = [cell[key] for name, cell in groups.items() if key in cell and (only is None or only in name)]
    return sum(values) / len(values) if values else None


def paper_metrics(
    protocol: BenchmarkProtocol, records: Sequence[dict], rows_by_id: dict[str, dict], samples: int
) -> dict:
    """The paper's aggregate where it differs from the plain accuracy: `macro:<column>` (MMStar reports the mean
    of its 18 `l2_category` accuracies) and, for MathVision, Table 2's mean over subjects naming geometry."""
    out: dict[str, dict] = {}
    if protocol.aggregate.startswith("macro:"):
        column = protocol.aggregate.split(":", 1)[1]
        groups = breakdown(records, rows_by_id, column, samples)
        out[f"macro:{column}"] = {
            "accuracy": macro_accuracy(groups),
            "judge_accuracy": macro_accuracy(groups, "judge_accuracy"),
            "groups": len(groups),
        }
    if protocol.geometry_subjects:
        groups = breakdown(records, rows_by_id, "subject", samples)
        subjects = [s for s in groups if "geometry" in s]
        out["geometry"] = {
            "accuracy": macro_accuracy(groups, only="geometry"),
            "judge_accuracy": macro_accuracy(groups, "judge_accuracy", only="geometry"),
            "subjects": subjects,
        }
    return out
