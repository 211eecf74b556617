"""Judge summaries, breakdowns, the paper's own aggregates and the Sokoban stand-in's scoring."""

from __future__ import annotations

import pytest

from lmmr1_cli.evaluation.breakdown import breakdown, judge_summary, macro_accuracy, paper_metrics
from lmmr1_cli.evaluation.protocols import resolve_protocol
from lmmr1_cli.evaluation.sokoban_eval import plan_return, sokoban_summary

ROWS = {
    "a": {"id": "a", "meta": {"subject": "metric geometry - angle", "l2_category": "x"}},
    "b": {"id": "b", "meta": {"subject": "metric geometry - angle", "l2_category": "x"}},
    "c": {"id": "c", "meta": {"subject": "algebra", "l2_category": "y"}},
    "d": {"id": "d", "meta": {"subject": "solid geometry", "l2_category": "y"}},
}


def _rec(row_id, correct, judge_correct=None):
    rec = {"id": row_id, "sample": 0, "correct": correct, "format": True, "tokens": 5, "reason": "wrong"}
    if judge_correct is not None:
        rec.update(judge_correct=judge_correct, judge_reason="correct" if judge_correct else "wrong")
    return rec


def test_breakdown_groups_records_by_the_rows_meta_column():
    records = [_rec("a", True), _rec("b", False), _rec("c", True), _rec("d", False)]
    groups = breakdown(records, ROWS, "subject", samples=1)
    assert list(groups) == ["metric geometry - angle", "algebra", "solid geometry"]
    assert (
        groups["metric geometry - angle"]["rows"] == 2
        and groups["metric geometry - angle"]["accuracy"] == 0.5
    )
    missing = breakdown([_rec("z", True)], ROWS, "subject", 1)
    assert list(missing) == ["(none)"] and missing["(none)"]["rows"] == 1


def test_judge_accuracy_and_agreement_come_from_both_verdicts():
    records = [_rec("a", True, True), _rec("b", False, True), _rec("c", False, False), _rec("d", True, False)]
    judged = judge_summary(records, samples=1)
    assert judged["judge_accuracy"] == 0.5 and judged["judge_agreement"] == 0.5
    assert judge_summary([_rec("a", True)], 1) == {}


def test_mmstar_paper_metric_is_the_mean_of_category_accuracies_not_of_rows():
    rows = {**ROWS, "e": {"id": "e", "meta": {"l2_category": "y"}}}
    # x: a, b right (1.0); y: c, d, e with one right (1/3). Rows: 3/5 = 0.6; categories: (1.0 + 1/3) / 2.
    records = [_rec("a", True), _rec("b", True), _rec("c", True), _rec("d", False), _rec("e", False)]
    metrics = paper_metrics(resolve_protocol("paper", "mmstar"), records, rows, samples=1)
    assert metrics["macro:l2_category"]["accuracy"] == pytest.approx(2 / 3)
    assert metrics["macro:l2_category"]["groups"] == 2


def test_mathvision_geometry_average_is_over_geometry_subjects_only():
    records = [_rec("a", True), _rec("b", True), _rec("c", False), _rec("d", False)]
    metrics = paper_metrics(resolve_protocol("paper", "mathvision"), records, ROWS, samples=1)
    assert metrics["geometry"]["accuracy"] == 0.5  # (angle 1.0 + solid 0.0) / 2; algebra left out
    assert metrics["geometry"]["subjects"] == ["metric geometry - angle", "solid geometry"]
    assert macro_accuracy({"x": {"accuracy": 1.0}, "y": {"accuracy": 0.0}}) == 0.5


LEVEL = "#######\n#@ $ .#\n#######"  # push the box right twice


def test_sokoban_plan_is_played_with_gym_sokoban_rewards():
    solved = plan_return("<think>push</think><answer>Right, Right, Right</answer>", LEVEL)
    # -0.1 (walk), -0.1 (push), -0.1 + 1 (box on target) + 10 (solved)
    assert solved == {"sokoban_return": 10.7, "sokoban_solved": True, "sokoban_moves": 3}
    short = plan_return("<answer>Right, Right</answer>", LEVEL)
    assert short["sokoban_solved"] is False and short["sokoban_return"] == -0.2
    blocked = plan_return("<answer>Left, Up</answer>", LEVEL)  # into walls: wasted steps, not errors
    assert blocked == {"sokoban_return": -0.2, "sokoban_solved": False, "sokoban_moves": 2}
    assert plan_return("I give up.", LEVEL)["sokoban_moves"] == 0


def test_sokoban_summary_is_solved_rate_and_mean_return():
    records = [
        {"sokoban_return": 10.8, "sokoban_solved": True},
        {"sokoban_return": -0.2, "sokoban_solved": False},
        {"correct": False},
    ]
    assert sokoban_summary(records) == {"solved_rate": 0.5, "mean_return": pytest.approx(5.3)}
    assert sokoban_summary([{"correct": True}]) == {}
