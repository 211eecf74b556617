"""comparison.py's verdict: a later model learned, got worse, or did not change significantly against the first,
judged by whether the two 95% CIs are apart (the line `make demo` prints per benchmark)."""

from __future__ import annotations

from lmmr1_cli.evaluation.comparison import comparison_markdown, verdict, verdict_lines
from lmmr1_cli.evaluation.scoring import wilson_interval


def _result(correct: int, rows: int = 128) -> dict:
    accuracy = correct / rows
    return {"accuracy": accuracy, "ci95": list(wilson_interval(correct, rows)), "rows": rows, "format_rate": 1.0,
            "mean_tokens": 11.0}  # fmt: skip


def test_a_ci_wholly_above_is_learned_below_is_worse_and_overlap_is_no_change():
    base = _result(21)  # 16.4%, CI 11.0-23.8 (the tiny model on the demo's text task)
    assert verdict(base, _result(63)) == "learned"
    assert verdict(base, _result(5)) == "worse"
    # 15 points more is not enough when the intervals still touch: 28.9% has CI 21.8-37.3
    assert verdict(base, _result(37)) == "no significant change"
    assert verdict(base, base) == "no significant change"


def test_each_later_model_gets_one_line_per_benchmark_in_the_summary_and_comparison_md():
    results = {
        "tiny": {"text": _result(21), "picture": _result(46), "overall": _result(67, 256)},
        "mgt": {"text": _result(51), "picture": _result(128), "overall": _result(179, 256)},
    }
    summary = {
        "models": [{"label": "tiny"}, {"label": "mgt"}],
        "benchmarks": [{"name": "text"}, {"name": "picture"}],
        "results": results,
        "settings": {"samples": 1},
    }
    lines = verdict_lines(summary)
    assert [line.split(" (")[0] for line in lines] == ["mgt on text: learned", "mgt on picture: learned"]
    assert "(39.8%, CI 31.8-48.5, vs tiny 16.4%, CI 11.0-23.8)" in lines[0]
    assert all(f"- {line}" in comparison_markdown(summary) for line in lines)
