"""A tiny, safe numeric evaluator for closed-form LaTeX answers (`4\\sqrt{3}`, `\\frac{5\\pi}{6}`, `2^{10}`, `7!`).

Used in-process, before sympy: values that differ clearly are wrong, values that agree to 50 significant digits
(60-digit mpmath arithmetic) are equal; anything in between, and anything that is not a closed form (symbols,
sets, equations), goes to a worker. 50 digits keeps the guards: pi + 10^-20 and pi - 10^-20 differ here.
Grammar: numbers, + - * / ^, \\cdot, \\times, \\frac/\\dfrac/\\tfrac, \\sqrt[n]{}, \\pi, !, parentheses and
braces, implicit multiplication.
"""

from __future__ import annotations

import re

from mpmath import mp, mpf

MAX_CHARS = 200
DIGITS = 60
MAX_LOG10 = 100_000  # |value| above 10^100000 is "astronomically large" (a power tower), never computed


class TooLarge(ArithmeticError):
    """The value overflows a float: astronomically large (a power tower, a huge factorial)."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<cmd>\\(?:[dt]?frac|sqrt|pi|cdot|times))|(?P<op>[-+*/^!(){}\[\]]))"
)
_NOISE = re.compile(r"\\left|\\right|\\!|\\,|\\;|\\ |\$")


def tokenize(text: str) -> list[str] | None:
    s = _NOISE.sub("", text).strip()
    tokens, pos = [], 0
    while pos < len(s):
        m = _TOKEN.match(s, pos)
        if m is None or m.end() == pos:
            if s[pos:].strip() == "":
                break
            return None
        tokens.append(m.group(m.lastgroup))
        pos = m.end()
    return tokens


def evaluate(text: str) -> mpf | None:
    """The value of a closed-form answer (60 digits), None if it is not one; raises TooLarge on overflow.

    >>> round(float(evaluate("\\\\frac{5\\\\pi}{6}")), 6)
    2.617994
    >>> evaluate("x+1") is None
    True
    """
    if len(text) > MAX_CHARS:
        return None
    tokens = tokenize(text)
    if not tokens:
        return None
    parser = _Parser(tokens)
    with mp.workdps(DIGITS):
        try:
            value = parser.expr()
        except (OverflowError, TooLarge) as exc:
            raise TooLarge(str(exc)) from exc
        except (ValueError, ZeroDivisionError, IndexError, RecursionError, TypeError):
            return None
        if parser.pos != len(tokens) or value is None or not isinstance(value, mpf):
            return None
        if mp.isnan(value):
            return None
        if mp.isinf(value):
            raise TooLarge("infinite")
        return +value


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.tokens[self.pos]
        if expected is not None and token != expected:
            raise ValueError(f"expected {expected}")
        self.pos += 1
        return token

    def expr(self) -> mpf:
        self.depth += 1
        if self.depth > 30:
            raise ValueError("too deep")
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            value = value + right if op == "+" else value - right
        self.depth -= 1
        return value

    def term(self) -> mpf:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "/", "\\cdot", "\\times"):
                self.take()
                right = self.unary()
                value = value / right if token == "/" else value * right
            elif token is not None and self._starts_atom(token):
                if token[0].isdigit() or token == ".":
                    raise ValueError("number after number is ambiguous (mixed number? digits?)")
                if token in ("\\frac", "\\dfrac", "\\tfrac") and self._previous_is_number():
                    raise ValueError("mixed number: leave it to the number parser or sympy")
                value = value * self.unary()
            else:
                return value

    def _previous_is_number(self) -> bool:
        prev = self.tokens[self.pos - 1]
        return prev[0].isdigit() or prev[0] == "."

    @staticmethod
    def _starts_atom(token: str) -> bool:
        return token[0].isdigit() or token in (
            "\\pi",
            "\\frac",
            "\\dfrac",
            "\\tfrac",
            "\\sqrt",
            "(",
            "{",
            ".",
        )

    def unary(self) -> mpf:
        if self.peek() in ("-", "+"):
            sign = -1 if self.take() == "-" else 1
            return sign * self.unary()
        return self.power()

    def power(self) -> mpf:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            exponent = self.unary_exponent()
            if base != 0 and exponent * mp.log10(abs(base)) > MAX_LOG10:
                raise TooLarge("huge power")
            if base < 0 and exponent != mp.floor(exponent):
                raise ValueError("complex")
            if base == 0 and exponent <= 0:
                raise ValueError("0^0 or 1/0")
            return base**exponent
        return base

    def unary_exponent(self) -> mpf:
        token = self.peek()
        if token in ("-", "+"):
            self.take()
            value = self.unary_exponent()
            return -value if token == "-" else value
        if token is not None and token[0].isdigit() and len(token) > 1 and "." not in token:
            self.take()  # x^23 in LaTeX is x^2 * 3; only braces group a multi-digit exponent
            self.tokens.insert(self.pos, token[1:])
            return mpf(token[0])
        return self.power()

    def postfix(self) -> mpf:
        value = self.atom()
        while self.peek() == "!":
            self.take()
            if value != int(value) or value < 0:
                raise ValueError("factorial of a non-integer")
            if value > 20_000:
                raise TooLarge("huge factorial")
            value = mp.factorial(value)
        return value

    def atom(self) -> mpf:
        token = self.take()
        if token[0].isdigit() or token[0] == ".":
            return mpf(token)
        if token == "\\pi":
            return +mp.pi
        if token in ("(", "{"):
            value = self.expr()
            self.take(")" if token == "(" else "}")
            return value
        if token in ("\\frac", "\\dfrac", "\\tfrac"):
            numerator = self.group()
            return numerator / self.group()
        if token == "\\sqrt":
            index = mpf(2)
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.take("]")
            radicand = self.group()
            if radicand < 0:
                raise ValueError("negative radicand")
            return (
                mp.root(radicand, int(index))
                if index == int(index) and index > 0
                else radicand ** (1 / index)
            )
        raise ValueError(f"unexpected {token}")

    def group(self) -> mpf:
        token = self.peek()
        if token == "{":
            self.take()
            value = self.expr()
            self.take("}")
            return value
        if token is not None and token[0].isdigit():  # \frac12: one digit per argument
            self.take()
            if len(token) > 1:
                self.tokens.insert(self.pos, token[1:])
            return mpf(token[0])
        if token == "\\pi":
            self.take()
            return +mp.pi
        raise ValueError("expected a group")
