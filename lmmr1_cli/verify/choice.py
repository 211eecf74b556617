"""Multiple choice: the gold is a letter (or an option's text); the prediction may spell the letter many ways
(`B`, `(B)`, `B.`, `B)`, `Option B`, `\\text{(B)}`, `B: 60`) or give the option's text when the choices are known.
"""

from __future__ import annotations

import re

from lmmr1_cli.verify.numbers import normalize, numbers_equal, parse_number
from lmmr1_cli.verify.verdicts import GoldParseError

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox)\{([^{}]*)\}")
_LETTER_ALONE = re.compile(
    r"(?:(?:the\s+)?(?:correct\s+)?(?:answer|option|choice)(?:\s+is)?\s*[:：]?\s*)?"
    r"[(\[]?\s*([A-Z])\s*[)\].:：]?",
    re.IGNORECASE,
)
_LETTER_LEAD = re.compile(r"[(\[]?([A-Z])[)\].:：]\s+\S")


def _clean(text: str) -> str:
    s = _TEXT_CMD.sub(r"\1", text)
    return normalize(s).strip().rstrip(".").strip()


def option_letter(index: int) -> str:
    return _LETTERS[index]


def parse_gold_letter(gold: str, choices: tuple[str, ...] | None) -> str:
    """The gold's letter: `B`, `(B)`, `\\boxed{B}` -> `B`; an option's text -> its letter."""
    from lmmr1_cli.verify.extract import last_boxed

    text = last_boxed(gold) or gold
    letter = letter_of(text)
    if letter is not None and (choices is None or _LETTERS.index(letter) < len(choices)):
        return letter
    if choices:
        found = match_option_text(text, choices)
        if found is not None:
            return found
    raise GoldParseError(f"multiple-choice gold {gold[:80]!r} is neither a letter nor one of the choices")


def letter_of(answer: str) -> str | None:
    """The single option letter an answer names, or None (`Option B`, `(b)` -> `B`; `A or B` -> None)."""
    s = _clean(answer)
    if len(s) > 200:
        return None
    m = _LETTER_ALONE.fullmatch(s)
    if m:
        return m.group(1).upper()
    m = _LETTER_LEAD.match(s)  # "B. 60 degrees", "(B) 60": the letter leads, the option text follows
    if m and m.group(1).isupper():
        return m.group(1)
    return None


def match_option_text(answer: str, choices: tuple[str, ...]) -> str | None:
    """The letter whose option text the answer equals (text, or number for numeric options), else None."""
    s = _clean(answer).lower()
    number = parse_number(answer)
    hits = []
    for index, option in enumerate(choices):
        text = _clean(str(option)).lower()
        if text and text == s:
            hits.append(index)
            continue
        option_number = parse_number(str(option))
        if number is not None and option_number is not None and numbers_equal(option_number, number):
            hits.append(index)
    return option_letter(hits[0]) if len(hits) == 1 else None


def check_choice(pred: str, gold_letter: str, choices: tuple[str, ...] | None) -> bool:
    """True iff the prediction names the gold option (by letter, or by its text when choices are known)."""
    letter = letter_of(pred)
    if letter is None and choices:
        letter = match_option_text(pred, choices)
    return letter == gold_letter
