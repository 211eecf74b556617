"""The prepare pipeline: source rows -> checked, image-resized canonical rows -> an atomic dataset dir.

Rows stream through in bounded batches (memory does not grow with the dataset); with `num_proc > 1` the costly
per-row work (decode, resize, encode images; parse the gold; count prompt tokens) runs in a process pool, while
dedupe and writing stay in this process, in source order, so output is deterministic for any `num_proc`.
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmmr1_cli import __version__
from lmmr1_cli.data.adapters import SourceRow, iter_source_rows, row_name, source_description
from lmmr1_cli.data.images import DEFAULT_MIN_PIXELS, ImageRejected, PixelBounds, store_image
from lmmr1_cli.data.recipes import DataRecipe
from lmmr1_cli.data.schema import canonical_row, check_source_row
from lmmr1_cli.data.validate import (
    PromptMeter,
    RowDropped,
    check_gold,
    check_placeholders,
    dedupe_key,
)
from lmmr1_cli.data.writer import DatasetWriter, check_output
from lmmr1_cli.defaults import PREPARE_MAX_PROMPT_TOKENS
from lmmr1_cli.errors import ConfigError, DataError
from lmmr1_cli.prompts import build_conversation

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
    max_prompt_tokens: int | None = PREPARE_MAX_PROMPT_TOKENS  # None: no length check
    min_pixels: int | None = None
    max_pixels: int | None = None
    model: str = "tiny"
    batch_size: int = 64


@dataclass
class PrepareResult:
    out_dir: Path
    manifest: dict[str, Any]
    seconds: float


class _RowWorker:
    """Per-row checks and image work; one per process (the processor is loaded once per process)."""

    def __init__(
        self,
        bounds: PixelBounds,
        meter: PromptMeter | None,
        max_tokens: int | None,
        root: Path | None,
        label: str,
    ):
        self.bounds, self.meter, self.max_tokens, self.root, self.label = (
            bounds,
            meter,
            max_tokens,
            root,
            label,
        )

    def __call__(self, item: tuple[int, SourceRow | RowDropped]) -> tuple[str, str, Any]:
        index, row = item
        if isinstance(row, RowDropped):
            return "drop", f"{self.label} {row_name(index)}", (row.reason, str(row))
        where = f"{self.label} {row_name(index)} (id {row.get('id')!r})"
        try:
            check_source_row(row, where)
            check_placeholders(row.get("placeholders"), len(row["images"]))
            images = [store_image(value, self.bounds, self.root) for value in row["images"]]
            if self.meter is not None and self.max_tokens is not None:
                sizes = [im.processed_size or (im.width, im.height) for im in images]
                self._check_length(row["problem"], sizes, row.get("system"))
        except (RowDropped, ImageRejected) as exc:  # an image outside the root too: a named, counted drop
            return "drop", where, (exc.reason, str(exc))
        except DataError as exc:
            return "fatal", where, str(exc)
        return "ok", where, (row, images)

    def _check_length(self, problem: str, sizes: list[tuple[int, int]], system: str | None) -> None:
        """Prompt tokens with the row's own system message when it has one (training's `auto` uses it)."""
        assert self.meter is not None and self.max_tokens is not None
        try:
            if system:
                n = self.meter.count_messages(build_conversation(problem, len(sizes), system), sizes)
                if n > self.max_tokens:
                    raise RowDropped(
                        "prompt_too_long", f"prompt is {n} tokens (images included), above {self.max_tokens}"
                    )
            else:
                self.meter.check(problem, sizes, self.max_tokens)
        except RowDropped as exc:
            if sizes and self.bounds.max_pixels is None:
                raise RowDropped(
                    exc.reason, f"{exc}, images at source resolution (--max-pixels N downscales them)"
                ) from None
            raise


class _Collector:
    """Main-process side: gold check, dedupe, drop accounting and writing, in source order."""

    def __init__(self, writer: DatasetWriter, strict: bool) -> None:
        self.writer, self.strict = writer, strict
        self.drops: Counter[str] = Counter()
        self.examples: dict[str, list[str]] = {}
        self.answer_types: Counter[str] = Counter()
        self.system_prompts: Counter[str] = Counter()
        self.seen_keys: set[str] = set()
        self.seen_ids: set[str] = set()
        self.read = 0

    def take(self, kind: str, where: str, payload: Any) -> None:
        self.read += 1
        if kind == "fatal":
            raise DataError(payload if payload.startswith(where) else f"{where}: {payload}")
        if kind == "drop":
            self._drop(where, *payload)
            return
        row, images = payload
        try:
            # Here, not in the workers: the verifier keeps its own worker pool per process.
            check_gold(row["answer"], row["answer_type"], row.get("choices"))
        except RowDropped as exc:
            self._drop(where, exc.reason, str(exc))
            return
        key = dedupe_key(row["problem"], [im.name for im in images])
        if key in self.seen_keys:
            self._drop(where, "duplicate", "same problem and images as an earlier row")
            return
        if row["id"] in self.seen_ids:
            self._drop(where, "duplicate_id", f"id {row['id']!r} repeats")
            return
        self.seen_keys.add(key)
        self.seen_ids.add(row["id"])
        paths = [self.writer.add_image(im) for im in images]
        stored = canonical_row(row, paths)
        if row.get("system"):  # the source's own system prompt (LMM-R1 messages): kept, and counted
            stored["system"] = row["system"]
            self.system_prompts[row["system"]] += 1
        self.writer.add_row(stored)
        self.answer_types[row["answer_type"]] += 1

    def _drop(self, where: str, reason: str, message: str) -> None:
        if self.strict:
            raise DataError(f"{where}: {message} [{reason}; --strict]")
        self.drops[reason] += 1
        if len(self.examples.setdefault(reason, [])) < MAX_DROP_EXAMPLES:
            self.examples[reason].append(f"{where}: {message}")


_WORKER: _RowWorker | None = None


def _work(item: tuple[int, Any]) -> tuple[str, str, Any]:
    assert _WORKER is not None
    return _WORKER(item)


def _run_batch(batch: list[tuple[int, Any]], pool: Any) -> list[tuple[str, str, Any]]:
    """Outcomes in source order; rows the adapter already dropped never travel to a worker."""
    if pool is None:
        return [_work(item) for item in batch]
    todo = [item for item in batch if not isinstance(item[1], RowDropped)]
    done = iter(list(pool.map(_work, todo, chunksize=4)))
    return [_work(item) if isinstance(item[1], RowDropped) else next(done) for item in batch]


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def pixel_bounds(recipe: DataRecipe, options: PrepareOptions) -> PixelBounds:
    """The bounds images are stored at and measured with: --min/--max-pixels, else the recipe's, else the Qwen
    processor's minimum and no maximum (source resolution). Never the measuring model's own bounds: the tiny
    model's 12,544-pixel cap would silently shrink a GPU user's data."""
    return PixelBounds(
        min_pixels=options.min_pixels or recipe.min_pixels or DEFAULT_MIN_PIXELS,
        max_pixels=options.max_pixels or recipe.max_pixels,
    )


def _load_meter(options: PrepareOptions) -> PromptMeter | None:
    """The prompt meter: the tokenizer and chat template of `options.model` (its pixel bounds are not used)."""
    if not options.max_prompt_tokens:
        return None
    from lmmr1_cli.modeling import load_processor

    return PromptMeter(load_processor(options.model))


def system_prompt_summary(system_prompts: Counter[str]) -> dict[str, Any]:
    """The manifest's `system_prompts` entry: how many rows carry their own system message, and the commonest."""
    return {
        "rows_with_own": sum(system_prompts.values()),
        "distinct": len(system_prompts),
        "most_common": system_prompts.most_common(1)[0][0] if system_prompts else None,
    }


