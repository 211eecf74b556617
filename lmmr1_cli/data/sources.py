"""Open any `datasets.load_dataset` source as a stream of records: an HF dataset id, a local dir, or a local
JSON/JSONL/Parquet/CSV file. Streaming keeps memory flat; image columns are left undecoded (bytes/paths) so the
prepare workers decode them, not this process. Local JSONL is read line by line here (a bad line is a drop)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmmr1_cli.data.validate import RowDropped
from lmmr1_cli.errors import ConfigError, DataError

_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv"}


def open_records(
    source: str, config: str | None, split: str, data_files: str | None = None
) -> tuple[Iterator[dict[str, Any] | RowDropped], int | None, Path | None]:
    """(records, row count if known, default image root) for `source`; a record that cannot be read at all is
    a RowDropped in its place."""
    import datasets

    path = Path(source).expanduser()
    try:
        if path.is_file():
            builder = _BUILDERS.get(path.suffix.lower())
            if builder is None:
                raise ConfigError(f"{path}: unknown data file type; expected one of {sorted(_BUILDERS)}")
            if path.stat().st_size == 0:  # datasets' JSON builder dies with a bare StopIteration on it
                raise DataError(f"{path}: empty file, no rows")
            if path.suffix.lower() == ".jsonl":
                return read_jsonl_records(path), _local_row_count(path), path.parent
            ds = datasets.load_dataset(builder, data_files={split: str(path)}, split=split, streaming=True)
            root = path.parent
        elif path.is_dir():
            ds = datasets.load_dataset(str(path), config, split=split, streaming=True)
            root = path
        elif (
            path.is_absolute()
            or source.startswith((".", "~"))
            or source.count("/") > 1
            or path.suffix.lower() in _BUILDERS
        ):
            raise DataError(f"{source}: no such file or directory")
        else:
            files = {split: data_files} if data_files else None
            ds = datasets.load_dataset(source, config, data_files=files, split=split, streaming=True)
            root = None
    except (ConfigError, DataError):
        raise
    except ValueError as exc:  # unknown split / config, bad mapping
        raise ConfigError(f"{source}: {exc}") from None
    except (OSError, ConnectionError, FileNotFoundError) as exc:
        hint = "" if path.exists() else "; offline? point --source at a local copy"
        raise DataError(f"{source}: cannot load ({type(exc).__name__}: {exc}){hint}") from None
    if ds.features:  # unknown for JSON/CSV streams, which hold no decodable media columns anyway
        ds = ds.decode(False)
    total = _local_row_count(path) if path.is_file() else None
    info_splits = getattr(ds.info, "splits", None) or {}
    if split in info_splits and info_splits[split].num_examples:
        total = int(info_splits[split].num_examples)
    return _records(ds, source), total, root


def read_jsonl_records(path: Path) -> Iterator[dict[str, Any] | RowDropped]:
    """A local JSONL file, one record per non-blank line; a line that is not a JSON object is a
    `RowDropped("bad_json")` naming its 1-based line number, so one bad line costs one row, not the job.

    Read here rather than by datasets' JSON builder, which fails the whole file on one bad line (ArrowInvalid)
    and coerces mixed-type columns. Every record carries every column any line of the file has (`jsonl_columns`),
    None where it lacks one, as it would from a table: the format is told from all rows, so an `images` key
    that only later rows have is still read.
    """
    columns = jsonl_columns(path)
    for _, record in _jsonl_lines(path):
        yield {**dict.fromkeys(columns), **record} if isinstance(record, dict) else record


def jsonl_columns(path: Path) -> tuple[str, ...]:
    """The keys of every JSON object line of a JSONL file, in first-seen order (a JSONL file declares no
    schema, so its columns are all rows' keys, never the first row's alone)."""
    columns: dict[str, None] = {}
    for _, record in _jsonl_lines(path):
        if isinstance(record, dict):
            columns.update(dict.fromkeys(record))
    return tuple(columns)


def _jsonl_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowDropped]]:
    """(line number, JSON object or the RowDropped saying why the line is not one) per non-blank line."""
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
                record = json.loads(text)
            except UnicodeDecodeError as exc:
                yield (
                    line_no,
                    RowDropped("bad_json", f"line {line_no} is not UTF-8 ({exc.reason} at byte {exc.start})"),
                )
                continue
            except json.JSONDecodeError as exc:
                yield (
                    line_no,
                    RowDropped(
                        "bad_json",
                        f"line {line_no} is not valid JSON ({exc.msg.removesuffix(' at')}, column {exc.colno})",
                    ),
                )
                continue
            if not isinstance(record, dict):
                kind = type(record).__name__
                yield line_no, RowDropped("bad_json", f"line {line_no} is a JSON {kind}, not an object")
                continue
            yield line_no, record


def _local_row_count(path: Path) -> int | None:
    """Row count for the progress bar, when it is cheap to know (JSONL lines, Parquet metadata)."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return None


def _records(ds: Any, source: str) -> Iterator[dict[str, Any]]:
    try:
        yield from ds
    except (ValueError, OSError) as exc:  # malformed JSON lines, bad parquet
        raise DataError(f"{source}: cannot read rows ({type(exc).__name__}: {exc})") from None
