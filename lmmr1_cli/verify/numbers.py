"""Fast path for plain numbers: integers (with `1,000` separators), decimals, fractions, `\\frac`, mixed numbers,
scientific notation and percentages, compared exactly in-process without sympy.

Comparison mirrors math-verify's numeric rule (exact for exact numbers; rounding to 6 decimals when a decimal is
involved) plus a relative-tolerance guard, so tiny values stay distinct (math-verify: 1e-9 == 2e-9 after rounding).
"""

from __future__ import annotations

import re
from fractions import Fraction

from lmmr1_cli.verify.verdicts import Number

FLOAT_ROUNDING = 6  # math-verify's default float_rounding
FLOAT_REL_TOL = Fraction(1, 10**4)  # our guard on top of rounding: 1e-9 vs 2e-9 differ

_WRAPPERS = re.compile(r"\\(?:displaystyle|left|right|!|,|;|:| )|\$|\\\(|\\\)|\\\[|\\\]")
_TEXT_WRAP = re.compile(r"^\\(?:text|textbf|mathrm|mbox|mathbf)\{([^{}]*)\}$")
_UNIT_TAIL = re.compile(
    r"(?<=[\d}.])\s*\\(?:text|mathrm|mbox|textnormal)\{\s*[A-Za-z][A-Za-z .]*\}(?:\^\{?[23]\}?)?$"
)
_DEGREE_TAIL = re.compile(
    r"\s*(?:\^\{?\\circ\}?|\^\{\\circ\}|°|\\degree|\s+degrees?|\\text\{\s*degrees?\s*\})$"
)
_PERCENT_TAIL = re.compile(r"\s*(?:\\%|%|\\text\{\s*%\s*\}|\s+percent)$")

_INT = r"\d{1,3}(?:,\d{3})+|\d+"
_DEC = rf"(?:{_INT})?\.\d+|(?:{_INT})\.?"
_RE_DECIMAL = re.compile(rf"([+-]?)({_DEC})")
_RE_SLASH = re.compile(r"([+-]?)(\d+)/(\d+)")
_RE_FRAC = re.compile(r"([+-]?)(\d+)?\\[dt]?frac\{([+-]?)(\d+)\}\{(\d+)\}")
_RE_SCI = re.compile(rf"([+-]?)({_DEC})(?:\\times|\\cdot|\*|x)10\^(?:\{{([+-]?\d+)\}}|([+-]?\d))")
_RE_E = re.compile(rf"([+-]?)({_DEC})[eE]([+-]?\d+)")


def normalize(text: str) -> str:
    """Strip LaTeX spacing, delimiters, `\\text{}` wrappers and a trailing period: `$1{,}000.$` -> `1,000`."""
    s = _WRAPPERS.sub("", text).replace("{,}", ",").strip()
    s = s.rstrip(".").strip()
    match = _TEXT_WRAP.match(s)
    if match:
        s = match.group(1).strip()
    return s


def strip_degrees(text: str) -> tuple[str, bool]:
    """`60^\\circ` -> (`60`, True); text without a degree mark is returned as is."""
    stripped = _DEGREE_TAIL.sub("", text)
    return stripped.strip(), stripped != text


def strip_units(text: str) -> str:
    """Drop a trailing `\\text{cm}`-style unit after a number (math-verify drops these too)."""
    return _UNIT_TAIL.sub("", text).strip()


def parse_number(text: str) -> Number | None:
    """Parse a plain number as written; None for anything else (expressions, sets, words).

    >>> parse_number("1,000").value
    Fraction(1000, 1)
    >>> parse_number("3\\\\frac{1}{2}").value
    Fraction(7, 2)
    """
    s = normalize(text)
    s, _ = strip_degrees(strip_units(s))
    percent = False
    stripped = _PERCENT_TAIL.sub("", s)
    if stripped != s:
        percent, s = True, stripped.strip()
    s = s.replace(" ", "")
    if not s or len(s) > 64:
        return None
    value = _parse_plain(s)
    if value is None:
        return None
    exact, is_float = value
    return Number(exact, is_float=is_float, percent=percent)


def _sign(mark: str) -> int:
    return -1 if mark == "-" else 1


def _decimal(text: str) -> Fraction:
    return Fraction(text.replace(",", ""))


def _parse_plain(s: str) -> tuple[Fraction, bool] | None:
    if m := _RE_DECIMAL.fullmatch(s):
        body = m.group(2)
        if body in ("", "."):
            return None
        return _sign(m.group(1)) * _decimal(body.rstrip(".") or "0"), "." in body.rstrip(".")
    if m := _RE_SLASH.fullmatch(s):
        if int(m.group(3)) == 0:
            return None
        return _sign(m.group(1)) * Fraction(int(m.group(2)), int(m.group(3))), False
    if m := _RE_FRAC.fullmatch(s):
        whole, num, den = m.group(2), int(m.group(4)), int(m.group(5))
        if den == 0 or (whole is not None and m.group(3) == "-"):
            return None
        frac = _sign(m.group(3)) * Fraction(num, den)
        if whole is not None:
            frac = int(whole) + frac  # mixed number: 3\frac{1}{2} = 7/2, as math-verify reads it
        return _sign(m.group(1)) * frac, False
    if m := _RE_SCI.fullmatch(s):
        exp = int(m.group(3) if m.group(3) is not None else m.group(4))
        if abs(exp) > 300:
            return None
        return _sign(m.group(1)) * _decimal(m.group(2).rstrip(".")) * Fraction(10) ** exp, True
    if m := _RE_E.fullmatch(s):
        exp = int(m.group(3))
        if abs(exp) > 300:
            return None
        return _sign(m.group(1)) * _decimal(m.group(2).rstrip(".")) * Fraction(10) ** exp, True
    return None


def _close(a: Fraction, b: Fraction, approximate: bool) -> bool:
    if not approximate:
        return a == b
    if round(a, FLOAT_ROUNDING) != round(b, FLOAT_ROUNDING):
        return False
    return abs(a - b) <= FLOAT_REL_TOL * max(abs(a), abs(b))


def numbers_equal(gold: Number, pred: Number) -> bool:
    """Equal as math-verify would say, minus its tiny-value false positives.

    A `%` on one side only may be read either as a unit (`50%` vs `50`) or as /100 (`50%` vs `0.5`), as in
    math-verify; there is no x100 leniency between two plain numbers (`0.5` vs `50` is wrong).
    """
    approximate = gold.is_float or pred.is_float
    golds = [gold.value]
    preds = [pred.value]
    if gold.percent and not pred.percent:
        golds.append(gold.value / 100)
    if pred.percent and not gold.percent:
        preds.append(pred.value / 100)
    return any(_close(g, p, approximate) for g in golds for p in preds)
