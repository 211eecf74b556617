"""Extraction: the <answer> span, then its last \\boxed{} (nested braces right), never the <think> text."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import extract_answer, verify

EXTRACT_CASES = [
    # (completion, boxed_fallback, expected text or None)
    ("<think>t</think><answer>42</answer>", False, "42"),
    ("<think>t</think><answer> \\boxed{42} </answer>", False, "42"),
    ("<think>t</think><answer>so \\boxed{\\frac{1}{2}} done</answer>", False, "\\frac{1}{2}"),
    ("<answer>\\boxed{\\frac{\\sqrt{3}}{\\sqrt{\\pi}}}</answer>", False, "\\frac{\\sqrt{3}}{\\sqrt{\\pi}}"),
    ("<answer>\\boxed{1} then \\boxed{2}</answer>", False, "2"),
    ("<answer>\\boxed{\\{1,2\\}}</answer>", False, "\\{1,2\\}"),
    ("<answer>\\fbox{7}</answer>", False, "7"),
    ("<think>\\boxed{9}</think><answer>3</answer>", False, "3"),
    ("<think>the answer is <answer>9</answer></think><answer>3</answer>", False, "3"),
    ("<think>the answer is <answer>9</answer></think>", False, None),
    ("<think>the answer is <answer>9</answer> but wait", False, None),
    ("<think>t</think> \\boxed{5}", False, None),
    ("<think>t</think> \\boxed{5}", True, "5"),
    ("<think>\\boxed{5}</think> no box here", True, None),
    ("reasoning \\boxed{5}", True, "5"),
    ("<answer>\\boxed{5</answer>", False, None),
    ("<answer></answer>", False, None),
    ("<answer>   </answer>", False, None),
    ("<answer>\\boxed{}</answer>", False, None),
    ("<answer>4", False, None),
    ("reasoning</think><answer>8</answer>", False, "8"),
    ("<answer>1</answer><answer>2</answer>", False, "2"),
    ("<answer>a\x00b</answer>", False, "ab"),
]


@pytest.mark.parametrize(("completion", "fallback", "expected"), EXTRACT_CASES)
def test_extract_answer(completion: str, fallback: bool, expected: str | None) -> None:
    found = extract_answer(completion, boxed_fallback=fallback)
    assert (found.text if found else None) == expected


def test_text_inside_think_is_never_scored() -> None:
    verdict = verify("<think>The answer is 12. \\boxed{12}</think>", "12", boxed_fallback=True)
    assert verdict == verdict.__class__(False, None, "no_answer")


def test_no_answer_span_is_no_answer_without_fallback() -> None:
    assert verify("The answer is \\boxed{12}", "12").reason == "no_answer"
    assert verify("The answer is \\boxed{12}", "12", boxed_fallback=True).correct


def test_nested_braces_in_boxed_are_matched() -> None:
    assert verify("<answer>\\boxed{\\frac{2}{\\sqrt{4}}}</answer>", "1").correct
