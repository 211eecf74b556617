"""`lmmr1 verify`, run as the installed command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

LMMR1 = shutil.which("lmmr1", path=str(Path(sys.executable).parent)) or "lmmr1"

ROWS = [
    {"prediction": "<think>t</think><answer>\\boxed{\\frac{1}{2}}</answer>", "answer": "0.5"},
    {
        "prediction": "<think>t</think><answer>(B)</answer>",
        "answer": "A",
        "answer_type": "choice",
        "choices": ["1", "2"],
    },
    {"prediction": "no tags at all", "answer": "3"},
    # both explosive (docs/verifier.md): the pair reaches sympy and overruns the limit
    {
        "prediction": "<answer>\\boxed{(x+1)^{100000}}</answer>",
        "answer": "(x+2)^{100000}",
        "answer_type": "math",
    },
]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LMMR1, "verify", *args], capture_output=True, text=True, timeout=120)


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_scores_a_jsonl_file_with_per_row_verdicts_and_a_summary(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "scored.jsonl"
    result = _run(str(source), "-o", str(out), "--timeout", "1", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == 4 and summary["correct"] == 1 and summary["accuracy"] == 0.25
    assert summary["reasons"] == {"correct": 1, "no_answer": 1, "timeout": 1, "wrong": 1}
    assert summary["timeouts"] == 1
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["correct"], r["extracted"], r["reason"]) for r in scored] == [
        (True, "\\frac{1}{2}", "correct"),
        (False, "(B)", "wrong"),
        (False, None, "no_answer"),
        (False, "(x+1)^{100000}", "timeout"),
    ]
    assert scored[1]["choices"] == ["1", "2"]


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", ROWS[:1])
    out = tmp_path / "scored.jsonl"
    out.write_text("keep me\n")
    result = _run(str(source), "-o", str(out))
    assert result.returncode != 0 and "--force" in result.stderr
    assert out.read_text() == "keep me\n"
    assert _run(str(source), "-o", str(out), "--force").returncode == 0
    assert json.loads(out.read_text())["correct"] is True


def test_malformed_row_is_named_and_fails(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [ROWS[0], {"prediction": "x"}, ROWS[0]])
    result = _run(str(source))
    assert result.returncode != 0
    assert result.stderr.startswith("error:") and "row 2" in result.stderr and "'answer'" in result.stderr


def test_invalid_json_row_is_named_and_fails(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [ROWS[0], ROWS[0], "{not json"])
    result = _run(str(source))
    assert result.returncode != 0 and "row 3" in result.stderr


def test_unknown_answer_type_row_fails(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", [{**ROWS[0], "answer_type": "poetry"}])
    result = _run(str(source))
    assert result.returncode != 0 and "row 1" in result.stderr and "poetry" in result.stderr


def test_one_pair_from_the_command_line() -> None:
    result = _run(
        "--pred",
        "<think>x</think><answer>Option B</answer>",
        "--gold",
        "B",
        "--answer-type",
        "choice",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "correct": True,
        "format_ok": True,
        "extracted": "Option B",
        "reason": "correct",
    }


def test_one_pair_with_boxed_fallback() -> None:
    without = json.loads(_run("--pred", "so \\boxed{60}", "--gold", "60", "--json").stdout)
    with_fallback = json.loads(
        _run("--pred", "so \\boxed{60}", "--gold", "60", "--boxed-fallback", "--json").stdout
    )
    assert (without["reason"], with_fallback["reason"]) == ("no_answer", "correct")


def test_help_has_an_example() -> None:
    result = _run("--help")
    assert result.returncode == 0 and "lmmr1 verify outputs.jsonl" in result.stdout


PAPER_ROWS = [
    {"prediction": "<think>t</think><answer>$\\frac{1}{2}$</answer><|im_end|>", "answer": "0.5"},
    {"prediction": "<think>t</think>\n<answer>$\\frac{1}{2}$</answer>", "answer": "0.5"},  # newline: format 0
    {"prediction": "<think>t</think><answer>0.5</answer>", "answer": "0.5"},  # no $…$: not extracted
    {"prediction": "so the answer is \\boxed{0.5}", "answer": "0.5"},  # no tags, still correct officially
    {
        "prediction": "<think>push</think><answer>Right</answer>",
        "answer": "#####\n#@$.#\n#####",
        "answer_type": "sokoban",
    },
]


def test_paper_mode_writes_the_official_verdicts_per_row(tmp_path: Path) -> None:
    """The README's `lmmr1 verify --mode paper` command: correct and format_ok are the official server's."""
    source = _write(tmp_path / "outputs.jsonl", PAPER_ROWS)
    out = tmp_path / "scored.jsonl"
    result = _run(str(source), "--mode", "paper", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "paper mode: accuracy 80.00% (4/5), format 60.00%" in " ".join(result.stdout.split())
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["correct"], r["format_ok"]) for r in scored] == [
        (True, True),
        (True, False),
        (False, True),
        (True, False),
        (True, True),
    ]
    assert [r["reward"] for r in scored[:4]] == [1.5, 1.0, 0.5, 1.0]
    assert abs(scored[4]["reward"] - (10.9 + 0.5 + 0.05 + 0.001)) < 1e-9  # the official Sokoban reward


def test_paper_and_strict_modes_differ_where_the_official_rules_do(tmp_path: Path) -> None:
    source = _write(tmp_path / "outputs.jsonl", PAPER_ROWS[:4])
    scored = {}
    for mode in ("strict", "paper"):
        out = tmp_path / f"{mode}.jsonl"
        summary = json.loads(_run(str(source), "--mode", mode, "-o", str(out), "--json").stdout)
        assert summary["mode"] == mode and summary["correct"] == 3
        scored[mode] = [(r["correct"], r["format_ok"]) for r in map(json.loads, out.read_text().splitlines())]
    # strict reads only <answer> (row 4 has none) and accepts a bare 0.5 (row 3); it allows a newline between
    # the tags (row 2) but not an end-of-sequence token (row 1), which the official server removes first.
    assert scored["strict"] == [(True, False), (True, True), (True, True), (False, False)]
    assert scored["paper"] == [(True, True), (True, False), (False, True), (True, False)]
    one = _run("--pred", "<think>t</think><answer>2</answer>", "--gold", "2", "--mode", "paper", "--json")
    assert json.loads(one.stdout) == {
        "correct": False,
        "format_ok": True,
        "reward": 0.5,
        "extracted": None,
        "reason": "no_answer",
    }


def test_unknown_mode_and_boxed_fallback_in_paper_mode_are_one_line_errors(tmp_path: Path) -> None:
    source = _write(tmp_path / "outputs.jsonl", PAPER_ROWS[:1])
    for args in (("--mode", "official"), ("--mode", "paper", "--boxed-fallback")):
        result = _run(str(source), *args)
        assert result.returncode == 2 and result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1
