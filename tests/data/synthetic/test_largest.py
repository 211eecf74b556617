"""Synthetic "largest of three digits": exact golds, balanced answers, held-out digit sets never trained on."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from lmmr1_cli.data.synthetic.largest import digit_sets, generate
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.verify import parse_gold, verify


def _digits(problem: str) -> list[int]:
    return [int(d) for d in re.findall(r"\d", problem)]


def test_gold_is_the_largest_of_three_distinct_digits():
    for row in generate("train", 100):
        digits = _digits(row["problem"])
        assert len(set(digits)) == 3 and row["answer"] == str(max(digits))
        parse_gold(row["answer"], "math")


def test_a_correct_tagged_answer_verifies_and_a_wrong_one_does_not():
    row = next(generate("test", 1))
    gold = row["answer"]
    assert verify(f"<think>t</think><answer>{gold}</answer>", gold, "math").correct
    wrong = str(min(_digits(row["problem"])))
    assert not verify(f"<think>t</think><answer>{wrong}</answer>", gold, "math").correct


def test_answers_are_balanced_so_always_nine_is_not_a_shortcut():
    counts = Counter(row["answer"] for row in generate("test", 64))
    assert set(counts) == {str(d) for d in range(3, 10)}
    assert max(counts.values()) <= 64 // 7 + 3


def test_test_digit_sets_never_appear_in_training():
    train = {tuple(sorted(_digits(r["problem"]))) for r in generate("train", 400)}
    test = {tuple(sorted(_digits(r["problem"]))) for r in generate("test", 100)}
    assert test and not train & test
    assert test <= {s for sets in digit_sets("test").values() for s in sets}


def test_deterministic_in_seed():
    assert [r["problem"] for r in generate("train", 20)] == [r["problem"] for r in generate("train", 20)]
    assert [r["problem"] for r in generate("train", 20, seed=1)] != [
        r["problem"] for r in generate("train", 20)
    ]


def test_asking_for_more_problems_than_exist_is_a_config_error():
    with pytest.raises(ConfigError, match="only 144 distinct test problems"):
        list(generate("test", 500))
