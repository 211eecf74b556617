"""Synthetic arithmetic: exact answers, short problems, deterministic, train/test disjoint."""

from __future__ import annotations

import re

from lmmr1_cli.data.synthetic.arithmetic import generate


def _value(problem: str) -> int:
    if m := re.fullmatch(r"What is (\d+) ([+\-×]) (\d+)\?", problem):
        a, op, b = int(m[1]), m[2], int(m[3])
        return a + b if op == "+" else a - b if op == "-" else a * b
    numbers = [int(n) for n in re.findall(r"\d+", problem)]
    if "more" in problem:
        return numbers[0] + numbers[1]
    if "gives away" in problem:
        return numbers[0] - numbers[1]
    return numbers[0] * numbers[1]


def test_answers_are_exact_integers():
    for row in generate("train", 300):
        assert row["answer"] == str(_value(row["problem"])), row
        assert row["answer_type"] == "math" and row["images"] == []


def test_problems_are_short():
    assert max(len(r["problem"]) for r in generate("train", 300)) <= 60


def test_same_seed_same_rows_other_seed_other_order():
    assert list(generate("train", 50)) == list(generate("train", 50))
    assert [r["problem"] for r in generate("train", 50, seed=1)] != [
        r["problem"] for r in generate("train", 50)
    ]


def test_train_and_test_never_share_a_problem_whatever_the_seed():
    train = {r["problem"] for seed in (0, 1) for r in generate("train", 400, seed=seed)}
    test = {r["problem"] for seed in (0, 1) for r in generate("test", 400, seed=seed)}
    assert not train & test
