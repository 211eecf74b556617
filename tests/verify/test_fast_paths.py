"""In-process decisions (no sympy): each must give math-verify's verdict, and must not reach a worker."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import verify_batch_with_stats

FAST = [
    # closed forms equal to 50 digits, or clearly different
    ("\\sqrt{48}", "4\\sqrt{3}", True),
    ("\\frac{5}{6}\\pi", "\\frac{5\\pi}{6}", True),
    ("(1+\\sqrt{2})^2", "3+2\\sqrt{2}", True),
    ("4\\sqrt{2}", "4\\sqrt{3}", False),
    ("\\frac{\\pi}{6}", "\\frac{5\\pi}{6}", False),
    ("2^{2^{2^{2^{2}}}}", "2^{65536}", True),
    # assignments
    ("x=3", "3", True),
    ("3", "x=3", True),
    ("x=3", "x=-3", False),
    ("k=\\frac{1}{2}", "0.5", True),
    # sets, intervals, tuples of numbers
    ("\\{3,1,2\\}", "\\{1,2,3\\}", True),
    ("\\{1,2\\}", "\\{1,2,3\\}", False),
    ("[1,2)", "(1,2)", False),
    ("(1,2)", "(2,1)", False),
    ("(0.5,1)", "(\\frac{1}{2},1)", True),
    ("(1,2,3)", "(1,3,2)", False),
]


@pytest.mark.parametrize(("answer", "gold", "expected"), FAST)
def test_decided_in_process(answer: str, gold: str, expected: bool) -> None:
    [verdict], stats = verify_batch_with_stats([(f"<answer>\\boxed{{{answer}}}</answer>", gold)])
    assert verdict.correct is expected
    assert stats.in_process == 1


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("\\pi-10^{-20}", "\\pi+10^{-20}"),
        ("1.047198", "\\frac{\\pi}{3}"),
        ("x+1", "1+x"),
        ("\\{1,2\\}", "(1,2)"),
    ],
)
def test_close_calls_and_symbols_still_go_to_sympy(answer: str, gold: str) -> None:
    _, stats = verify_batch_with_stats([(f"<answer>\\boxed{{{answer}}}</answer>", gold)])
    assert stats.in_process == 0  # a worker's verdict (or its cached result)
