""" "What is the sum of 3 and 4?": single-digit sums asked in words (the FRE demo set).

Chosen by measurement (docs/ablation.md): the embedded tiny model's format warm-up shows it sums written as
"What is 3 + 4?", so it has the skill but not for these phrasings: its greedy answer is right on about a fifth of
them while sampling at temperature 1 finds the sum for over half (pass@8), which is the gap RL closes. The answer
(0..18) is spread out, so "always answer 9" scores about a tenth. The split is by the pair of digits: a held-out
pair is never trained on in any phrasing or order.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from lmmr1_cli.data.synthetic import generate_split

NAME = "synthetic-word-sums"
PHRASINGS = (
    "What is the sum of {a} and {b}?",
    "What is {a} plus {b}?",
    "Add {a} and {b}. What do you get?",
    "What do {a} and {b} make together?",
)


def _candidate(rng: random.Random) -> tuple[str, dict]:
    a, b = rng.randint(0, 9), rng.randint(0, 9)
    problem = rng.choice(PHRASINGS).format(a=a, b=b)
    row = {
        "problem": problem,
        "images": [],
        "answer": str(a + b),
        "answer_type": "math",
        "choices": None,
        "split_key": f"{min(a, b)},{max(a, b)}",
    }
    return problem, row


def generate(split: str = "train", limit: int = 200, seed: int = 0) -> Iterator[dict]:
    """Source rows of `split` (400 problems over 55 digit pairs; about a fifth of the pairs are held out).

    >>> next(generate("train", 1))["answer_type"]
    'math'
    """
    return generate_split(_candidate, NAME, split, limit, seed)
