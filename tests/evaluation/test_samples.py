"""The resumable sample store of `lmmr1_cli/evaluation/samples.py`."""

from __future__ import annotations

import json

import pytest

from lmmr1_cli.errors import OutputExistsError
from lmmr1_cli.evaluation.samples import SampleStore

SETTINGS = {"model": "m", "max_new_tokens": 8}


def _rec(id_: str, sample: int = 0) -> dict:
    return {"id": id_, "sample": sample, "correct": False, "format": True, "tokens": 3, "reason": "wrong"}


def test_reopening_with_the_same_settings_keeps_finished_rows(tmp_path):
    store = SampleStore(tmp_path / "s", SETTINGS, samples=1)
    store.append([_rec("a"), _rec("b")])
    again = SampleStore(tmp_path / "s", SETTINGS, samples=1)
    assert again.done_ids() == {"a", "b"}


def test_a_line_cut_short_and_an_incomplete_row_are_dropped_on_resume(tmp_path):
    store = SampleStore(tmp_path / "s", SETTINGS, samples=2)
    store.append([_rec("a", 0), _rec("a", 1), _rec("b", 0)])
    with store.path.open("a") as f:
        f.write(json.dumps(_rec("b", 1))[:15])  # killed mid-write
    again = SampleStore(tmp_path / "s", SETTINGS, samples=2)
    assert again.done_ids() == {"a"}
    assert [json.loads(line)["id"] for line in again.path.read_text().splitlines()] == ["a", "a"]


def test_other_settings_are_refused_and_force_starts_over(tmp_path):
    SampleStore(tmp_path / "s", SETTINGS, samples=1).append([_rec("a")])
    with pytest.raises(OutputExistsError, match="max_new_tokens"):
        SampleStore(tmp_path / "s", {**SETTINGS, "max_new_tokens": 16}, samples=1)
    fresh = SampleStore(tmp_path / "s", {**SETTINGS, "max_new_tokens": 16}, samples=1, force=True)
    assert fresh.done_ids() == set()


def test_a_foreign_directory_is_not_deleted(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError):
        SampleStore(tmp_path / "s", SETTINGS, samples=1)
    assert (tmp_path / "s" / "notes.txt").read_text() == "mine"