def image_storage(max_pixels: int | None) -> str:
    """The manifest's `images` entry: how the stored images relate to `pixel_bounds`."""
    return "source resolution" if max_pixels is None else "resized to pixel_bounds"


def _manifest(
    recipe: DataRecipe, split: str, source: dict, options: PrepareOptions, bounds: PixelBounds, c: _Collector
) -> dict[str, Any]:
    return {
        "format": DATASET_FORMAT,
        "lmmr1_version": __version__,
        "recipe": recipe.name,
        "split": split,
        "sources": [source],
        "counts": {
            "read": c.read,
            "kept": c.writer.num_rows,
            "dropped": sum(c.drops.values()),
            "images": len(c.writer.image_names),
        },
        "drops": dict(sorted(c.drops.items())),
        "drop_examples": c.examples,
        "answer_types": dict(sorted(c.answer_types.items())),
        "filters": {
            "limit": options.limit,
            "max_prompt_tokens": options.max_prompt_tokens,
            "prompt_model": options.model,
            "strict": options.strict,
            "dedupe": "problem text + image bytes",
            "gold": "lmmr1_cli.verify.parse_gold",
            **recipe.filters,
        },
        # Read by training (it refuses data stored below its recipe's bounds): keep the key and its two fields.
        "pixel_bounds": {"min_pixels": bounds.min_pixels, "max_pixels": bounds.max_pixels},
        "images": image_storage(bounds.max_pixels),
        "system_prompts": system_prompt_summary(c.system_prompts),
        "content_hash": c.writer.content_hash(),
    }


