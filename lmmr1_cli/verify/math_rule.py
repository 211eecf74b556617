"""Math and geometry answers, in-process part: the gold's core text, the plain-number fast path, and the cheap
guards that keep pathological answers away from sympy. Symbolic comparison lives in `symbolic.py` (workers)."""

from __future__ import annotations

import functools
import re

from mpmath import mpf

from lmmr1_cli.verify.closed_form import TooLarge, evaluate
from lmmr1_cli.verify.explosive import brace_depth, braced_group, explosive
from lmmr1_cli.verify.extract import last_boxed
from lmmr1_cli.verify.numbers import normalize, numbers_equal, parse_number, strip_degrees
from lmmr1_cli.verify.verdicts import EXPLOSIVE, GoldParseError, ParsedGold

# An extracted math answer longer than this is not an answer (math-verify would grind on it).
MAX_ANSWER_CHARS = 1000
# 10,000 nested braces overflow the LaTeX parser's recursion; no real answer nests this deep.
MAX_BRACE_DEPTH = 40
_SAME_REL = mpf(10) ** -50
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z])\s*=\s*([^=<>]+)$")
_SEQUENCE = re.compile(r"^\s*(\\\{|\(|\[)(.*)(\\\}|\)|\])\s*$")
_CANON_NOISE = re.compile(r"\\left|\\right|\\!|\\,|\\;|\\displaystyle|\$")
_E_NOTATION = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)[eE]([+-]?\d+)\s*$")
_GEOMETRY_UNIT = re.compile(
    r"(?<=[\d}])\s*(?:cm|mm|km|m|in|inches|ft|feet|units?|square\s+units|sq\.?\s*units)(?:\^\{?[23]\}?|²|³)?$"
)


def latex_e_notation(text: str) -> str:
    """`2.5e-3` -> `2.5\\times10^{-3}`: math-verify reads `1e-9` as Euler's number minus 9."""
    return _E_NOTATION.sub(r"\1\\times10^{\2}", text)


def gold_core(gold: str) -> str:
    """The answer inside a gold's wrappers: `$\\boxed{60}$` -> `60`, `$x=3$` -> `x=3`."""
    text = gold.strip()
    boxed = last_boxed(text)
    if boxed is not None:
        text = boxed
    text = text.strip()
    while len(text) >= 2 and text[0] == "$" and text[-1] == "$":
        text = text[1:-1].strip()
    return text


def parse_math_gold(gold: str, answer_type: str) -> ParsedGold:
    """Light parse (no sympy): the core text, and its value when it is a plain number."""
    if not isinstance(gold, str):
        raise GoldParseError(f"gold answer must be a string, got {type(gold).__name__}")
    core = gold_core(gold)
    if not core:
        raise GoldParseError(f"gold answer {gold[:80]!r} is empty")
    if len(core) > MAX_ANSWER_CHARS or brace_depth(core) > MAX_BRACE_DEPTH:
        raise GoldParseError(f"gold answer {gold[:80]!r} is too long or too deeply nested")
    if answer_type == "geometry":
        core = strip_geometry_units(core)
    _, degrees = strip_degrees(normalize(core))
    number = parse_number(core)
    core = latex_e_notation(core)
    value, huge = None, False
    try:
        value = evaluate(core)
    except TooLarge:
        huge = True
    return ParsedGold(
        answer_type=answer_type, raw=gold, core=core, number=number, degrees=degrees, value=value, huge=huge
    )


def strip_geometry_units(text: str) -> str:
    """Geometry leniency: `5 cm`, `12 square units` -> the number."""
    return _GEOMETRY_UNIT.sub("", text).strip() or text


def precheck(gold: ParsedGold, answer: str) -> tuple[bool, str] | None:
    """Decide in-process when possible: (correct, reason), or None to send the pair to a worker."""
    if len(answer) > MAX_ANSWER_CHARS or brace_depth(answer) > MAX_BRACE_DEPTH:
        return False, "too_long"
    if gold.answer_type == "geometry":
        answer = strip_geometry_units(answer)
    decided = _compare_assignment(gold.core, answer)
    if decided is None:
        decided = _compare_number_sequences(gold.core, answer)
    if decided is not None:
        return decided, "correct" if decided else "wrong"
    if gold.number is not None:
        number = parse_number(answer)
        if number is not None:
            ok = numbers_equal(gold.number, number)
            return ok, "correct" if ok else "wrong"
    if canonical(answer) == canonical(gold.core):
        return True, "correct"
    try:
        value = evaluate(latex_e_notation(answer))
    except TooLarge:
        # Astronomically large (a power tower): unequal to any gold that is not itself huge, and sympy would hang.
        return None if gold.huge else (False, "wrong")
    if gold.value is not None and value is not None:
        if clearly_different(gold.value, value):
            return False, "wrong"
        if same_closed_form(gold.value, value):
            return True, "correct"
    if not gold.huge and has_huge_exponent(answer):
        return False, "wrong"  # x^{9^{9^{9}}}: sympy would try to build a 370-million-digit integer
    if explosive(answer) and not gold_is_explosive(gold.core):
        return False, EXPLOSIVE  # (x+1)^{100000}: sympy would expand it (docs/verifier.md)
    return None


