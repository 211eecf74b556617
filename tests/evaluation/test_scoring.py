"""Statistics and scoring of `lmmr1_cli/evaluation/scoring.py`."""

from __future__ import annotations

import itertools

import pytest

from lmmr1_cli.evaluation.scoring import (
    clustered_wilson_interval,
    pass_at_k,
    score_generations,
    summarize_records,
    wilson_interval,
)


def test_wilson_interval_matches_the_textbook_values():
    # Wilson (1927) / Newcombe (1998) example values: 8 of 10 -> [0.490, 0.943], 0 of 10 -> [0, 0.278].
    assert [round(x, 3) for x in wilson_interval(8, 10)] == [0.49, 0.943]
    assert [round(x, 3) for x in wilson_interval(0, 10)] == [0.0, 0.278]
    assert [round(x, 3) for x in wilson_interval(10, 10)] == [0.722, 1.0]
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_interval_narrows_with_more_samples():
    small, large = wilson_interval(5, 10), wilson_interval(500, 1000)
    assert small[1] - small[0] > 5 * (large[1] - large[0])
    low, high = clustered_wilson_interval([(0, 4), (2, 4), (4, 4), (2, 4)])
    assert 0.0 <= low < 0.5 < high <= 1.0


def test_mean_at_k_interval_of_zero_correct_is_not_a_point():
    # 128 prompts x 4 samples, none correct (the case): the old normal interval said 0.0-0.0.
    low, high = clustered_wilson_interval([(0, 4)] * 128)
    assert low == 0.0 and high == pytest.approx(wilson_interval(0, 128)[1]) and high > 0.02
    records = [
        {"id": str(i), "sample": s, "correct": False, "format": True, "tokens": 5, "reason": "wrong"}
        for i in range(128)
        for s in range(4)
    ]
    summary = summarize_records(records, samples=4)
    assert summary["ci95"][1] > 0.02 and summary["ci95_method"] == "wilson, prompt-clustered effective n"


def test_mean_at_k_interval_counts_prompts_not_samples_when_samples_agree():
    # Every sample of a prompt agrees: 4 samples carry no more information than 1, so n is the prompt count.
    agreeing = [(4, 4)] * 30 + [(0, 4)] * 70
    assert clustered_wilson_interval(agreeing) == pytest.approx(wilson_interval(30, 100))
    # Samples that vary within every prompt (2 of 4 each) count as independent samples: n is 400.
    assert clustered_wilson_interval([(2, 4)] * 100) == pytest.approx(wilson_interval(200, 400))


@pytest.mark.parametrize("n,c,k", [(5, 2, 1), (5, 2, 3), (6, 1, 4), (4, 0, 2), (4, 4, 2)])
def test_pass_at_k_is_the_chance_that_k_of_n_samples_contain_a_correct_one(n, c, k):
    outcomes = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(outcomes, k))
    brute = sum(any(s) for s in subsets) / len(subsets)
    assert pass_at_k(n, c, k) == pytest.approx(brute)


def test_generations_are_scored_by_the_project_verifier_and_the_format_rule():
    rows = [
        {"id": "a", "answer": "12", "answer_type": "math"},
        {"id": "b", "answer": "B", "answer_type": "choice", "choices": ["3", "4"]},
    ]
    completions = [
        ["<think>5+7</think><answer>\\boxed{12}</answer>", "the answer is 12"],
        ["<think>t</think><answer>4</answer>", "<think>t</think><answer>(A)</answer>"],
    ]
    scored = score_generations(rows, completions, timeout=2.0)
    verdicts = [[(v.correct, v.reason, fmt) for v, fmt in row] for row in scored]
    # Text outside <answer> is never scored, so "the answer is 12" has no answer; option text "4" is choice B.
    assert verdicts == [
        [(True, "correct", True), (False, "no_answer", False)],
        [(True, "correct", True), (False, "wrong", True)],
    ]


def test_summary_reports_mean_at_k_pass_at_k_and_format_rate():
    records = [
        {"id": "a", "sample": 0, "correct": True, "format": True, "tokens": 10, "reason": "correct"},
        {"id": "a", "sample": 1, "correct": False, "format": True, "tokens": 20, "reason": "wrong"},
        {"id": "b", "sample": 0, "correct": False, "format": False, "tokens": 30, "reason": "no_answer"},
        {"id": "b", "sample": 1, "correct": False, "format": True, "tokens": 40, "reason": "wrong"},
    ]
    summary = summarize_records(records, samples=2)
    assert summary["rows"] == 2 and summary["generations"] == 4
    assert summary["accuracy"] == summary["mean@2"] == 0.25
    assert summary["pass@2"] == 0.5
    assert summary["format_rate"] == 0.75 and summary["mean_tokens"] == 25
    assert summary["reasons"] == {"wrong": 2, "correct": 1, "no_answer": 1}
    low, high = summary["ci95"]
    assert low <= 0.25 <= high
