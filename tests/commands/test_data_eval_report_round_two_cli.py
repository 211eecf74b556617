"""Own data, eval, report and help text on the paths of issue 29, typed as a user types them: a JSONL whose first
row has no images, --max-pixels below what the processor makes, eval on data with a deleted image, a report of an
MGT run started from `fre@best`, and the smaller mismatches (help text, did-you-mean)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import run_lmmr1
from PIL import Image


def test_own_jsonl_reads_images_that_only_later_rows_have(tmp_path, light_env):
    Image.new("RGB", (64, 64), "white").save(tmp_path / "ok.png")
    rows = [
        {"problem": "What is 1+1?", "answer": "2"},
        {"problem": "<image>How many squares?", "answer": "3", "images": ["ok.png"]},
        {"problem": "What is 2+2?", "answer": "4"},
    ]
    (tmp_path / "own.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_lmmr1("prepare-data", tmp_path / "own.jsonl", "-o", tmp_path / "own", "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["counts"] == {"read": 3, "kept": 3, "dropped": 0, "images": 1}
    stored = [json.loads(line) for line in (tmp_path / "own" / "rows.jsonl").read_text().splitlines()]
    assert [len(r["images"]) for r in stored] == [0, 1, 0]


def test_a_recipe_that_maps_no_images_column_is_told_so_instead_of_dropping_rows(tmp_path):
    Image.new("RGB", (64, 64), "white").save(tmp_path / "ok.png")
    (tmp_path / "rows.jsonl").write_text(
        json.dumps({"q": "<image>How many squares?", "a": "3", "images": ["ok.png"]}) + "\n"
    )
    recipe = tmp_path / "mine.yaml"
    recipe.write_text(f"name: mine\nsource: {tmp_path / 'rows.jsonl'}\nfields: {{problem: q, answer: a}}\n")
    result = run_lmmr1("prepare-data", recipe, "-o", tmp_path / "out")
    assert result.returncode == 2
    assert (
        "column 'images' holds images, but the recipe's fields map no images column; add `images: images`"
        in (result.stderr)
    )


@pytest.mark.parametrize(
    ("options", "floor"),
    [(["--max-pixels", "100"], 3136), (["--min-pixels", "100", "--max-pixels", "500"], 784)],
)
def test_max_pixels_below_what_the_processor_makes_is_refused_with_and_without_dry_run(
    options, floor, tmp_path, light_env
):
    lines = set()
    for extra in ([], ["--dry-run"]):
        out = tmp_path / f"geo{len(extra)}"
        result = run_lmmr1(
            "prepare-data", "synthetic-geo", "--limit", "4", *options, "-o", out, *extra, env=light_env
        )
        assert result.returncode == 2 and not out.exists()
        assert f"so images would be stored larger than it; pass --max-pixels >= {floor}" in result.stderr
        lines.add(result.stderr)
    assert len(lines) == 1


def test_eval_on_data_with_a_deleted_image_refuses_before_scoring_any_row(geo_train, tmp_path, light_env):
    data = tmp_path / "geo"
    shutil.copytree(geo_train, data)
    rows = [json.loads(line) for line in (data / "rows.jsonl").read_text().splitlines()]
    victim = next(i for i, r in enumerate(rows) if r["images"] and i > 2)
    (data / rows[victim]["images"][0]).unlink()
    result = run_lmmr1("eval", "--model", "tiny", "--benchmark", data, "-o", tmp_path / "res", env=light_env)
    assert result.returncode == 2
    assert (
        result.stderr.startswith(f"error: {data / 'rows.jsonl'} row {victim + 1} ")
        and "is missing" in result.stderr
    )
    assert "re-run `lmmr1 prepare-data`" in result.stderr
    assert not (tmp_path / "res").exists()  # nothing scored, no partial samples


def test_eval_refuses_a_max_pixels_no_image_can_meet_before_loading(eval_arith, tmp_path, light_env):
    result = run_lmmr1(
        "eval", "--model", "tiny", "--benchmark", eval_arith, "--max-pixels", "100", "-o", tmp_path / "r",
        env=light_env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--max-pixels (100) is below one 28x28 patch (784 pixels)" in result.stderr


def test_eval_suggests_the_recipe_a_typo_meant(tmp_path, light_env):
    result = run_lmmr1(
        "eval", "--model", "tiny", "--benchmark", "synthetic-arth:test", "-o", tmp_path, env=light_env
    )
    assert result.returncode == 2
    assert "did you mean 'synthetic-arith:test'?" in result.stderr


def test_run_at_a_misspelt_best_suggests_run_at_best(trained_run, eval_arith, tmp_path, light_env):
    result = run_lmmr1(
        "eval",
        "--model",
        f"{trained_run}@bst",
        "--benchmark",
        eval_arith,
        "-o",
        tmp_path / "res",
        env=light_env,
    )
    assert result.returncode == 2
    assert f"did you mean '{trained_run}@best'" in result.stderr


@pytest.fixture(scope="module")
def fre_then_mgt_from_best(arith_train, geo_train, tmp_path_factory):
    """A 2-step FRE run validated only at step 0 (so best/ is step 0), and a 1-step MGT run from `fre@best`."""
    root = tmp_path_factory.mktemp("handoff")
    short = ["run.save_every_rollouts=1", "rollout.max_completion_length=12"]
    fre = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", root / "fre", "--eval-data", arith_train,
        "eval.before_training=true", "eval.limit=2", "run.max_steps=2", *short,
    )  # fmt: skip
    assert fre.returncode == 0, fre.stderr
    assert json.loads((root / "fre" / "run.json").read_text())["best"]["step"] == 0
    mgt = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", f"{root / 'fre'}@best", "--data", geo_train,
        "-o", root / "mgt", "run.max_steps=1", *short,
    )  # fmt: skip
    assert mgt.returncode == 0, mgt.stderr
    return root


def test_report_starts_an_mgt_run_from_fre_at_best_at_step_0_and_says_what_start_and_end_are(
    fre_then_mgt_from_best,
):
    root = fre_then_mgt_from_best
    out = root / "report"
    result = run_lmmr1("report", root / "fre", root / "mgt", "-o", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert "training (start → end" in result.stdout and "first → last logged step" not in result.stdout
    for run in summary["runs"]:  # what start and end mean for each run, as its train summary said
        assert run["start_end"] in result.stdout
    assert [r["starts_at"] for r in summary["runs"]] == [None, "FRE step 0"]
    assert re.search(r"\| MGT \(mgt\) \| tiny-mgt \| 1 \| FRE step 0 \|", (out / "report.md").read_text())


def test_help_says_what_the_commands_do(tmp_path):
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    helps = {
        c: run_lmmr1(c, "--help", env={"COLUMNS": "400"}).stdout
        for c in ("train-fre", "tiny", "prepare-data")
    }
    helps["mix-data"] = run_lmmr1("mix-data", "--help", env={"COLUMNS": "400"}).stdout
    assert "CUDA only" not in helps["train-fre"] and "CPU build" in helps["train-fre"]
    rebuild = re.search(r"--rebuild.*?(\d+) s on one core", readme, re.S)
    assert rebuild and f"~{rebuild.group(1)} s on one core" in helps["tiny"]
    dry_run = next(line for line in helps["prepare-data"].splitlines() if "--dry-run" in line)
    assert "GRPOConfig" not in dry_run and "recipe" in dry_run
    for command in ("prepare-data", "mix-data"):
        out_line = next(line for line in helps[command].splitlines() if "--out" in line)
        assert "required" in out_line, command
