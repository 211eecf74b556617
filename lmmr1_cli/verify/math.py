"""Math and geometry answers, in-process part: the gold's core text, the plain-number fast path, and the cheap
guards that keep pathological answers away from sympy. Symbolic comparison lives in `symbolic.py` (workers)."""

from __future__ import annotations

import re

from lmmr1_cli.verify.evaluate import TooLarge, evaluate
from lmmr1_cli.verify.extract import last_boxed
from lmmr1_cli.verify.numbers import normalize, numbers_equal, parse_number, strip_degrees
from lmmr1_cli.verify.types import GoldParseError, ParsedGold

MAX_ANSWER_CHARS = (
    1000  # an extracted math answer longer than this is not an answer (math-verify would grind)
)
MAX_BRACE_DEPTH = (
    40  # 10,000 nested braces overflow the LaTeX parser's recursion; no real answer nests this deep
)
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


def brace_depth(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch == "{" or ch == "(" or ch == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}" or ch == ")" or ch == "]":
            depth -= 1
    return deepest


def precheck(gold: ParsedGold, answer: str) -> tuple[bool, str] | None:
    """Decide in-process when possible: (correct, reason), or None to send the pair to a worker."""
    if len(answer) > MAX_ANSWER_CHARS or brace_depth(answer) > MAX_BRACE_DEPTH:
        return False, "too_long"
    if gold.answer_type == "geometry":
        answer = strip_geometry_units(answer)
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
    if gold.value is not None and value is not None and clearly_different(gold.value, value):
        return False, "wrong"
    if not gold.huge and has_huge_exponent(answer):
        return False, "wrong"  # x^{9^{9^{9}}}: sympy would try to build a 370-million-digit integer
    return None


def has_huge_exponent(text: str) -> bool:
    """True if some `^{...}` exponent is a closed form too large for a float (a power tower)."""
    start = text.find("^{")
    while start >= 0:
        group = _braced(text, start + 1)
        if group is not None:
            try:
                evaluate(group)
            except TooLarge:
                return True
        start = text.find("^{", start + 2)
    return False


def _braced(text: str, open_at: int) -> str | None:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return None


def canonical(text: str) -> str:
    """Spelling-only normalization: identical canonical strings are the same answer."""
    s = _CANON_NOISE.sub("", text)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return "".join(s.split()).rstrip(".")


def clearly_different(a: float, b: float) -> bool:
    """Values farther apart than math-verify's 6-decimal rounding could merge (and than float error could
    explain); closer pairs go to sympy for an exact answer."""
    return abs(a - b) > max(1e-6, 1e-6 * max(abs(a), abs(b)))
