"""Math comparison with math-verify inside a worker process, plus guards against its known false positives.

math-verify's own timeouts use signal.alarm (main thread only), so they are disabled here; the pool's wall clock
kills a worker that runs over.
"""

from __future__ import annotations

import functools
import logging
import re

import sympy
from math_verify import parse
from math_verify import verify as mv_verify

logging.getLogger("math_verify").setLevel(logging.CRITICAL)  # it warns once that we disabled its timeouts

_WORD = re.compile(r"(?<!\\)\b[A-Za-z]{4,}\b")
_LATEX_CMD = re.compile(r"\\[A-Za-z]+(?:\{[A-Za-z*]*\})?")
_DEGREE_MARK = re.compile(r"\\circ|°|degree")
GUARD_REL_TOL_EXACT = sympy.Float("1e-40", 60)
GUARD_REL_TOL_FLOAT = sympy.Float("1e-4", 60)  # same tolerance as the fast path (numbers.FLOAT_REL_TOL)


def parse_text(text: str) -> list:
    """math-verify parse of an answer's text, wrapped in `\\boxed{}` when it is bare LaTeX."""
    return parse(_wrap(text), parsing_timeout=None)


def _wrap(text: str) -> str:
    if "$" in text or "\\(" in text or "\\[" in text:
        return text
    if _WORD.search(_LATEX_CMD.sub(" ", text)) and "\\text" not in text:
        return text  # prose: let math-verify find the math in it
    if text.count("{") != text.count("}"):
        return text
    return "\\boxed{" + text + "}"


@functools.lru_cache(maxsize=4096)
def parse_gold_symbolic(core: str) -> tuple:
    return tuple(parse_text(core))


def compare(core: str, answer_type: str, gold_degrees: bool, answer: str) -> tuple[bool, str]:
    """(correct, reason) for one math/geometry pair."""
    golds = parse_gold_symbolic(core)
    if not golds:
        return False, "gold_unparseable"
    preds = parse_text(answer)
    if not preds:
        return False, "wrong"
    if _any_match(golds, preds, core, answer):
        return True, "correct"
    if answer_type == "geometry" and _radians_match(golds, preds, gold_degrees, core, answer):
        return True, "correct"
    return False, "wrong"


def _any_match(golds, preds, gold_text: str, pred_text: str) -> bool:
    for g in golds:
        for p in preds:
            if mv_verify(g, p, timeout_seconds=None) and guard_allows(g, p, gold_text, pred_text):
                return True
    return False


def _radians_match(golds, preds, gold_degrees: bool, gold_text: str, pred_text: str) -> bool:
    """Geometry: a gold in degrees accepts radians (`60^\\circ` vs `\\pi/3`) and vice versa."""
    pred_degrees = bool(_DEGREE_MARK.search(pred_text))
    if gold_degrees and "pi" in pred_text and not pred_degrees:
        factor = 180 / sympy.pi
    elif pred_degrees and "pi" in gold_text and not gold_degrees:
        factor = sympy.pi / 180
    else:
        return False
    converted = [sympy.nsimplify(p * factor) for p in preds if isinstance(p, sympy.Expr)]
    return _any_match(golds, converted, gold_text, pred_text)


def guard_allows(g, p, gold_text: str, pred_text: str) -> bool:
    """Second opinion on a math-verify match between numbers: tiny values and small terms must really agree.

    math-verify compares `(a - b).evalf(chop=True)` and rounds floats to 6 decimals, so `1/2^{99}` equals
    `1/2^{98}` and `\\pi + 10^{-20}` equals `\\pi - 10^{-20}` there. Percent answers keep math-verify's reading.
    """
    if "%" in gold_text or "%" in pred_text:
        return True
    if isinstance(g, sympy.Tuple) and isinstance(p, sympy.Tuple) and len(g) == len(p):
        return all(guard_allows(a, b, gold_text, pred_text) for a, b in zip(g, p, strict=True))
    if isinstance(g, sympy.Interval) and isinstance(p, sympy.Interval):
        pairs = ((g.start, p.start), (g.end, p.end))
        return all(guard_allows(a, b, gold_text, pred_text) for a, b in pairs)
    if isinstance(g, sympy.MatrixBase) and isinstance(p, sympy.MatrixBase) and g.shape == p.shape:
        return all(guard_allows(a, b, gold_text, pred_text) for a, b in zip(g, p, strict=True))
    if not (isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr)):
        return True
    if g.free_symbols or p.free_symbols:
        return True
    try:
        a, b = g.evalf(60), p.evalf(60)
        if not (a.is_number and b.is_number):
            return True
        scale = max(abs(a), abs(b))
        if scale == 0:
            return True
        approximate = g.has(sympy.Float) or p.has(sympy.Float)
        tol = GUARD_REL_TOL_FLOAT if approximate else GUARD_REL_TOL_EXACT
        return bool(abs(a - b) <= tol * scale)
    except (TypeError, ValueError, ArithmeticError):
        return True


def warm_up() -> None:
    """Exercise the parser and comparer once, so workers forked afterwards start with warm caches and lazily
    imported modules (the first parse in a fresh process costs ~0.5 s)."""
    samples = [
        ("\\frac{1}{2}", "0.5"),
        ("x+1", "1+x"),
        ("x^2+2x+1", "(x+1)^2"),
        ("\\{1,2\\}", "\\{2,1\\}"),
        ("[1,2)", "(1,2)"),
        ("(1,2)", "(2,1)"),
        ("x=3", "3"),
        ("\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
        ("\\sqrt{12}", "2\\sqrt{3}"),
        ("\\frac{\\pi}{3}", "60^\\circ"),
        ("\\text{Monday}", "The answer is Monday"),
    ]
    for gold, pred in samples:
        compare(gold, "geometry", False, pred)
    parse_gold_symbolic.cache_clear()
