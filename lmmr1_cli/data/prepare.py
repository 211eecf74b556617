"""The prepare pipeline: source rows -> checked, image-resized canonical rows -> an atomic dataset dir.

Rows stream through in bounded batches (memory does not grow with the dataset); with `num_proc > 1` the costly
per-row work (decode, resize, encode images; parse the gold; count prompt tokens) runs in a process pool, while
dedupe and writing stay in this process, in source order, so output is deterministic for any `num_proc`.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lmmr1_cli import __version__
from lmmr1_cli.data.adapters import SourceRow, iter_source_rows, source_description
from lmmr1_cli.data.images import ImagePathEscapesRoot, ImageRejected, PixelBounds, store_image
from lmmr1_cli.data.recipes import DataRecipe
from lmmr1_cli.data.schema import canonical_row, check_source_row
from lmmr1_cli.data.validate import (
    PromptMeter,
    RowDropped,
    check_gold,
    check_placeholders,
    dedupe_key,
    gold_checker_available,
)
from lmmr1_cli.data.writer import DatasetWriter, check_output
from lmmr1_cli.errors import DataError

DATASET_FORMAT = "lmmr1-dataset/1"
MAX_DROP_EXAMPLES = 3
Progress = Callable[[int, int | None], None]


@dataclass
class PrepareOptions:
    """Everything `lmmr1 prepare-data` can set; defaults are the CLI's."""

    split: str | None = None  # None: the recipe's split
    limit: int | None = None
    source: str | None = None  # overrides the recipe's source (HF id or local path)
    image_root: str | None = None
    strict: bool = False
    force: bool = False
    num_proc: int = 1
    max_prompt_tokens: int | None = 2048  # None: no length check
    min_pixels: int | None = None
    max_pixels: int | None = None
    model: str = "tiny"
    batch_size: int = 64


@dataclass
class PrepareResult:
    out_dir: Path
    manifest: dict[str, Any]
    seconds: float
    peak_note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class _RowWorker:
    """Per-row checks and image work; one per process (the processor is loaded once per process)."""

    def __init__(
        self, bounds: PixelBounds, meter: PromptMeter | None, max_tokens: int | None, root: Path | None
    ):
        self.bounds, self.meter, self.max_tokens, self.root = bounds, meter, max_tokens, root

    def __call__(self, item: tuple[int, SourceRow | RowDropped]) -> tuple[str, Any]:
        index, row = item
        if isinstance(row, RowDropped):
            return "drop", (row.reason, f"row {index}: {row}")
        where = f"row {index} (id {row.get('id')!r})"
        try:
            check_source_row(row, where)
            check_placeholders(row.get("placeholders"), len(row["images"]))
            images = [store_image(value, self.bounds, self.root) for value in row["images"]]
            check_gold(row["answer"], row["answer_type"], row.get("choices"))
            if self.meter is not None and self.max_tokens is not None:
                self.meter.check(row["problem"], [(im.width, im.height) for im in images], self.max_tokens)
        except ImagePathEscapesRoot as exc:
            return "fatal", f"{where}: {exc}"
        except (RowDropped, ImageRejected) as exc:
            return "drop", (exc.reason, f"{where}: {exc}")
        except DataError as exc:
            return "fatal", str(exc)
        return "ok", (row, images)


_WORKER: _RowWorker | None = None


def _work(item: tuple[int, Any]) -> tuple[str, Any]:
    assert _WORKER is not None
    return _WORKER(item)


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _load_measuring(options: PrepareOptions) -> tuple[PixelBounds, PromptMeter | None, str]:
    """Pixel bounds and the prompt meter, both from the real processor of `options.model`."""
    try:
        from lmmr1_cli.modeling import load_processor
    except ImportError:  # TEMPORARY until lmmr1_cli.modeling lands; recorded in the manifest.
        bounds = PixelBounds(
            min_pixels=options.min_pixels or PixelBounds.min_pixels,
            max_pixels=options.max_pixels or PixelBounds.max_pixels,
        )
        return bounds, None, "unavailable (prompt length not checked)"
    processor = load_processor(options.model, min_pixels=options.min_pixels, max_pixels=options.max_pixels)
    bounds = PixelBounds.from_processor(processor)
    if options.min_pixels is not None or options.max_pixels is not None:
        bounds = PixelBounds(
            min_pixels=options.min_pixels or bounds.min_pixels,
            max_pixels=options.max_pixels or bounds.max_pixels,
            factor=bounds.factor,
        )
    meter = PromptMeter(processor) if options.max_prompt_tokens else None
    return bounds, meter, options.model


