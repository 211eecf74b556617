"""Fixtures for the data tests: run the real prepare pipeline and read its output back."""

from __future__ import annotations

import pytest


@pytest.fixture
def prepare(tmp_path):
    """Run the real pipeline on a recipe and return (manifest, rows)."""
    from lmmr1_cli.data.dataset import load_rows
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import resolve_recipe

    def run(recipe: str, out_name: str = "out", **options):
        out = tmp_path / out_name
        result = prepare_dataset(resolve_recipe(recipe), out, PrepareOptions(**options))
        return result.manifest, load_rows(out)

    return run
