"""`lmmr1_cli/lineage.py`: run.json, its segments, and the resume check that keeps it honest (a resume with another
config, data or recipe is refused naming the first difference; allowed changes become a new segment)."""

from __future__ import annotations

import json
import shutil

import pytest

from lmmr1_cli.config import load_train_config
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.lineage import RESUME_SAFE_KEYS, append_segment, check_resume, read_lineage, write_lineage


@pytest.fixture
def run(tmp_path, arith_train):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_lineage(run_dir, _config(), arith_train, init_model="tiny", resolved_init="/cache/tiny")
    return run_dir


def _config(recipe: str = "tiny-fre", *overrides: str):
    return load_train_config(recipe, overrides=["run.max_steps=2", *overrides])


def test_the_same_config_and_data_resume_with_nothing_changed(run, arith_train):
    assert check_resume(run, _config(), arith_train) == {}


def test_a_changed_key_is_refused_naming_it_and_both_values(run, arith_train):
    with pytest.raises(ConfigError) as error:
        check_resume(
            run, _config("tiny-fre", "optim.learning_rate=0.5"), arith_train, allow_config_change=True
        )
    message = str(error.value)
    recorded = load_train_config("tiny-fre").optim.learning_rate
    assert "optim.learning_rate is 0.5" in message and f"trained with {recorded!r}" in message
    assert "-o NEW --model" in message and "\n" not in message  # train-fre starts from a model with --model


def test_the_first_difference_named_is_the_most_telling(run, arith_train):
    with pytest.raises(ConfigError, match=r"^--resume: recipe is 'tiny-mgt'"):
        check_resume(run, _config("tiny-mgt", "optim.learning_rate=0.5"), arith_train)
    with pytest.raises(ConfigError, match=r"^--resume: model.name_or_path is 'runs/other'"):
        check_resume(run, _config("tiny-fre", "model.name_or_path=runs/other"), arith_train)


def test_other_data_is_refused(run, geo_train):
    with pytest.raises(ConfigError, match=r"^--resume: data is .*geo"):
        check_resume(run, _config(), geo_train, allow_config_change=True)


def test_a_safe_change_needs_the_flag_and_then_is_returned(run, arith_train):
    longer = _config("tiny-fre", "run.max_steps=5")
    with pytest.raises(ConfigError, match="pass --allow-config-change"):
        check_resume(run, longer, arith_train)
    assert check_resume(run, longer, arith_train, allow_config_change=True) == {"run.max_steps": [2, 5]}
    assert "run.max_steps" in RESUME_SAFE_KEYS and "optim.learning_rate" not in RESUME_SAFE_KEYS


def test_a_segment_is_appended_and_history_is_kept(run, arith_train):
    before = read_lineage(run)
    append_segment(run, _config("tiny-fre", "run.max_steps=5"), 2, {"run.max_steps": [2, 5]})
    after = read_lineage(run)
    assert after["config"] == before["config"] and after["config"]["run"]["max_steps"] == 2
    first, second = after["segments"]
    assert first == before["segments"][0]
    assert second["start_step"] == 2 and second["config"]["run"]["max_steps"] == 5
    assert second["changed"] == {"run.max_steps": [2, 5]}
    # The next resume is compared with the newest segment.
    assert check_resume(run, _config("tiny-fre", "run.max_steps=5"), arith_train) == {}


def test_a_run_json_written_before_segments_is_read_as_one_segment(run, arith_train):
    lineage = json.loads((run / "run.json").read_text())
    del lineage["segments"]
    (run / "run.json").write_text(json.dumps(lineage))
    with pytest.raises(ConfigError, match="optim.learning_rate"):
        check_resume(run, _config("tiny-fre", "optim.learning_rate=0.5"), arith_train)
    append_segment(run, _config(), 2)
    assert [s["start_step"] for s in read_lineage(run)["segments"]] == [0, 2]


def test_a_run_from_the_shipped_tiny_model_records_its_sha256(tmp_path, arith_train, tiny_dir):
    from lmmr1_cli.tiny import SHIPPED_SHA256

    write_lineage(tmp_path / "tiny", _config(), arith_train, init_model="tiny", resolved_init=str(tiny_dir))
    record = read_lineage(tmp_path / "tiny")["init_tiny_model"]
    assert record == {"tiny_version": "3", "sha256": SHIPPED_SHA256}
    # a copy of it is another model dir (it may be edited): only the shipped one is recorded as the tiny model
    shutil.copytree(tiny_dir, tmp_path / "copy")
    write_lineage(
        tmp_path / "other", _config(), arith_train, init_model="copy", resolved_init=str(tmp_path / "copy")
    )
    assert read_lineage(tmp_path / "other")["init_tiny_model"] is None