def prepare_dataset(
    recipe: DataRecipe, out_dir: Path, options: PrepareOptions | None = None, progress: Progress | None = None
) -> PrepareResult:
    """Build the dataset dir `out_dir` from `recipe`; returns its manifest. Raises DataError on fatal input."""
    global _WORKER
    options = options or PrepareOptions()
    out_dir = Path(out_dir)
    check_output(out_dir, options.force)
    start = time.monotonic()
    split = options.split or recipe.split
    rows, total, root = iter_source_rows(recipe, split, options.limit, options.source, options.image_root)
    bounds, meter, model = _load_measuring(options)
    _WORKER = _RowWorker(bounds, meter, options.max_prompt_tokens, root)
    writer = DatasetWriter(out_dir, force=options.force)
    drops: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    answer_types: Counter[str] = Counter()
    seen_keys: set[str] = set()
    seen_ids: set[str] = set()
    read = 0
    pool = None
    try:
        if options.num_proc > 1:
            pool = multiprocessing.get_context("fork").Pool(options.num_proc)
        for batch in _batches(iter(rows), options.batch_size * max(1, options.num_proc)):
            outcomes = pool.map(_work, batch, chunksize=4) if pool else [_work(item) for item in batch]
            for kind, payload in outcomes:
                read += 1
                if kind == "fatal":
                    raise DataError(payload)
                if kind == "ok":
                    row, images = payload
                    names = [im.name for im in images]
                    key = dedupe_key(row["problem"], names)
                    if key in seen_keys:
                        kind, payload = "drop", ("duplicate", f"row {read - 1} (id {row['id']!r}): duplicate")
                    elif row["id"] in seen_ids:
                        kind, payload = "drop", ("duplicate_id", f"row {read - 1}: id {row['id']!r} repeats")
                if kind == "drop":
                    reason, message = payload
                    if options.strict:
                        raise DataError(f"{message} [{reason}; --strict]")
                    drops[reason] += 1
                    if len(examples.setdefault(reason, [])) < MAX_DROP_EXAMPLES:
                        examples[reason].append(message)
                    continue
                seen_keys.add(key)
                seen_ids.add(row["id"])
                paths = [writer.add_image(im) for im in images]
                writer.add_row(canonical_row(row, paths))
                answer_types[row["answer_type"]] += 1
            if progress:
                progress(read, total)
        if writer.num_rows == 0:
            raise DataError(
                f"no rows left to write from {source_description(recipe, options.source)} ({dict(drops)})"
            )
        manifest = {
            "format": DATASET_FORMAT,
            "lmmr1_version": __version__,
            "recipe": recipe.name,
            "split": split,
            "sources": [source_description(recipe, options.source)],
            "counts": {
                "read": read,
                "kept": writer.num_rows,
                "dropped": sum(drops.values()),
                "images": len(writer.image_names),
            },
            "drops": dict(sorted(drops.items())),
            "drop_examples": examples,
            "answer_types": dict(sorted(answer_types.items())),
            "filters": {
                "limit": options.limit,
                "max_prompt_tokens": options.max_prompt_tokens,
                "prompt_model": model,
                "strict": options.strict,
                "dedupe": "problem text + image bytes",
                "gold": "lmmr1_cli.verify.parse_gold" if gold_checker_available() else "unchecked",
                **recipe.filters,
            },
            "pixel_bounds": asdict(bounds),
            "content_hash": writer.content_hash(),
        }
        writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    finally:
        if pool is not None:
            pool.terminate()
        _WORKER = None
    return PrepareResult(out_dir=out_dir, manifest=manifest, seconds=time.monotonic() - start)
