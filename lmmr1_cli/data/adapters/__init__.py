"""Source adapters: one module per source format, each turning one source record into a source row.

A source row is a canonical row (see `lmmr1_cli.data.schema`) whose images are still raw and which carries
`placeholders`, the number of image placeholders its text held (None when the format has none).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lmmr1_cli.data.recipes import DataRecipe
from lmmr1_cli.data.validate import RowDropped
from lmmr1_cli.errors import ConfigError, DataError

SourceRow = dict[str, Any]
Item = tuple[int, "SourceRow | RowDropped"]
Adapter = Callable[[dict[str, Any], int, DataRecipe], SourceRow]

# Column names tried, in order, when a plain data path is given without a recipe.
_GUESS = {
    "problem": ("problem", "question", "prompt", "query"),
    "answer": ("answer", "final_answer", "ground_truth", "gt_answer", "solution"),
    "images": ("images", "image", "decoded_image"),
    "choices": ("choices", "options"),
}


def row_name(index: int) -> str:
    """How messages name a source row: 1-based, like `verify` and an editor's line numbers (`row 1` is the
    first record; for JSONL without blank lines, the first line)."""
    return f"row {index + 1}"


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
        rows = synthetic_generator(recipe.generator or "")(split=split, limit=count, seed=recipe.seed)
        return ((i, {**row, "placeholders": len(row["images"])}) for i, row in enumerate(rows)), count, None
    from lmmr1_cli.data.sources import open_records

    source = source_override or recipe.source
    if not source:
        raise ConfigError(f"recipe {recipe.name!r} has no source; pass --source PATH_OR_ID")
    records, total, source_dir = open_records(
        source, recipe.config, split, recipe.data_files if not source_override else None
    )
    if limit is not None:
        records = itertools.islice(records, limit)
        total = min(total, limit) if total is not None else limit
    if recipe.format == "auto":
        # Detect from the first readable record; unreadable lines before it stay in place as drops.
        head: list[Any] = []
        for record in records:
            head.append(record)
            if not isinstance(record, RowDropped):
                break
        if not head or isinstance(head[-1], RowDropped):
            reasons = f" ({len(head)} unreadable: {head[0]})" if head else ""
            raise DataError(f"{source}: no rows in split {split!r}{reasons}")
        recipe = detect_format(head[-1], recipe)
        records = itertools.chain(head, records)
    return (
        _adapted(records, _adapter(recipe.format), recipe, str(source)),
        total,
        _image_root(image_root, recipe, source_dir),
    )


def _image_root(option: str | None, recipe: DataRecipe, source_dir: Path | None) -> Path | None:
    """`--image-root`, else the recipe's `image_dir` (relative to the source), else the source's own dir."""
    if option:
        return Path(option)
    if recipe.image_dir:
        image_dir = Path(recipe.image_dir).expanduser()
        return image_dir if image_dir.is_absolute() or source_dir is None else source_dir / image_dir
    return source_dir


def _adapter(fmt: str) -> Adapter:
    from lmmr1_cli.data.adapters import conversations, fields, messages

    return {"fields": fields.adapt, "messages": messages.adapt, "conversations": conversations.adapt}[fmt]


def detect_format(record: dict[str, Any], recipe: DataRecipe) -> DataRecipe:
    """The recipe for a plain data path, from the keys of its first record."""
    if "message" in record:
        return dataclasses.replace(recipe, format="messages")
    if "conversations" in record:
        return dataclasses.replace(recipe, format="conversations")
    mapping = {}
    for name, candidates in _GUESS.items():
        found = next((c for c in candidates if c in record), None)
        if found:
            mapping[name] = found
    if "problem" not in mapping or "answer" not in mapping:
        raise DataError(
            f"{recipe.source}: cannot tell the format from columns {sorted(record)}; "
            "write a data recipe YAML with a `fields` mapping"
        )
    answer_type = "choice" if "choices" in mapping else recipe.answer_type
    return dataclasses.replace(
        recipe, format="fields", fields=mapping, answer_type=answer_type, options={"detect_options": True}
    )


def _adapted(records: Iterator[dict], adapt: Adapter, recipe: DataRecipe, source: str) -> Iterator[Item]:
    from lmmr1_cli.data.adapters.filters import apply_record_filters, apply_row_filters

    for index, record in enumerate(records):
        if isinstance(record, RowDropped):  # a line the reader could not parse
            yield index, record
            continue
        try:
            apply_record_filters(record, recipe.filters)
            row = adapt(record, index, recipe)
            apply_row_filters(row, recipe.filters)
        except RowDropped as exc:
            yield index, exc
            continue
        except (ConfigError, DataError) as exc:  # a wrong mapping or malformed record: name where it is
            raise type(exc)(f"{source} {row_name(index)}: {exc}") from None
        row["source"] = recipe.name
        if not row.get("id"):
            row["id"] = f"{recipe.name}-{index:07d}"
        yield index, row
