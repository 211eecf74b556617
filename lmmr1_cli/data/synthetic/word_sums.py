""" "What is the sum of 3 and 4?": single-digit sums asked in words (an FRE task for experiments).

The embedded tiny model's warm-up shows it sums written "What is 3 + 4?", so it has the skill but not for these
phrasings. Measured (docs/ablation.md): on "the sum of a and b" alone RL carries the skill over (held-out 29% ->
85% in 150 steps of tiny-fre); with all four phrasings at once 80 steps did not move it. The answer
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
