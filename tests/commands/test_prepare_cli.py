"""`lmmr1 prepare-data` through the installed console script: outputs, --json, errors, --list, --dry-run."""

from __future__ import annotations

import json

from conftest import run_lmmr1


def _files(directory):
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_synthetic_geo_dataset_with_json_summary(tmp_path):
    # Byte-identical reruns and --force are checked in-process (tests/data/test_prepare.py); one CLI run here.
    out = tmp_path / "geo-train"
    result = run_lmmr1(
        "prepare-data", "synthetic-geo", "--split", "train", "--limit", "24", "-o", out, "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["counts"]["kept"] == 24 and summary["split"] == "train"
    assert summary == {
        **json.loads((out / "manifest.json").read_text()),
        "out_dir": str(out),
        "seconds": summary["seconds"],
    }
    files = _files(out)
    assert len([n for n in files if n.startswith("images/")]) == summary["counts"]["images"]


def test_bad_input_is_one_line_error_naming_file_row_field_and_nothing_is_written(tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text('{"question": "What is 1+1?", "answer": "2"}\n')
    (tmp_path / "r.yaml").write_text(
        f"name: r\nsource: {source}\nfields: {{problem: question, answer: gt}}\n"
    )
    out = tmp_path / "out"
    result = run_lmmr1("prepare-data", tmp_path / "r.yaml", "-o", out)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "rows.jsonl row 1:" in lines[0] and "'gt'" in lines[0], lines[0]  # 1-based, as verify counts
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))


def test_existing_output_is_refused_without_force(tmp_path):
    (tmp_path / "out").mkdir()
    result = run_lmmr1("prepare-data", "synthetic-arith", "--limit", "2", "-o", tmp_path / "out")
    assert result.returncode != 0 and "--force" in result.stderr


def test_list_shows_every_recipe_as_json():
    result = run_lmmr1("prepare-data", "--list", "--json")
    assert result.returncode == 0, result.stderr
    names = {r["name"] for r in json.loads(result.stdout)}
    for name in (
        "deepscaler",
        "vermulti-geo",
        "geometry3k",
        "mathverse-testmini",
        "gpqa-diamond",
        "synthetic-sokoban",
    ):
        assert name in names


def test_dry_run_resolves_without_writing(tmp_path):
    result = run_lmmr1(
        "prepare-data", "geometry3k", "--source", "x.parquet", "-o", tmp_path / "o", "--dry-run", "--json"
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["recipe"]["source"] == "hiyouga/geometry3k" and plan["options"]["source"] == "x.parquet"
    assert not (tmp_path / "o").exists()


def test_help_has_an_example():
    result = run_lmmr1("prepare-data", "--help")
    assert result.returncode == 0 and "synthetic-arith" in result.stdout
