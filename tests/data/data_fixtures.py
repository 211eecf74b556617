"""Builders for small source files in each dataset's real schema, written with `datasets` like the hub's copies."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image


def png_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def write_parquet(path: Path, columns: dict, features: dict | None = None) -> Path:
    """A parquet file through `datasets`, so image columns carry the hub's {bytes, path} struct and metadata."""
    import datasets

    feats = datasets.Features(features) if features else None
    datasets.Dataset.from_dict(columns, features=feats).to_parquet(str(path))
    return path


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def prepare_into(out: Path, recipe: str, **options) -> tuple[dict, list[dict]]:
    """Run the real pipeline on a recipe (name, YAML or data path) into `out`; returns (manifest, rows)."""
    from lmmr1_cli.data.dataset import load_rows
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import resolve_recipe

    result = prepare_dataset(resolve_recipe(recipe), out, PrepareOptions(**options))
    return result.manifest, load_rows(out)
