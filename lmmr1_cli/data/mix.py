"""Mix prepared dataset dirs into one: e.g. MGT's picture rows plus a share of FRE's text rows, so that RL on
pictures keeps rehearsing the text skill (rows with and without images share a batch; the trainer handles both).

The parts are already checked rows (`lmmr1 prepare-data` made them), so nothing is re-validated: rows are taken
as they are (the first N of each part, in its file order), shuffled together with a seed, and written with their
images through the same atomic writer as prepare-data. The manifest lists every part (dir, recipe, split, rows
taken, content hash) so the lineage of a run trained on the mix reaches the original sources.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmmr1_cli import __version__
from lmmr1_cli.data.dataset import image_paths, load_manifest, load_rows
from lmmr1_cli.data.prepare import DATASET_FORMAT, image_storage, system_prompt_summary
from lmmr1_cli.data.writer import DatasetWriter
from lmmr1_cli.errors import ConfigError, DataError


@dataclass(frozen=True)
class MixPart:
    """One prepared dataset dir and how many of its rows to take (None: all)."""

    dataset_dir: Path
    rows: int | None = None

    @classmethod
    def parse(cls, spec: str) -> MixPart:
        """`DIR` or `DIR:N` (its first N rows)."""
        path, sep, count = spec.rpartition(":")
        if not sep or not count.isdigit():
            return cls(Path(spec))
        if int(count) < 1:
            raise ConfigError(f"{spec}: the row count after ':' must be >= 1")
        return cls(Path(path), int(count))


@dataclass
class MixResult:
    out_dir: Path
    manifest: dict[str, Any]
    seconds: float


def mix_datasets(parts: list[MixPart], out_dir: Path, seed: int = 0, force: bool = False) -> MixResult:
    """Write the rows of `parts` (shuffled together with `seed`) as one dataset dir; DataError on bad parts."""
    if len(parts) < 2:
        raise ConfigError("give at least two dataset dirs to mix (DIR or DIR:N each)")
    start = time.monotonic()
    taken: list[tuple[MixPart, dict]] = []
    sources, owner_of_id = [], {}
    for index, part in enumerate(parts):
        rows = load_rows(part.dataset_dir, limit=part.rows)  # first: it names a missing dir as such
        manifest = load_manifest(part.dataset_dir)
        if part.rows is not None and len(rows) < part.rows:
            raise DataError(f"{part.dataset_dir}: asked for {part.rows} rows, it has {len(rows)}")
        for row in rows:
            first = owner_of_id.setdefault(row["id"], index)
            if first != index:  # the same dir twice, or two dirs of one source: rows would count double
                raise DataError(
                    f"{part.dataset_dir}: row id {row['id']!r} is also in {parts[first].dataset_dir}; "
                    "ids must be unique"
                )
            taken.append((part, row))
        sources.append(_part_source(part, manifest, len(rows)))
    random.Random(seed).shuffle(taken)
    writer = DatasetWriter(Path(out_dir), force=force)
    try:
        for part, row in taken:
            images = [_copy_image(writer, part, path) for path in image_paths(part.dataset_dir, row)]
            writer.add_row({**row, "images": images})
        manifest = _manifest(taken, sources, seed, writer)
        writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    return MixResult(Path(out_dir), manifest, time.monotonic() - start)


def _copy_image(writer: DatasetWriter, part: MixPart, path: Path) -> str:
    """The stored image as it is (prepare-data already resized it); DataError naming the part when unreadable."""
    try:
        return writer.copy_image(path)
    except OSError as exc:
        raise DataError(f"{part.dataset_dir}: image {path.name} unreadable ({exc.strerror})") from None


def _part_source(part: MixPart, manifest: dict, rows: int) -> dict[str, Any]:
    return {
        "mix_part": str(part.dataset_dir),
        "recipe": manifest.get("recipe"),
        "split": manifest.get("split"),
        "rows": rows,
        "content_hash": manifest["content_hash"],
        "pixel_bounds": manifest.get("pixel_bounds"),
        "images": manifest["counts"].get("images", 0),
        "sources": manifest.get("sources", []),
    }


def _pixel_bounds(sources: list[dict]) -> dict[str, int | None]:
    """The lowest floor and the lowest cap among the parts with images: training refuses data stored below its
    recipe's max_pixels, so the most downscaled part must decide that check, not hide behind another."""
    bounds = [s["pixel_bounds"] or {} for s in sources if s["images"]] or [sources[0]["pixel_bounds"] or {}]
    floors = [b["min_pixels"] for b in bounds if b.get("min_pixels")]
    caps = [b["max_pixels"] for b in bounds if b.get("max_pixels")]
    return {"min_pixels": min(floors) if floors else None, "max_pixels": min(caps) if caps else None}


def _manifest(taken: list, sources: list[dict], seed: int, writer: DatasetWriter) -> dict[str, Any]:
    splits = {s["split"] for s in sources}
    system_prompts = Counter(row["system"] for _, row in taken if row.get("system"))
    bounds = _pixel_bounds(sources)
    return {
        "format": DATASET_FORMAT,
        "lmmr1_version": __version__,
        "recipe": "mix",
        "split": splits.pop() if len(splits) == 1 else "mixed",
        "sources": sources,
        "counts": {
            "read": len(taken),
            "kept": writer.num_rows,
            "dropped": 0,
            "images": len(writer.image_names),
        },
        "drops": {},
        "drop_examples": {},
        "answer_types": dict(sorted(Counter(row["answer_type"] for _, row in taken).items())),
        "filters": {"mix_seed": seed, "rows": "the first N rows of each part, then shuffled together"},
        "pixel_bounds": bounds,
        "images": image_storage(bounds["max_pixels"]),
        "system_prompts": system_prompt_summary(system_prompts),
        "content_hash": writer.content_hash(),
    }
