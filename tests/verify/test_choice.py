"""Multiple choice: letters in every common spelling, and option texts when the choices are known."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import GoldParseError, parse_gold, verify
from tests.verify.cases import CHOICE_LETTERS, CHOICE_TEXTS

CHOICES = ["30", "60", "90", "120"]


@pytest.mark.parametrize(
    ("gold", "answer", "expected"), CHOICE_LETTERS, ids=[f"{g}|{a}" for g, a, _ in CHOICE_LETTERS]
)
def test_choice_letter_spellings(gold: str, answer: str, expected: bool) -> None:
    verdict = verify(f"<think>compare options</think><answer>{answer}</answer>", gold, "choice", CHOICES)
    assert verdict.correct is expected, verdict


@pytest.mark.parametrize(
    ("gold", "answer", "choices", "expected"), CHOICE_TEXTS, ids=[f"{g}|{a}" for g, a, _, _ in CHOICE_TEXTS]
)
def test_choice_option_texts(gold: str, answer: str, choices: list[str], expected: bool) -> None:
    verdict = verify(f"<think>compare options</think><answer>{answer}</answer>", gold, "choice", choices)
    assert verdict.correct is expected, verdict


def test_choice_gold_that_is_no_letter_and_no_option_is_rejected() -> None:
    with pytest.raises(GoldParseError):
        parse_gold("seventy", "choice", CHOICES)


def test_choice_gold_letter_beyond_the_options_is_rejected() -> None:
    with pytest.raises(GoldParseError):
        parse_gold("F", "choice", CHOICES)
