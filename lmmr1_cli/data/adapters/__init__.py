"""Source adapters: one module per source format, each turning one source record into a source row.

A source row is a canonical row (see `lmmr1_cli.data.schema`) whose images are still raw and which carries
`placeholders`, the number of image placeholders its text held (None when the format has none).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmmr1_cli.data.recipes import DataRecipe
from lmmr1_cli.data.validate import RowDropped
from lmmr1_cli.errors import ConfigError

SourceRow = dict[str, Any]
Item = tuple[int, "SourceRow | RowDropped"]


def source_description(recipe: DataRecipe, source_override: str | None) -> dict[str, Any]:
    """What the manifest records as the source: recipe format and the source id/path actually read."""
    if recipe.format == "synthetic":
        return {"format": "synthetic", "generator": recipe.generator, "seed": recipe.seed}
    return {"format": recipe.format, "source": source_override or recipe.source, "config": recipe.config}


def iter_source_rows(
    recipe: DataRecipe, split: str, limit: int | None, source_override: str | None, image_root: str | None
) -> tuple[Iterator[Item], int | None, Path | None]:
    """(items, total if known, image root) for a recipe; items are (index, source row or RowDropped)."""
    if recipe.format == "synthetic":
        from lmmr1_cli.data.synthetic import synthetic_generator

        count = limit or recipe.default_limit or 1000
        generate = synthetic_generator(recipe.generator or "")
        rows = generate(split=split, limit=count, seed=recipe.seed)
        return _synthetic_items(rows, recipe), count, None
    from lmmr1_cli.data.adapters import conversations, fields, messages
    from lmmr1_cli.data.sources import open_records

    source = source_override or recipe.source
    if not source:
        raise ConfigError(f"recipe {recipe.name!r} has no source; pass --source PATH_OR_ID")
    records, total, default_root = open_records(source, recipe.config, split)
    root = (
        Path(image_root or recipe.image_dir or default_root)
        if (image_root or recipe.image_dir or default_root)
        else None
    )
    if image_root is None and recipe.image_dir and default_root and not Path(recipe.image_dir).is_absolute():
        root = default_root / recipe.image_dir
    adapt = {"fields": fields.adapt, "messages": messages.adapt, "conversations": conversations.adapt}[
        recipe.format
    ]
    if limit is not None:
        total = min(total, limit) if total is not None else limit
    return _adapted(records, adapt, recipe, limit, str(source)), total, root


def _synthetic_items(rows: Iterator[dict], recipe: DataRecipe) -> Iterator[Item]:
    for index, row in enumerate(rows):
        row.setdefault("placeholders", len(row["images"]))
        yield index, row


def _adapted(
    records: Iterator[dict], adapt: Any, recipe: DataRecipe, limit: int | None, source: str
) -> Iterator[Item]:
    from lmmr1_cli.data.adapters.filters import apply_filters

    for index, record in enumerate(records):
        if limit is not None and index >= limit:
            return
        try:
            apply_filters(record, recipe.filters)
            row = adapt(record, index, recipe)
        except RowDropped as exc:
            yield index, exc
            continue
        row.setdefault("source", recipe.name)
        if not row.get("id"):
            row["id"] = f"{recipe.name}-{index:07d}"
        yield index, row