def check_pixel_options(recipe: DataRecipe, options: PrepareOptions) -> None:
    """The pixel bounds against each other and against the processor's own limits, before any source is read
    (`prepare-data --dry-run` too): an image is never stored below min_pixels, nor below one merged patch
    (factor x factor), so a max_pixels under either would be recorded but not obeyed."""
    for name in ("min_pixels", "max_pixels"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if options.min_pixels and options.max_pixels and options.min_pixels > options.max_pixels:
        raise ConfigError(f"--min-pixels ({options.min_pixels}) is above --max-pixels ({options.max_pixels})")
    if recipe.max_pixels is not None and options.min_pixels and options.min_pixels > recipe.max_pixels:
        raise ConfigError(f"--min-pixels ({options.min_pixels}) is above the recipe's max_pixels")
    bounds = pixel_bounds(recipe, options)
    upper = bounds.max_pixels
    if upper is None:
        return
    side = bounds.factor
    floor = max(bounds.min_pixels, side * side)
    where = "--max-pixels" if options.max_pixels else f"recipe {recipe.name!r} max_pixels"
    if upper < floor:
        source = (
            "--min-pixels"
            if options.min_pixels
            else f"recipe {recipe.name!r} min_pixels"
            if recipe.min_pixels
            else "the Qwen processor's min_pixels"
        )
        below = (
            f"one {side}x{side} patch ({side * side} pixels), the smallest image the processor makes"
            if floor == side * side
            else f"{source} ({bounds.min_pixels}), the smallest image the processor makes"
        )
        raise ConfigError(
            f"{where} ({upper}) is below {below}, so images would be stored larger than it; pass --max-pixels "
            f">= {floor}, or leave it out to keep the source resolution"
        )


def prepare_dataset(
    recipe: DataRecipe, out_dir: Path, options: PrepareOptions | None = None, progress: Progress | None = None
) -> PrepareResult:
    """Build the dataset dir `out_dir` from `recipe`; returns its manifest. Raises DataError on fatal input."""
    global _WORKER
    options = options or PrepareOptions()
    out_dir = Path(out_dir)
    check_output(out_dir, options.force)
    check_pixel_options(recipe, options)
    start = time.monotonic()
    split = options.split or recipe.split
    rows, total, root = iter_source_rows(recipe, split, options.limit, options.source, options.image_root)
    source = source_description(recipe, options.source)
    label = str(source.get("source") or recipe.name)
    batches = _batches(iter(rows), options.batch_size * options.num_proc)
    # Read the first batch before the (slow) processor load, so a wrong mapping or bad file fails fast.
    first = next(batches, [])
    bounds, meter = pixel_bounds(recipe, options), _load_meter(options)
    _WORKER = _RowWorker(bounds, meter, options.max_prompt_tokens, root, label)
    writer = DatasetWriter(out_dir, force=options.force)
    collector = _Collector(writer, options.strict)
    pool = None
    try:
        if options.num_proc > 1:
            # fork: workers inherit the loaded processor instead of each re-importing transformers.
            # An executor, not multiprocessing.Pool: a worker that dies raises BrokenProcessPool instead of
            # leaving map() waiting forever.
            pool = ProcessPoolExecutor(options.num_proc, mp_context=multiprocessing.get_context("fork"))
        for batch in itertools.chain([first], batches):
            outcomes = _run_batch(batch, pool)
            for outcome in outcomes:
                collector.take(*outcome)
            if progress:
                progress(collector.read, total)
        if writer.num_rows == 0:
            raise DataError(f"{label}: no rows left to write (dropped: {dict(collector.drops)})")
        manifest = _manifest(recipe, split, source, options, bounds, collector)
        writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        _WORKER = None
    return PrepareResult(out_dir=out_dir, manifest=manifest, seconds=time.monotonic() - start)
