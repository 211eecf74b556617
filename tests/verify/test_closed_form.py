"""The in-process numeric pre-filter: closed forms evaluate, everything else is left to sympy."""

from __future__ import annotations

import math

import pytest

from lmmr1_cli.verify import verify_batch_with_stats
from lmmr1_cli.verify.closed_form import TooLarge, evaluate

VALUES = [
    ("\\frac{5\\pi}{6}", 5 * math.pi / 6),
    ("4\\sqrt{3}", 4 * math.sqrt(3)),
    ("\\sqrt[3]{8}", 2.0),
    ("2^{10}", 1024.0),
    ("-2^2", -4.0),
    ("(1+\\sqrt{2})^2", (1 + math.sqrt(2)) ** 2),
    ("\\frac12", 0.5),
    ("7!", 5040.0),
    ("2\\cdot 3", 6.0),
    ("\\left(3\\right)", 3.0),
]
NOT_CLOSED_FORMS = [
    "x+1",
    "\\pi r^2",
    "[1,2)",
    "1,000",
    "5\\%",
    "60^\\circ",
    "e^2",
    "3\\frac{1}{2}",
    "2^10",
    "{}",
    "x=3",
]
TOO_LARGE = ["9^{9^{9^{9}}}", "(10^{10})!", "2^{2^{2^{2^{2^{2}}}}}", "100000!"]


@pytest.mark.parametrize(("text", "value"), VALUES)
def test_closed_forms_evaluate(text: str, value: float) -> None:
    assert evaluate(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", NOT_CLOSED_FORMS)
def test_anything_else_is_left_to_sympy(text: str) -> None:
    assert evaluate(text) is None


@pytest.mark.parametrize("text", TOO_LARGE)
def test_astronomical_values_are_flagged_without_computing_them(text: str) -> None:
    with pytest.raises(TooLarge):
        evaluate(text)


def test_clearly_wrong_closed_forms_and_identical_spellings_never_reach_a_worker() -> None:
    items = [
        ("<answer>\\boxed{4\\sqrt{2}}</answer>", "4\\sqrt{3}"),
        ("<answer>\\boxed{\\frac{5\\pi}{6}}</answer>", "\\frac{\\pi}{6}"),
        ("<answer>\\boxed{9^{9^{9^{9}}}}</answer>", "7"),
        ("<answer>\\boxed{\\dfrac{\\sqrt{3}}{2}}</answer>", "\\frac{\\sqrt{3}}{2}"),
        ("<answer>[1, 2)</answer>", "[1,2)"),
    ]
    verdicts, stats = verify_batch_with_stats(items)
    assert [v.correct for v in verdicts] == [False, False, False, True, True]
    assert stats.worker_items == 0
