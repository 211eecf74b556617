"""`lmmr1_cli/rundir.py`: run-dir layout, newest complete checkpoint, run-dir preparation, reading metrics; and the
atomic-write rules it relies on (`lmmr1_cli/atomic.py`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lmmr1_cli.atomic import atomic_dir, remove_stale_partials
from lmmr1_cli.errors import ConfigError, DataError, OutputExistsError
from lmmr1_cli.rundir import CHECKPOINTS_DIR, last_checkpoint, prepare_run_dir, read_metrics


def _checkpoint(run, step, complete=True):
    path = run / CHECKPOINTS_DIR / f"checkpoint-{step}"
    path.mkdir(parents=True)
    if complete:
        (path / "trainer_state.json").write_text("{}")
    return path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_last_checkpoint_is_the_newest_complete_one_by_number_not_by_name(tmp_path):
    assert last_checkpoint(tmp_path) is None
    _checkpoint(tmp_path, 2)
    ten = _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 11, complete=False)  # killed while saving: no trainer_state.json yet
    assert last_checkpoint(tmp_path) == ten


def test_prepare_run_dir_refuses_a_used_dir_replaces_it_with_force_and_resumes_from_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    assert prepare_run_dir(run, force=False, resume=False) is None and run.is_dir()
    (run / "metrics.jsonl").write_text("")
    with pytest.raises(OutputExistsError, match="--force"):
        prepare_run_dir(run, force=False, resume=False)
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        prepare_run_dir(run, force=False, resume=True)
    checkpoint = _checkpoint(run, 3)
    assert prepare_run_dir(run, force=False, resume=True) == checkpoint
    assert prepare_run_dir(run, force=True, resume=False) is None  # emptied later (clear_run_dir)


def test_read_metrics_names_the_file_and_line_of_a_bad_row(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert read_metrics(path) == []
    path.write_text(json.dumps({"step": 1, "reward": 0.5}) + "\n\n" + '{"step": 2, "rew')
    with pytest.raises(DataError, match=r"metrics.jsonl:3: invalid JSON"):
        read_metrics(path)
    path.write_text(json.dumps({"step": 1, "reward": "high"}) + "\n")
    with pytest.raises(DataError, match="'reward' must be a number"):
        read_metrics(path)


def test_a_failed_atomic_dir_keeps_the_old_output_and_leaves_no_staging(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(out) as staging:
        (staging / "new").write_text("new")
        raise RuntimeError("killed half-way")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "old").read_text() == "old"


def test_keep_existing_lets_the_first_complete_writer_win(tmp_path):
    out = tmp_path / "cache-entry"
    with atomic_dir(out, keep_existing=True) as staging:
        (staging / "first").write_text("1")
    with atomic_dir(out, keep_existing=True) as staging:
        (staging / "second").write_text("2")
    assert [p.name for p in out.iterdir()] == ["first"]
    assert [p.name for p in tmp_path.iterdir()] == ["cache-entry"]


def test_stale_partials_of_dead_writers_go_and_an_output_lost_mid_replace_comes_back(tmp_path):
    dead = _dead_pid()
    out = tmp_path / "out"
    partial = tmp_path / f".out.partial-{dead}-abc"
    partial.mkdir()
    live = tmp_path / f".out.partial-{os.getppid()}-xyz"  # a running writer's: left alone
    live.mkdir()
    old = tmp_path / f".out.old-{dead}"  # killed between the two renames of replace_dir
    old.mkdir()
    (old / "model").write_text("previous")
    remove_stale_partials(out)
    assert not partial.exists() and live.exists() and not old.exists()
    assert (out / "model").read_text() == "previous"
    # With the output in place, a dead writer's old copy is just garbage.
    old.mkdir()
    remove_stale_partials(out)
    assert not old.exists() and (out / "model").read_text() == "previous"


def test_a_finished_run_is_one_with_final_and_a_summary_no_checkpoint_beyond_it_and_no_longer_max_steps(
    tmp_path,
):
    from lmmr1_cli.rundir import FINAL_DIR, SUMMARY_FILE, finished_summary

    run = tmp_path / "run"
    _checkpoint(run, 2)
    assert finished_summary(run) is None  # killed: no final model, no summary
    (run / FINAL_DIR).mkdir()
    (run / SUMMARY_FILE).write_text(json.dumps({"steps": 2}))
    assert finished_summary(run) == {"steps": 2} and finished_summary(run, max_steps=2) == {"steps": 2}
    assert finished_summary(run, max_steps=3) is None  # resumed to go further
    _checkpoint(run, 3)
    assert finished_summary(run) is None  # went further and was killed before its new summary


def test_force_empties_the_run_only_when_clear_run_dir_is_called(tmp_path):
    from lmmr1_cli.rundir import clear_run_dir

    run = tmp_path / "run"
    _checkpoint(run, 1)
    (run / "summary.json").write_text("{}")
    assert prepare_run_dir(run, force=True, resume=False) is None
    assert (run / "summary.json").is_file()  # still there: the new model has not loaded yet
    clear_run_dir(run)
    assert run.is_dir() and list(run.iterdir()) == []
