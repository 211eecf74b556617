"""The reader the trainer and evaluator use: `load_rows` validates the dir and names the bad path."""

from __future__ import annotations

import json

import pytest
from data_fixtures import prepare_into

from lmmr1_cli.data.dataset import image_paths, load_manifest, load_rows
from lmmr1_cli.errors import DataError


@pytest.fixture
def dataset(tmp_path):
    prepare_into(tmp_path / "out", "synthetic-geo", limit=4, max_prompt_tokens=None)
    return tmp_path / "out"


def test_load_rows_reads_rows_and_image_paths_exist(dataset):
    rows = load_rows(dataset)
    assert len(rows) == 4
    assert all(p.is_file() for p in image_paths(dataset, rows[0]))
    assert load_rows(dataset, limit=2) == rows[:2]


def test_missing_dir_is_a_data_error_naming_it(tmp_path):
    with pytest.raises(DataError, match="nope"):
        load_rows(tmp_path / "nope")


def test_missing_rows_file_is_named(dataset):
    (dataset / "rows.jsonl").unlink()
    with pytest.raises(DataError, match="rows.jsonl"):
        load_rows(dataset)


@pytest.mark.parametrize("text", ["{not json", json.dumps({"format": "x"}), json.dumps([1])])
def test_bad_manifest_is_named(dataset, text):
    (dataset / "manifest.json").write_text(text)
    with pytest.raises(DataError, match="manifest.json"):
        load_rows(dataset)


def test_missing_manifest_is_named(dataset):
    (dataset / "manifest.json").unlink()
    with pytest.raises(DataError, match="manifest.json"):
        load_manifest(dataset)


def test_corrupt_row_line_names_file_and_line(dataset):
    with (dataset / "rows.jsonl").open("a") as f:
        f.write("{oops\n")
    with pytest.raises(DataError, match=r"rows.jsonl:5"):
        load_rows(dataset)
