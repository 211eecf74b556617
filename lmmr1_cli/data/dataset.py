"""Read a prepared dataset dir (rows.jsonl + images/ + manifest.json) back into canonical rows."""

from __future__ import annotations

import json
from pathlib import Path

from lmmr1_cli.errors import DataError

ROWS_FILE = "rows.jsonl"
MANIFEST_FILE = "manifest.json"
_MANIFEST_KEYS = ("format", "counts", "content_hash")


def load_rows(dataset_dir: Path, limit: int | None = None) -> list[dict]:
    """Canonical rows of a dataset dir made by `lmmr1 prepare-data`, in file order."""
    dataset_dir = Path(dataset_dir)
    rows_path = dataset_dir / ROWS_FILE
    if not dataset_dir.is_dir():
        raise DataError(f"{dataset_dir}: dataset dir not found (make one with `lmmr1 prepare-data`)")
    if not rows_path.is_file():
        raise DataError(f"{rows_path}: missing; is {dataset_dir} a dir made by `lmmr1 prepare-data`?")
    load_manifest(dataset_dir)
    rows: list[dict] = []
    with rows_path.open(encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if limit is not None and len(rows) >= limit:
                break
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{rows_path}:{line_no}: invalid JSON ({exc.msg})") from None
    if not rows:
        raise DataError(f"{rows_path}: no rows")
    return rows


def load_manifest(dataset_dir: Path) -> dict:
    """The dataset's manifest.json; DataError naming the file when it is missing or not a manifest."""
    path = Path(dataset_dir) / MANIFEST_FILE
    if not path.is_file():
        raise DataError(f"{path}: missing; is {dataset_dir} a dir made by `lmmr1 prepare-data`?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None
    missing = [k for k in _MANIFEST_KEYS if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise DataError(f"{path}: not a prepare-data manifest (missing {', '.join(missing)})")
    return manifest


def image_paths(dataset_dir: Path, row: dict) -> list[Path]:
    """Absolute paths of a row's images (stored relative to the dataset dir)."""
    return [Path(dataset_dir) / rel for rel in row.get("images") or []]
