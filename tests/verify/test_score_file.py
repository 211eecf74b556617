"""Scoring a predictions file (`lmmr1_cli/verify/score_file.py`): rows checked with their line number, verdicts and
a summary out, and the scored file written atomically, replaced only when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmmr1_cli.errors import DataError, OutputExistsError
from lmmr1_cli.verify.score_file import read_rows, score_rows, scored_rows, write_scored_file

ROWS = [
    {"prediction": "<think>t</think><answer>\\boxed{\\frac{1}{2}}</answer>", "answer": "0.5"},
    {"prediction": "<think>t</think><answer>(B)</answer>", "answer": "A", "answer_type": "choice"},
    {"prediction": "no tags at all", "answer": "3"},
]


def _write(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_rows_are_scored_and_summarized(tmp_path: Path) -> None:
    rows = read_rows(_write(tmp_path / "in.jsonl", ROWS))
    verdicts, summary = score_rows(rows)
    assert [v.reason for v in verdicts] == ["correct", "wrong", "no_answer"]
    assert (summary["rows"], summary["correct"], summary["timeouts"]) == (3, 1, 0)
    assert summary["reasons"] == {"correct": 1, "no_answer": 1, "wrong": 1}
    scored = scored_rows(rows, verdicts)
    assert scored[0] == {
        **ROWS[0],
        "correct": True,
        "format_ok": True,
        "extracted": "\\frac{1}{2}",
        "reason": "correct",
    }


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([ROWS[0], "{not json"], "row 2 is not valid JSON"),
        ([ROWS[0], {"prediction": "x"}], "row 2 has no 'answer' field"),
        ([{"prediction": 1, "answer": "1"}], "row 1: 'prediction' must be a string"),
        ([{**ROWS[0], "answer_type": "poem"}], "row 1: unknown answer_type 'poem'"),
        ([], "no rows"),
    ],
)
def test_a_bad_row_is_named_by_its_line(tmp_path: Path, lines: list, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_rows(_write(tmp_path / "in.jsonl", lines))


def test_scored_file_is_replaced_only_with_force_and_leaves_no_temp_files(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "scored.jsonl"
    write_scored_file(out, [{"a": 1}])
    with pytest.raises(OutputExistsError, match="--force"):
        write_scored_file(out, [{"a": 2}])
    assert out.read_text() == '{"a": 1}\n'
    write_scored_file(out, [{"a": 2}, {"b": "é"}], force=True)
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == [
        {"a": 2},
        {"b": "é"},
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["scored.jsonl"]
