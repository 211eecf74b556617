""" "What is the largest of 3, 7, 5?": a text task within the embedded tiny model's reach (the FRE demo set).

Chosen by measurement (docs/ablation.md): the tiny model's greedy answer is wrong on it before RL, yet sampling at
temperature 1 finds the right digit often enough for GRPO to get a signal, and 150 RL steps move it.

Shortcuts are priced out: the three digits are distinct and the largest is spread evenly over 3..9 in both splits,
so "always say 9" scores 1/7 and "copy a number" 1/3 (a uniform draw of three digits would give "9" 27%). The split
is by *set* of digits, stratified by the largest: no ordering of a held-out set is ever trained on, and the same
sets are held out by `largest_picture`, so a model is tested on digit sets it has seen in neither task.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Callable, Iterator

from lmmr1_cli.data.synthetic import TEST_FRACTION_PER_MILLE
from lmmr1_cli.errors import ConfigError

NAME = "synthetic-largest"
COUNT = 3
LARGEST = range(COUNT, 10)  # 3..9: every largest has at least three sets of smaller digits to split.


def digit_sets(split: str) -> dict[int, list[tuple[int, ...]]]:
    """The digit sets of `split` by their largest digit; per largest, about a fifth (at least one) are test."""
    if split not in ("train", "test"):
        raise ConfigError(f"synthetic split must be 'train' or 'test', got {split!r}")
    by_largest = {}
    for largest in LARGEST:
        sets = [(*rest, largest) for rest in itertools.combinations(range(largest), COUNT - 1)]
        sets.sort(key=lambda s: hashlib.sha256(repr(s).encode()).hexdigest())
        held_out = max(1, round(len(sets) * TEST_FRACTION_PER_MILLE / 1000))
        by_largest[largest] = sets[:held_out] if split == "test" else sets[held_out:]
    return by_largest


def balanced_rows(
    make: Callable[[random.Random, list[int]], tuple[str, dict]], name: str, split: str, limit: int, seed: int
) -> Iterator[dict]:
    """`limit` distinct rows of `split`, cycling through the largest digits so each is (nearly) equally common.

    `make(rng, digits) -> (key, row)` builds a row from digits in display order; a largest whose problems run out
    drops out of the cycle, and running out of all of them is a ConfigError.
    """
    rng = random.Random(f"{name}:{seed}")
    pools = digit_sets(split)
    seen: set[str] = set()
    active = list(pools)
    while len(seen) < limit:
        if not active:
            raise ConfigError(f"{name}: only {len(seen)} distinct {split} problems exist (asked for {limit})")
        rng.shuffle(active)
        for largest in list(active):
            for _ in range(200):
                digits = list(rng.choice(pools[largest]))
                rng.shuffle(digits)
                key, row = make(rng, digits)
                if key not in seen:
                    break
            else:
                active.remove(largest)
                continue
            seen.add(key)
            row.setdefault("id", f"{name}-{split}-{len(seen) - 1:06d}")
            row.setdefault("source", name)
            yield row
            if len(seen) == limit:
                return


def _make(rng: random.Random, digits: list[int]) -> tuple[str, dict]:
    problem = f"What is the largest of {', '.join(map(str, digits))}?"
    row = {
        "problem": problem,
        "images": [],
        "answer": str(max(digits)),
        "answer_type": "math",
        "choices": None,
    }
    return problem, row


def generate(split: str = "train", limit: int = 200, seed: int = 0) -> Iterator[dict]:
    """Source rows of `split` (about 600 train and 130 test problems exist).

    >>> next(generate("train", 1))["problem"].startswith("What is the largest of")
    True
    """
    return balanced_rows(_make, NAME, split, limit, seed)
