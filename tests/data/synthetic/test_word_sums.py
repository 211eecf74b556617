"""Synthetic word sums: exact golds, several phrasings, held-out digit pairs never trained on."""

from __future__ import annotations

import re

from lmmr1_cli.data.synthetic.word_sums import PHRASINGS, generate
from lmmr1_cli.verify import verify


def _pair(problem: str) -> tuple[int, int]:
    a, b = (int(d) for d in re.findall(r"\d", problem))
    return min(a, b), max(a, b)


def test_gold_is_the_sum_and_a_tagged_answer_verifies():
    for row in generate("train", 60):
        a, b = _pair(row["problem"])
        assert row["answer"] == str(a + b)
        assert verify(f"<think>t</think><answer>{a + b}</answer>", row["answer"], "math").correct
        assert not verify(f"<think>t</think><answer>{a + b + 1}</answer>", row["answer"], "math").correct


def test_every_phrasing_appears_and_none_is_the_warm_up_form():
    problems = [row["problem"] for row in generate("train", 120)]
    for phrasing in PHRASINGS:
        assert any(
            re.fullmatch(re.escape(phrasing).replace(r"\{a\}", r"\d").replace(r"\{b\}", r"\d"), p)
            for p in problems
        )
    assert not any("+" in p for p in problems)


def test_held_out_pairs_are_never_trained_on():
    train = {_pair(r["problem"]) for r in generate("train", 250)}
    test = {_pair(r["problem"]) for r in generate("test", 64)}
    assert test and not train & test
