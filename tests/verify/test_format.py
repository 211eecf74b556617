"""The format rule: <think>…</think> then <answer>…</answer>, DOTALL, one of each tag, only whitespace around."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import check_format

FORMAT_CASES = [
    ("<think>a</think><answer>1</answer>", True),
    ("<think>\nline one\nline two\n</think>\n<answer>\n42\n</answer>", True),
    ("  <think>a</think>  \n <answer>1</answer>\n\n", True),
    ("<think></think><answer></answer>", True),
    ("<think>a</think>", False),
    ("<answer>1</answer>", False),
    ("<answer>1</answer><think>a</think>", False),
    ("Sure! <think>a</think><answer>1</answer>", False),
    ("<think>a</think><answer>1</answer> Done.", False),
    ("<think>a</think> so <answer>1</answer>", False),
    ("<think>a<think>b</think><answer>1</answer>", False),
    ("<think>a</think><answer>1</answer><answer>2</answer>", False),
    ("<think>a</think></think><answer>1</answer>", False),
    ("<think>a</think><answer>1", False),
    ("<think>a</think><answer>1</answer></answer>", False),
    ("", False),
]


@pytest.mark.parametrize(("completion", "expected"), FORMAT_CASES)
def test_format_rule(completion: str, expected: bool) -> None:
    assert check_format(completion) is expected


def test_format_allows_newlines_everywhere_unlike_open_r1_multimodal() -> None:
    # open-r1-multimodal's regex lacked DOTALL, so any newline in the reasoning failed the format reward.
    assert check_format("<think>\nstep 1\n\nstep 2\n</think>\n<answer>\n\\boxed{3}\n</answer>")


def test_format_on_a_megabyte_is_fast() -> None:
    import time

    start = time.perf_counter()
    assert check_format("<think>" + "x" * 1_000_000 + "</think><answer>1</answer>")
    assert time.perf_counter() - start < 5.0  # backtracking on a megabyte would take minutes; 5 s spares load
