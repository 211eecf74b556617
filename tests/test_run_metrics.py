"""`lmmr1_cli/run_metrics.py`: the one definition of a run's start and end (train summary, progress bar, report)."""

from __future__ import annotations

import json

import pytest

from lmmr1_cli.report import build_report
from lmmr1_cli.run_metrics import START_END_RULE, start_end, start_end_label, summarize_rows


def _rows(rewards: list[float]) -> list[dict]:
    return [
        {"step": i + 1, "reward": r, "seconds_per_step": 9.0 if i == 0 else 0.5}
        for i, r in enumerate(rewards)
    ]


@pytest.mark.parametrize(
    ("rewards", "start", "end", "label"),
    [
        ([0.2], 0.2, 0.2, "start = end: one logged step"),
        ([0.2, 0.6], 0.2, 0.6, "first / last logged step"),  # no shared step, even for 2 steps
        ([0.0, 0.2, 0.4, 0.6], 0.1, 0.5, "mean of first / last 2 logged steps"),
        ([float(i) for i in range(12)], 2.0, 9.0, "mean of first / last 5 logged steps"),
    ],
)
def test_start_and_end_are_means_of_up_to_five_steps_never_sharing_one(rewards, start, end, label):
    rows = _rows(rewards)
    assert start_end(rows, "reward") == pytest.approx((start, end))
    assert start_end_label(len(rows)) == label
    summary = summarize_rows(rows)
    assert (summary["reward_start"], summary["reward_end"]) == pytest.approx((start, end))
    assert summary["start_end"] == label
    # The first step carries start-up time; it is left out whenever there are others.
    assert summary["seconds_per_step"] == (9.0 if len(rows) == 1 else 0.5)


def test_the_train_summary_and_the_report_give_the_same_start_and_end(trained_run, tmp_path):
    summary = json.loads((trained_run / "summary.json").read_text())
    report = build_report([trained_run], tmp_path / "report")["runs"][0]
    for name in ("reward", "accuracy", "format"):
        assert report[f"{name}_first"] == pytest.approx(summary[f"{name}_start"], abs=1e-4)
        assert report[f"{name}_last"] == pytest.approx(summary[f"{name}_end"], abs=1e-4)
    assert report["seconds_per_step"] == pytest.approx(summary["seconds_per_step"], abs=1e-4)
    assert report["start_end"] == summary["start_end"]
    rule = START_END_RULE[0].upper() + START_END_RULE[1:]
    assert rule in (tmp_path / "report" / "report.md").read_text()
