"""A benchmark is a prepared dataset dir, or a data recipe prepared once into the cache and reused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmmr1_cli.defaults import cache_root
from lmmr1_cli.errors import DataError


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: Path


def benchmark_cache_root() -> Path:
    return cache_root() / "benchmarks"


def resolve_benchmark(ref: str, progress=None) -> Benchmark:
    """`ref` is a dataset dir made by `lmmr1 prepare-data`, or a data recipe name (or YAML path), optionally
    with a split: `mathvista-testmini`, `synthetic-arith:test`.

    A recipe is prepared on first use under `$LMMR1_CACHE/benchmarks/<name>-<split>` (the recipe's own split
    unless one is given, e.g. `testmini` for mathvista-testmini) and read from there afterwards.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "rows.jsonl").is_file():
            raise DataError(f"{path}: not a dataset dir (no rows.jsonl); make one with `lmmr1 prepare-data`")
        return Benchmark(name=path.resolve().name, path=path)
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import load_recipe
    from lmmr1_cli.errors import ConfigError

    name, _, split = ref.partition(":") if not ref.endswith((".yaml", ".yml")) else (ref, "", "")
    try:
        recipe = load_recipe(name)
    except ConfigError as exc:
        raise DataError(f"benchmark {ref!r} is neither a dataset dir nor a data recipe ({exc})") from None
    split = split or recipe.split
    target = benchmark_cache_root() / f"{recipe.name}-{split}"
    if not (target / "rows.jsonl").is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        options = PrepareOptions(split=split, limit=recipe.default_limit, force=True)
        prepare_dataset(recipe, target, options, progress=progress)
    return Benchmark(name=f"{recipe.name}-{split}" if split != recipe.split else recipe.name, path=target)
