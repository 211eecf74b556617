"""Short arithmetic and word problems with exact integer answers (text-only; the FRE demo set).

Kept SHORT on purpose: the embedded tiny model has a small vocabulary and context.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from lmmr1_cli.data.synthetic import generate_split

NAME = "synthetic-arith"
_NAMES = ("Tom", "Ann", "Bo", "Eva", "Sam", "Mia")
_THINGS = ("apples", "pens", "cards", "eggs", "coins", "books")


def _expression(rng: random.Random) -> tuple[str, int]:
    op = rng.choice("+-×")
    a = rng.randint(0, 99) if rng.random() < 0.5 else rng.randint(0, 9)
    b = rng.randint(0, 9) if op == "×" or rng.random() < 0.5 else rng.randint(0, 99)
    if op == "-" and b > a:
        a, b = b, a
    value = a + b if op == "+" else a - b if op == "-" else a * b
    return f"What is {a} {op} {b}?", value


def _word_problem(rng: random.Random) -> tuple[str, int]:
    who, what = rng.choice(_NAMES), rng.choice(_THINGS)
    kind = rng.choice(("more", "less", "times"))
    if kind == "more":
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        return f"{who} has {a} {what} and gets {b} more. How many now?", a + b
    if kind == "less":
        a = rng.randint(2, 30)
        b = rng.randint(1, a)
        return f"{who} has {a} {what} and gives away {b}. How many left?", a - b
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    return f"{who} has {a} bags of {b} {what}. How many {what}?", a * b


def _candidate(rng: random.Random) -> tuple[str, dict]:
    problem, value = _word_problem(rng) if rng.random() < 0.3 else _expression(rng)
    row = {"problem": problem, "images": [], "answer": str(value), "answer_type": "math", "choices": None}
    return problem, row


def generate(split: str = "train", limit: int = 1000, seed: int = 0) -> Iterator[dict]:
    """Source rows of `split`; train and test never share a problem.

    >>> next(generate("train", 1))["answer_type"]
    'math'
    """
    return generate_split(_candidate, NAME, split, limit, seed)