@functools.lru_cache(maxsize=4096)
def gold_is_explosive(core: str) -> bool:
    return explosive(core) is not None


def _split_assignment(text: str) -> tuple[str | None, str]:
    match = _ASSIGNMENT.match(text)
    return (match.group(1), match.group(2)) if match else (None, text)


def _compare_assignment(gold: str, answer: str) -> bool | None:
    """`x=3` vs `3`, `3` vs `x=3`, `x=3` vs `x=4`: math-verify matches an equation's value either way."""
    gold_var, gold_value = _split_assignment(gold)
    answer_var, answer_value = _split_assignment(answer)
    if gold_var is None and answer_var is None:
        return None
    if gold_var is not None and answer_var is not None and gold_var != answer_var:
        return None
    gold_number, answer_number = parse_number(gold_value), parse_number(answer_value)
    if gold_number is None or answer_number is None:
        return None
    return numbers_equal(gold_number, answer_number)


def number_sequence(text: str) -> tuple[str, str, list] | None:
    """`\\{1,2\\}` -> ("{", "}", [1, 2]); `[1,2)` -> ("[", ")", [1, 2]); None unless all elements are numbers."""
    match = _SEQUENCE.match(text)
    if match is None:
        return None
    opening, body, closing = match.groups()
    parts = [part.strip() for part in body.split(",")]
    if len(parts) < 2 or any(re.fullmatch(r"\d{3}", part) for part in parts[1:]):
        return None  # `1,000` inside brackets could be a thousands separator
    numbers = [parse_number(part) for part in parts]
    if any(n is None or n.percent for n in numbers):
        return None
    return opening.lstrip("\\"), closing.lstrip("\\"), numbers


def _compare_number_sequences(gold: str, answer: str) -> bool | None:
    """Sets (unordered), intervals and tuples (ordered, brackets matter) of plain numbers, without sympy."""
    g, a = number_sequence(gold), number_sequence(answer)
    if g is None or a is None:
        return None
    (g_open, g_close, g_items), (a_open, a_close, a_items) = g, a
    if (g_open == "{") != (a_open == "{"):
        return None  # set vs tuple/interval: leave math-verify's reading to the worker
    if g_open == "{":
        return all(any(numbers_equal(x, y) for y in a_items) for x in g_items) and all(
            any(numbers_equal(x, y) for x in g_items) for y in a_items
        )
    if (g_open, g_close) != (a_open, a_close):
        is_interval = len(g_items) == 2 == len(a_items) and g_items[0].value < g_items[1].value
        return False if is_interval and a_items[0].value < a_items[1].value else None
    return len(g_items) == len(a_items) and all(
        numbers_equal(x, y) for x, y in zip(g_items, a_items, strict=True)
    )


def has_huge_exponent(text: str) -> bool:
    """True if some `^{...}` exponent is a closed form too large for a float (a power tower)."""
    start = text.find("^{")
    while start >= 0:
        group = braced_group(text, start + 1)
        if group is not None:
            try:
                evaluate(group)
            except TooLarge:
                return True
        start = text.find("^{", start + 2)
    return False


def canonical(text: str) -> str:
    """Spelling-only normalization: identical canonical strings are the same answer."""
    s = _CANON_NOISE.sub("", text)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return "".join(s.split()).rstrip(".")


def same_closed_form(a, b) -> bool:
    """Equal to 50 significant digits (or both exactly 0): `\\sqrt{48}` and `4\\sqrt{3}`. math-verify compares
    at 15 digits, so this is stricter than the verdict it replaces; tiny differences (pi ± 10^-20) still differ."""
    if a == 0 or b == 0:
        return a == b
    return abs(a - b) <= _SAME_REL * max(abs(a), abs(b))


def clearly_different(a, b) -> bool:
    """Values farther apart than math-verify's 6-decimal rounding could merge (and than float error could
    explain); closer pairs go to sympy for an exact answer."""
    return abs(a - b) > max(1e-6, 1e-6 * max(abs(a), abs(b)))
