"""Recipe filters: `where` (keep records whose columns have the given values), `text_only`, `require_images`,
`max_images`. A filtered record is a drop with a reason, counted in the manifest like any other."""

from __future__ import annotations

from typing import Any

from lmmr1_cli.data.validate import RowDropped
from lmmr1_cli.errors import ConfigError

KNOWN_FILTERS = ("where", "text_only", "require_images", "max_images")


def apply_record_filters(record: dict[str, Any], filters: dict[str, Any]) -> None:
    """Filters on raw source columns, before adaptation."""
    unknown = sorted(set(filters) - set(KNOWN_FILTERS))
    if unknown:
        raise ConfigError(f"unknown recipe filter(s) {unknown}; known: {list(KNOWN_FILTERS)}")
    for column, wanted in (filters.get("where") or {}).items():
        if column not in record:
            raise ConfigError(
                f"filter `where` names column {column!r}, which the source lacks ({sorted(record)})"
            )
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if record[column] not in allowed:
            raise RowDropped("filtered", f"{column}={record[column]!r} not in {allowed}")


def apply_row_filters(row: dict[str, Any], filters: dict[str, Any]) -> None:
    """Filters on the adapted row (image counts)."""
    n = len(row["images"])
    if filters.get("text_only") and n:
        raise RowDropped("filtered_has_images", f"{n} image(s) in a text-only recipe")
    if filters.get("require_images") and not n:
        raise RowDropped("filtered_no_images", "no image in a recipe that requires one")
    if filters.get("max_images") is not None and n > int(filters["max_images"]):
        raise RowDropped("too_many_images", f"{n} images, above max_images={filters['max_images']}")
