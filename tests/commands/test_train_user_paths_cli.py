"""`lmmr1 train-fre` / `train-mgt` on the paths a new user walks (issue 12): resuming a finished or changed run,
replacing a run with --force, seeding a full MGT run from a LoRA FRE run, data changed after prepare-data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_lmmr1

SHORT = ["run.max_steps=2", "run.save_every_rollouts=1", "rollout.max_completion_length=12"]


def _tree(run: Path) -> dict[str, tuple[int, int]]:
    """Every file of a run with its size and mtime: equal trees mean nothing was rewritten."""
    return {
        str(p.relative_to(run)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in run.rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(arith_train, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "fre"
    result = run_lmmr1("train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, *SHORT)
    assert result.returncode == 0, result.stderr
    return out


def test_lora_fre_run_seeds_a_full_parameter_mgt_run(arith_train, geo_train, tmp_path):
    lora = tmp_path / "lora"
    first = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", lora, *SHORT,
        "model.lora_r=4", "model.lora_alpha=8",
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert (lora / "final" / "adapter_config.json").is_file()
    mgt = tmp_path / "mgt"
    second = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", lora, "--data", geo_train, "-o", mgt, *SHORT
    )
    assert second.returncode == 0, second.stderr
    assert (mgt / "final" / "model.safetensors").is_file()  # a full model: the adapter was merged on load
    assert not (mgt / "final" / "adapter_config.json").exists()
    lineage = json.loads((mgt / "run.json").read_text())
    assert (
        lineage["resolved_init"] == str(lora / "final")
        and lineage["parent"]["config"]["model"]["lora_r"] == 4
    )


def test_force_keeps_the_old_run_when_the_new_model_fails_to_load(finished, arith_train, tiny_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_dir, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a truncated download
    before = _tree(run)
    result = run_lmmr1(
        "train-fre",
        "--recipe",
        "tiny-fre",
        "--model",
        broken,
        "--data",
        arith_train,
        "-o",
        run,
        "--force",
        *SHORT,
    )
    assert result.returncode == 2 and "broken-model" in result.stderr and "Traceback" not in result.stderr
    assert _tree(run) == before


def test_an_image_deleted_after_prepare_data_fails_at_start_in_one_line(geo_train, tmp_path):
    data = tmp_path / "geo"
    shutil.copytree(geo_train, data)
    row = json.loads((data / "rows.jsonl").read_text().splitlines()[0])
    (data / row["images"][0]).unlink()
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", data, "-o", tmp_path / "mgt", *SHORT
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert row["images"][0] in result.stderr and "row 1" in result.stderr
    assert not (tmp_path / "mgt").exists()
