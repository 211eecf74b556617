"""Synthetic datasets with exact answers, for the offline demo and tests.

Every generator is deterministic in its seed, and train/test are disjoint by construction: a problem belongs to
the test split exactly when a hash of its defining key falls in the test bucket (`split_of`), so no seed or limit
can leak a test problem into training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

from lmmr1_cli.errors import ConfigError

TEST_FRACTION_PER_MILLE = 200  # 20% of the problem space is held out for the test split.


def split_of(key: str) -> str:
    """'train' or 'test' for a problem's defining key, stable across runs and machines."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 1000
    return "test" if bucket < TEST_FRACTION_PER_MILLE else "train"


def generate_split(
    candidates: Callable[[Any], tuple[str, dict]], name: str, split: str, limit: int, seed: int
) -> Iterator[dict]:
    """Draw candidates from `candidates(rng) -> (key, row)` until `limit` unique rows of `split` are found."""
    import random

    if split not in ("train", "test"):
        raise ConfigError(f"synthetic split must be 'train' or 'test', got {split!r}")
    rng = random.Random(f"{name}:{seed}")
    seen: set[str] = set()
    attempts = 0
    while len(seen) < limit:
        attempts += 1
        if attempts > 200 * limit + 10_000:
            raise ConfigError(f"{name}: cannot find {limit} distinct {split} problems (found {len(seen)})")
        key, row = candidates(rng)
        # A row may name a coarser `split_key` (e.g. the picture alone) so that nothing shared leaks across splits.
        split_key = row.pop("split_key", key)
        if key in seen or split_of(f"{name}:{split_key}") != split:
            continue
        seen.add(key)
        row.setdefault("id", f"{name}-{split}-{len(seen) - 1:06d}")
        row.setdefault("source", name)
        yield row


def synthetic_generator(name: str) -> Callable[..., Iterator[dict]]:
    """The generator function(split, limit, seed) of one of SYNTHETIC_KINDS."""
    import importlib

    if name not in SYNTHETIC_KINDS:
        raise ConfigError(f"unknown synthetic generator {name!r}; known: {', '.join(SYNTHETIC_KINDS)}")
    return importlib.import_module(f"lmmr1_cli.data.synthetic.{name}").generate


SYNTHETIC_KINDS = ("arithmetic", "geometry", "sokoban", "largest", "largest_picture", "counting", "word_sums")
