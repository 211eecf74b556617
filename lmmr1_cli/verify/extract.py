"""Find the answer to score: the `<answer>` span (then its last `\\boxed{}`), never the `<think>` reasoning.

Everything here is a linear scan (str.find, one brace counter), so a 1 MB completion or 10,000 nested braces
cost milliseconds and never reach the worker pool.
"""

from __future__ import annotations

from dataclasses import dataclass

_BOXED_MARKERS = ("\\boxed{", "\\fbox{")


@dataclass(frozen=True)
class Extraction:
    """The answer text and where it came from: `boxed` (inside `\\boxed{}`), `span` (the whole answer span)."""

    text: str
    source: str


def strip_think(text: str) -> str:
    """Remove every `<think>…</think>` block; an unterminated `<think>` hides everything after it.

    >>> strip_think("<think>x=1</think><answer>2</answer>")
    '<answer>2</answer>'
    """
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("<think>", pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        end = text.find("</think>", start)
        if end < 0:
            break
        pos = end + len("</think>")
    # A stray `</think>` without an opening tag (the chat template often opens it): drop what precedes it.
    joined = "".join(parts)
    cut = joined.rfind("</think>")
    return joined[cut + len("</think>") :] if cut >= 0 else joined


def answer_span(text: str) -> str | None:
    """The content of the last complete `<answer>…</answer>` span, or None."""
    end = text.rfind("</answer>")
    if end < 0:
        return None
    start = text.rfind("<answer>", 0, end)
    if start < 0:
        return None
    return text[start + len("<answer>") : end]


def last_boxed(text: str) -> str | None:
    """Content of the last balanced `\\boxed{…}` (or `\\fbox{…}`) in `text`; None if absent or unbalanced.

    >>> last_boxed("so \\\\boxed{\\\\frac{1}{2}}.")
    '\\\\frac{1}{2}'
    """
    start = max(text.rfind(marker) for marker in _BOXED_MARKERS)
    while start >= 0:
        open_at = text.index("{", start)
        content = _balanced(text, open_at)
        if content is not None:
            return content
        # Unbalanced last box: an earlier complete one is not the final answer either.
        return None
    return None


def _balanced(text: str, open_at: int) -> str | None:
    depth = 0
    i = open_at
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "{}":
            i += 2  # escaped brace: \{ and \} are set delimiters, not grouping
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
        i += 1
    return None


def extract_answer(completion: str, *, boxed_fallback: bool = False) -> Extraction | None:
    """The answer to score in `completion`, or None.

    From the last `<answer>…</answer>` outside `<think>`: its last `\\boxed{}` if any, else the whole span.
    With `boxed_fallback`, a completion without an answer span falls back to its last `\\boxed{}` (outside
    `<think>`).

    >>> extract_answer("<think>maybe 3</think><answer>\\\\boxed{4}</answer>")
    Extraction(text='4', source='boxed')
    """
    if not isinstance(completion, str):
        return None
    text = strip_think(completion.replace("\x00", ""))
    span = answer_span(text)
    if span is not None:
        if any(marker in span for marker in _BOXED_MARKERS):
            boxed = last_boxed(span)
            return Extraction(boxed.strip(), "boxed") if boxed is not None and boxed.strip() else None
        return Extraction(span.strip(), "span") if span.strip() else None
    if boxed_fallback:
        boxed = last_boxed(text)
        if boxed is not None and boxed.strip():
            return Extraction(boxed.strip(), "boxed")
    return None
