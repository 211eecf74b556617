"""Explosive answers: text whose parse or comparison would make sympy build something astronomically large, found
with linear scans and a 60-digit evaluator before sympy sees it (docs/verifier.md, "Explosive answers").

An answer is explosive when it is
- longer than `MAX_CHARS` characters, or nested deeper than `MAX_DEPTH` brackets (`{`, `(`, `[`); latex2sympy's
  parser slows down steeply with nesting: ten redundant braces already cost it the 3 s limit;
- a number larger than 10^100000 (`9^{9^{9}}`, `(10^{10})!`, `2^{10^{6}}`): a power tower, a huge power or a huge
  factorial (`closed_form.TooLarge`);
- a power whose exponent is such a number, whatever the base (`x^{9^{9^{9}}}`);
- a product of powers of sums that would expand to more than `MAX_EXPANSION_TERMS` terms (`(x+1)^{100000}`,
  `(x+y+z+1)^{20}`, `(x+1)^{50}(y+1)^{50}`): sympy expands them. A power of a sum of t terms to the n has
  C(n + t - 1, t - 1) terms; the estimate multiplies those of every such power in the answer (an upper bound).

The rule in both reward modes: an explosive answer is wrong (reason `explosive`) unless the gold is explosive too;
then the pair goes to the worker pool as any other, under its wall-clock limit.
"""

from __future__ import annotations

from math import comb

from lmmr1_cli.verify.closed_form import TooLarge, evaluate

MAX_CHARS = 2000
MAX_DEPTH = 20
# Measured on the 2-core box (docs/verifier.md): (x+1)^{200} (201 terms) costs sympy ~0.5 s, (x+y+z+1)^{10} (286)
# ~0.9 s, (x+y+z+1)^{20} (1,771) 10 s, (x+1)^{1000} more than the 3 s limit.
MAX_EXPANSION_TERMS = 250


def explosive(text: str) -> str | None:
    """Why `text` is explosive (a short phrase), or None when it is safe to give to sympy.

    >>> explosive("(x+1)^{100000}"), explosive("9^{9^{9}}"), explosive("\\\\frac{1}{2}")
    ('powers of sums that expand to more than 250 terms', 'a number above 10^100000', None)
    """
    if len(text) > MAX_CHARS:
        return f"longer than {MAX_CHARS} characters"
    if brace_depth(text) > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH}"
    terms = 1
    for at, char in enumerate(text):
        if char == "^":
            why, expansion = _power(text, at)
            terms *= expansion
        elif char == "!":
            why = _factorial(text, at)
        else:
            continue
        if why is None and terms > MAX_EXPANSION_TERMS:
            why = f"powers of sums that expand to more than {MAX_EXPANSION_TERMS} terms"
        if why is not None:
            return why
    return None


def brace_depth(text: str) -> int:
    """How deeply `{`, `(` and `[` nest in `text` (math_rule's answer-size guard uses it too)."""
    depth = deepest = 0
    for char in text:
        if char in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "})]":
            depth -= 1
    return deepest


def _power(text: str, at: int) -> tuple[str | None, int]:
    """(why the power at `at` is explosive or None, how many terms it expands to)."""
    exponent = braced_group(text, at + 1)
    if exponent is None:
        return None, 1  # x^2: a one-character exponent is never explosive
    try:
        value = evaluate(exponent)
    except TooLarge:
        return "a power with an exponent above 10^100000", 1
    if value is None:
        return None, 1
    base = _operand_before(text, at)
    if base is None:
        return None, 1
    try:
        evaluate(f"{base}^{{{exponent}}}")
    except TooLarge:
        return "a number above 10^100000", 1
    summands = _summands(base)
    if summands < 2 or value != int(value):
        return None, 1
    n = abs(int(value))
    if n > MAX_EXPANSION_TERMS:  # comb() of a huge n would itself be slow; it is over the bound anyway
        return None, MAX_EXPANSION_TERMS + 1
    return None, comb(n + summands - 1, summands - 1)


def _summands(group: str) -> int:
    """Top-level terms of a bracketed group: `(x+y-1)` -> 3, `(2x)` -> 1, `7` -> 1."""
    if group[:1] not in ("(", "{", "["):
        return 1
    count, depth, previous = 1, 0, group[0]
    for char in group[1:-1]:
        if char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
        elif char in "+-" and depth == 0 and previous not in "({[^_+-*/=":
            count += 1
        if not char.isspace():
            previous = char
    return count


def _factorial(text: str, at: int) -> str | None:
    operand = _operand_before(text, at)
    if operand is None:
        return None
    try:
        evaluate(operand + "!")
    except TooLarge:
        return "a number above 10^100000"
    return None


def braced_group(text: str, at: int) -> str | None:
    """The `{…}` group that starts at `at` (its content), or None."""
    if at >= len(text) or text[at] != "{":
        return None
    depth = 0
    for i in range(at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[at + 1 : i]
    return None


_CLOSERS = {"}": "{", ")": "(", "]": "["}


def _operand_before(text: str, at: int) -> str | None:
    """The operand that ends just before `at`: a bracketed group (with its brackets, `\\right` dropped) or a run of
    digits; None for anything else (a symbol, a command)."""
    end = at
    if end == 0:
        return None
    last = text[end - 1]
    if last.isdigit():
        start = end
        while start > 0 and (text[start - 1].isdigit() or text[start - 1] == "."):
            start -= 1
        return text[start:end]
    if last in _CLOSERS:
        opener, depth = _CLOSERS[last], 0
        for i in range(end - 1, -1, -1):
            if text[i] == last:
                depth += 1
            elif text[i] == opener:
                depth -= 1
                if depth == 0:
                    start = i - 5 if text.endswith("\\left", 0, i) else i
                    return text[start:end].replace("\\left", "").replace("\\right", "")
        return None
    return None
