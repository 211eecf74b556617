"""Small conversions every adapter shares: answers to strings, image columns to lists, choice letters."""

from __future__ import annotations

import re
from typing import Any

from lmmr1_cli.data.validate import RowDropped

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_OPTION_LINE = re.compile(r"^\s*\(?([A-H])[).:]\s*(.+?)\s*$", re.MULTILINE)
_DOLLARS = re.compile(r"\$+(.*?)\$+", re.DOTALL)
_BOXED = re.compile(r"\\boxed\{(.*)\}", re.DOTALL)
_TEXT = re.compile(r"\\(?:text|mathrm|textbf)\{(.*)\}", re.DOTALL)


def answer_text(value: Any, column: str) -> str:
    """A gold as a string; a one-element list (OlympiadBench's `final_answer`) is unwrapped."""
    if isinstance(value, list):
        if not value:
            raise RowDropped("missing_answer", f"column {column!r} is an empty list")
        value = value[0] if len(value) == 1 else ", ".join(str(v) for v in value)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowDropped("missing_answer", f"column {column!r} is empty")
    return str(value).strip()


def image_list(value: Any) -> list[Any]:
    """An image column (one image, a list, None, or an empty `{"bytes": None, "path": None}`) as a list."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [
        v for v in items if not (isinstance(v, dict) and not v.get("bytes") and not v.get("path")) and v != ""
    ]


def choice_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return None if not value.strip() else [value]
    items = [str(v) for v in value]
    return items or None


def choice_text_to_letter(answer: str, choices: list[str]) -> str:
    """MathVista-style gold (the option text) -> its letter; a gold that already is a letter stays."""
    if len(answer) == 1 and answer.upper() in LETTERS[: len(choices)]:
        return answer.upper()
    for i, text in enumerate(choices):
        if text.strip() == answer.strip():
            return LETTERS[i]
    raise RowDropped("gold_unparseable", f"gold {answer!r:.60} is not one of the choices {choices}")


def detect_options(problem: str, answer: str) -> list[str] | None:
    """Option texts when `problem` lists lettered options (`(A) 3`, `B. 4`) and the gold is one of the letters."""
    options = _OPTION_LINE.findall(problem)
    letters = [letter for letter, _ in options]
    if len(options) < 2 or letters != list(LETTERS[: len(options)]):
        return None
    return [text for _, text in options] if choice_letter(answer) in letters else None


def choice_letter(answer: str) -> str:
    r"""A gold as a bare upper-case letter candidate: `$\boxed{C}$`, `\text{(C)}`, `(c).` -> `C`.

    >>> choice_letter("$\\boxed{C}$"), choice_letter("(b)."), choice_letter("60")
    ('C', 'B', '60')
    """
    text = answer.strip()
    for pattern in (_DOLLARS, _BOXED, _TEXT):
        match = pattern.fullmatch(text)
        if match:
            text = match.group(1).strip()
    return text.rstrip(".").strip("()").strip().upper()


def problem_text(value: Any, column: str) -> str:
    """A problem must be text: a number or list in the problem column is a drop, never coerced to a string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RowDropped("missing_problem", f"column {column!r} is empty")
    if not isinstance(value, str):
        raise RowDropped("problem_not_text", f"column {column!r} holds {type(value).__name__}, not text")
    return value


def rebase_path(path: str, anchor: str | None) -> str:
    """Cut a foreign absolute path down to the part from `anchor` on, relative to the image root.

    LMM-R1's VerMulti messages carry cluster paths (`/apdcephfs_.../mathv60k_img/x.jpg`); with the anchor
    `mathv60k_img/` that becomes `mathv60k_img/x.jpg` under the dir where the image tarball was extracted.
    The result still goes through the image-root check, so an anchor can never open a way out of the root.
    """
    if not anchor:
        return path
    bare = path[len("file://") :] if path.startswith("file://") else path
    at = bare.find(anchor)
    return bare[at:] if at >= 0 else path
