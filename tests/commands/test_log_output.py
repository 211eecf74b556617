"""Output read from a pipe or a log file (not a terminal): identifiers whole, JSON where asked, a version."""

from __future__ import annotations

import json

from conftest import run_lmmr1

from lmmr1_cli import __version__


def _without_columns() -> dict:
    # A CI runner may export COLUMNS; empty, it is what a plain `| tee log` gets (the consoles' log width).
    return {"COLUMNS": ""}


def test_recipe_list_piped_keeps_every_name_and_source_whole():
    result = run_lmmr1("prepare-data", "--list", env=_without_columns())
    assert result.returncode == 0, result.stderr
    listed = json.loads(run_lmmr1("prepare-data", "--list", "--json").stdout)
    for recipe in listed:
        line = next((ln for ln in result.stdout.splitlines() if f" {recipe['name']} " in ln), None)
        assert line is not None, f"{recipe['name']} split or cut in:\n{result.stdout}"
        if recipe["source"]:
            assert recipe["source"] in line
    assert {"mathverse-testmini", "synthetic-largest-picture"} <= {r["name"] for r in listed}


def test_columns_set_by_the_user_is_respected():
    result = run_lmmr1("prepare-data", "--list", env={"COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    assert " mathverse-testmini " in result.stdout


def test_version_flag_prints_the_package_version():
    result = run_lmmr1("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"lmmr1 {__version__}"
