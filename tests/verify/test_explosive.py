"""The explosive-answer rule (lmmr1_cli/verify/explosive.py, docs/verifier.md): recognised in milliseconds, never an
ordinary answer, wrong in both modes unless the gold is explosive too, and the verdict naive math-verify gives
wherever naive finishes within its limit."""

from __future__ import annotations

import time

import pytest

from lmmr1_cli.verify import VerifyItem, verify_batch_with_stats
from lmmr1_cli.verify.explosive import MAX_CHARS, MAX_DEPTH, explosive
from lmmr1_cli.verify.paper_batch import verify_paper_batch_with_stats
from lmmr1_cli.verify.pool import get_pool
from tests.verify.cases import GEOMETRY, MATH_TABLES

pytestmark = pytest.mark.usefixtures("verifier_pool")

EXPLOSIVE = {
    "power_tower": "9^{9^{9^{9^{9^{9}}}}}",
    "small_tower": "9^{9^{9}}",  # 370 million digits
    "symbolic_power_tower": "x^{9^{9^{9}}}",
    "huge_power": "2^{10^{6}}",
    "huge_factorial": "(10^{10})!",
    "factorial": "100000!",
    "huge_expansion": "(x+1)^{100000}",
    "expansion_left_right": "\\left(x+1\\right)^{1000}",
    "multivariate_expansion": "(x+y+z+1)^{20}",
    "product_of_expansions": "(x+1)^{50}(y+1)^{50}",
    "nested_braces": "{" * 10_000 + "1" + "}" * 10_000,
    "nested_parentheses": "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1),
    "megabyte": "1+" * 500_000 + "1",
    "long": "1+" * (MAX_CHARS // 2) + "1",
}

# Flagged, yet small enough that naive math-verify finishes within its limit on the 2-core box: the rule's
# verdict (wrong) must be naive's verdict against an ordinary gold.
NAIVE_FINISHES = ["(x+1)^{300}", "(x+y+1)^{25}", "2^{400000}", "30000!", "1+" * 1100 + "1"]


@pytest.mark.parametrize("name", sorted(EXPLOSIVE))
def test_explosive_answers_are_recognised_without_parsing(name: str) -> None:
    # A linear scan: bench/verify_bench.py times it; here a hang guard only (parsing these would take minutes).
    start = time.perf_counter()
    assert explosive(EXPLOSIVE[name]) is not None
    assert time.perf_counter() - start < 10


def test_no_answer_of_the_verifier_tables_is_explosive() -> None:
    answers = {text for table in MATH_TABLES.values() for gold, answer, _ in table for text in (gold, answer)}
    answers |= {text for gold, answer, *_ in GEOMETRY for text in (gold, answer)}
    ordinary = ["(x+1)^{2}(x-1)^{3}", "(x+1)^{200}", "2^{2024}", "x^{1000000}", "20!", "\\frac{(n+1)!}{2}"]
    assert [a for a in sorted(answers | set(ordinary)) if explosive(a)] == []


def test_explosive_answers_are_wrong_in_both_modes_before_sympy() -> None:
    answers = list(EXPLOSIVE.values())
    start = time.perf_counter()
    verdicts, stats = verify_batch_with_stats([(f"<answer>\\boxed{{{a}}}</answer>", "42") for a in answers])
    assert not any(v.correct for v in verdicts)
    assert stats.worker_items == 0  # none reached a worker
    responses = [f"<think>a</think><answer>$\\boxed{{{a}}}$</answer>" for a in answers]
    paper, paper_stats = verify_paper_batch_with_stats([VerifyItem(r, "42") for r in responses])
    assert not any(v.correct for v in paper) and {v.reason for v in paper} == {"explosive"}
    assert paper_stats.explosive == len(answers) and paper_stats.pool_checks == 0
    assert time.perf_counter() - start < 60  # a hang guard: the counts above say no check reached sympy


def test_an_explosive_gold_takes_the_pair_to_the_pool() -> None:
    answer = "<think>a</think><answer>$\\boxed{(x+1)^{300}}$</answer>"
    paper, stats = verify_paper_batch_with_stats([VerifyItem(answer, "(x+1)^{300}")], timeout=20.0)
    assert paper[0].correct and stats.pool_checks == 1
    verdicts, strict_stats = verify_batch_with_stats([(answer, "(x+1)^{300}")], timeout=20.0)
    assert verdicts[0].correct


@pytest.mark.parametrize("answer", NAIVE_FINISHES)
def test_where_naive_math_verify_finishes_it_agrees_with_the_rule(answer: str) -> None:
    assert explosive(answer) is not None
    response = f"<think>a</think><answer>$\\boxed{{{answer}}}$</answer>"
    # naive: the official rule (paper mode) and lmmr1's sympy comparison (strict mode), with no rule in front
    naive = get_pool().run(
        [("paper_math", response, "42"), ("compare", "42", "math", False, answer)], timeout=20.0
    )
    assert [(ok, reason) for ok, reason, *_ in naive] == [(False, "wrong")] * 2
    paper, _ = verify_paper_batch_with_stats([VerifyItem(response, "42")])
    strict, _ = verify_batch_with_stats([(response, "42")])
    assert not paper[0].correct and not strict[0].correct
