"""A benchmark is a prepared dataset dir, or a data recipe prepared once into the cache and reused.

Either way it keeps its identity, the data recipe it was prepared from (a dir's manifest names it), which is what
selects its evaluation protocol (evaluation/protocols.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lmmr1_cli.defaults import cache_root
from lmmr1_cli.errors import DataError


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: Path
    identity: str | None = None  # the data recipe it came from; None for auto-detected sources


def benchmark_cache_root() -> Path:
    return cache_root() / "benchmarks"


def dataset_identity(path: Path) -> str | None:
    """The recipe named by a dataset dir's manifest, unless the source's format was only auto-detected (a file
    that merely shares a benchmark's name is not that benchmark)."""
    import json

    try:
        manifest = json.loads((Path(path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or (manifest.get("source") or {}).get("format") == "auto":
        return None
    recipe = manifest.get("recipe")
    return recipe if isinstance(recipe, str) else None


def resolve_benchmark(ref: str, progress=None, protocol: str = "lmmr1") -> Benchmark:
    """`ref` is a dataset dir made by `lmmr1 prepare-data`, or a data recipe name (or YAML path), optionally
    with a split: `mathvista-testmini`, `synthetic-arith:test`.

    A recipe is prepared on first use under `$LMMR1_CACHE/benchmarks/<name>-<split>` (the recipe's own split
    unless one is given, e.g. `testmini` for mathvista-testmini) and read from there afterwards. Under a paper
    protocol a paper benchmark is prepared as the paper's model saw it (`<name>-<split>-paper`): images up to
    1024x1024 px and no prompt-length filter.
    """
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "rows.jsonl").is_file():
            raise DataError(f"{path}: not a dataset dir (no rows.jsonl); make one with `lmmr1 prepare-data`")
        return Benchmark(name=path.resolve().name, path=path, identity=dataset_identity(path))
    from lmmr1_cli.data.prepare import PrepareOptions, pixel_bounds, prepare_dataset
    from lmmr1_cli.data.recipes import is_recipe, load_recipe
    from lmmr1_cli.errors import ConfigError

    name, _, split = ref.partition(":") if not ref.endswith((".yaml", ".yml")) else (ref, "", "")
    if not is_recipe(name):
        raise DataError(_unknown_benchmark(ref, name, split))
    try:
        recipe = load_recipe(name)
    except ConfigError as exc:
        raise DataError(f"benchmark {ref!r}: {exc}") from None
    from lmmr1_cli.evaluation.protocols import PAPER, PAPER_MAX_PIXELS

    split = split or recipe.split
    paper = protocol != "lmmr1" and recipe.name in PAPER
    target = benchmark_cache_root() / f"{recipe.name}-{split}{'-paper' if paper else ''}"
    options = PrepareOptions(split=split, limit=recipe.default_limit, force=True)
    if paper:
        options.max_pixels, options.max_prompt_tokens = PAPER_MAX_PIXELS, None
    if (
        not (target / "rows.jsonl").is_file()
        or _stored_max_pixels(target) != pixel_bounds(recipe, options).max_pixels
    ):
        # Missing, or cached by an older lmmr1 that shrank images to the tiny model's bounds: prepare it (again).
        target.parent.mkdir(parents=True, exist_ok=True)
        prepare_dataset(recipe, target, options, progress=progress)
    name = f"{recipe.name}-{split}" if split != recipe.split else recipe.name
    return Benchmark(name=name, path=target, identity=recipe.name)


def _unknown_benchmark(ref: str, name: str, split: str) -> str:
    """Neither a dataset dir nor a recipe: the closest recipe name (with the split as typed), as prepare-data
    suggests one."""
    import difflib

    from lmmr1_cli.data.recipes import list_recipes

    names = [r.name for r in list_recipes()]
    hint = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if hint:
        return (
            f"benchmark {ref!r} is neither a dataset dir nor a data recipe; did you mean "
            f"'{hint[0]}{':' + split if split else ''}'? (`lmmr1 prepare-data --list` lists the recipes)"
        )
    return f"benchmark {ref!r} is neither a dataset dir nor a data recipe (known recipes: {', '.join(names)})"


def _stored_max_pixels(dataset_dir: Path) -> int | None | str:
    """The manifest's recorded `pixel_bounds.max_pixels` (None: source resolution); "unknown" if unreadable."""
    import json

    try:
        manifest = json.loads((dataset_dir / "manifest.json").read_text(encoding="utf-8"))
        return manifest["pixel_bounds"]["max_pixels"]
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"
