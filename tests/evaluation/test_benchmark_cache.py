"""A benchmark recipe's cached copy is prepared at the bounds eval asks for: an older cache, stored at the tiny
model's 12,544-pixel cap, is prepared again instead of being evaluated at 112 pixels."""

from __future__ import annotations

import json

from PIL import Image

from lmmr1_cli.data.dataset import load_rows
from lmmr1_cli.evaluation.benchmarks import resolve_benchmark


def test_a_cache_stored_below_the_wanted_bounds_is_prepared_again(tmp_path, monkeypatch):
    monkeypatch.setenv("LMMR1_CACHE", str(tmp_path / "cache"))
    benchmark = resolve_benchmark("synthetic-geo:test")
    manifest_path = benchmark.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["pixel_bounds"]["max_pixels"] is None  # source resolution
    # What an older lmmr1 left: the same dir, its manifest saying the images were shrunk to 12,544 pixels.
    manifest["pixel_bounds"] = {"min_pixels": 3136, "max_pixels": 12544}
    manifest_path.write_text(json.dumps(manifest))
    again = resolve_benchmark("synthetic-geo:test")
    assert again.path == benchmark.path
    assert json.loads(manifest_path.read_text())["pixel_bounds"]["max_pixels"] is None
    row = load_rows(again.path, limit=1)[0]
    with Image.open(again.path / row["images"][0]) as image:
        assert image.size[0] * image.size[1] > 12544
