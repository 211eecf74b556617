"""`lmmr1 mix-data` through the installed console script: the mixed dir, its manifest, training on it, errors."""

from __future__ import annotations

import json

from conftest import run_lmmr1


def _rows(dataset) -> list[dict]:
    return [json.loads(line) for line in (dataset / "rows.jsonl").read_text().splitlines()]


def test_pictures_and_text_rows_become_one_dataset(geo_train, arith_train, tmp_path):
    out = tmp_path / "mgt-train"
    result = run_lmmr1("mix-data", f"{geo_train}:12", f"{arith_train}:4", "-o", out)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}: 16 rows" in result.stdout and "synthetic-geo" in result.stdout  # the human summary
    rows = _rows(out)
    geo, arith = _rows(geo_train), _rows(arith_train)
    assert sorted(r["id"] for r in rows) == sorted(
        r["id"] for r in geo[:12] + arith[:4]
    )  # the first N of each
    assert [r["id"] for r in rows] != [r["id"] for r in geo[:12] + arith[:4]]  # shuffled together
    by_id = {r["id"]: r for r in geo + arith}
    for row in rows:  # rows as prepared; images copied byte for byte
        assert {k: v for k, v in row.items() if k != "images"} == {
            k: v for k, v in by_id[row["id"]].items() if k != "images"
        }
        for rel, original in zip(row["images"], by_id[row["id"]]["images"], strict=True):
            assert (out / rel).read_bytes() == (geo_train / original).read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {
        "read": 16,
        "kept": 16,
        "dropped": 0,
        "images": len(list((out / "images").iterdir())),
    }
    parts = [(s["mix_part"], s["recipe"], s["rows"]) for s in manifest["sources"]]
    assert parts == [(str(geo_train), "synthetic-geo", 12), (str(arith_train), "synthetic-arith", 4)]
    geo_manifest = json.loads((geo_train / "manifest.json").read_text())
    assert (
        manifest["sources"][0]["content_hash"] == geo_manifest["content_hash"]
    )  # lineage reaches the source


def test_the_same_seed_gives_the_same_bytes_and_another_seed_another_order(geo_train, arith_train, tmp_path):
    runs = {}
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        result = run_lmmr1(
            "mix-data", geo_train, arith_train, "--seed", seed, "-o", tmp_path / name, "--json"
        )
        assert result.returncode == 0, result.stderr
        runs[name] = json.loads(result.stdout)
    assert runs["a"]["counts"]["kept"] == 16 + 48
    assert (tmp_path / "a" / "rows.jsonl").read_bytes() == (tmp_path / "b" / "rows.jsonl").read_bytes()
    assert runs["a"]["content_hash"] == runs["b"]["content_hash"] != runs["c"]["content_hash"]


def test_train_mgt_trains_on_a_mix_of_pictures_and_text(geo_train, arith_train, tmp_path):
    mixed = tmp_path / "mix"
    assert run_lmmr1("mix-data", f"{geo_train}:6", f"{arith_train}:2", "-o", mixed).returncode == 0
    run = tmp_path / "mgt"
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", mixed, "-o", run, "run.max_steps=2",
        "batch.prompts_per_rollout=8", "batch.samples_per_prompt=2", "batch.samples_per_step=16",
        "batch.micro_batch_size=16",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lineage = json.loads((run / "run.json").read_text())
    assert (
        lineage["data"]["manifest_hash"] == json.loads((mixed / "manifest.json").read_text())["content_hash"]
    )
    assert (run / "final").is_dir()


def test_bad_parts_are_one_line_errors_and_nothing_is_written(geo_train, arith_train, tmp_path, light_env):
    out = tmp_path / "mix"
    cases = {
        (f"{geo_train}:17", str(arith_train)): f"{geo_train}: asked for 17 rows, it has 16",
        (str(geo_train), str(geo_train)): "ids must be unique",
        (str(tmp_path / "missing"), str(arith_train)): "dataset dir not found",
        (str(geo_train),): "at least two dataset dirs",
        (f"{geo_train}:0", str(arith_train)): "must be >= 1",
    }
    for parts, message in cases.items():
        result = run_lmmr1("mix-data", *parts, "-o", out, env=light_env)  # no torch needed to mix
        assert result.returncode != 0 and message in result.stderr, (parts, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert not out.exists() and not list(tmp_path.glob(".mix.partial-*"))
    assert run_lmmr1("mix-data", geo_train, arith_train, "-o", out).returncode == 0
    again = run_lmmr1("mix-data", geo_train, arith_train, "-o", out)
    assert again.returncode != 0 and "--force" in again.stderr


def test_the_readme_mix_data_commands_run_as_written(tmp_path):
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### mix-data", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [shlex.split(line) for line in section.splitlines() if line.startswith("lmmr1 ")]
    assert [c[1] for c in commands] == ["prepare-data", "prepare-data", "mix-data"]
    for command in commands:
        result = run_lmmr1(*command[1:], cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
    assert "wrote data/mgt-train: 256 rows, 192 images" in result.stdout  # what the user reads
    rows = _rows(tmp_path / "data" / "mgt-train")
    assert sum(1 for r in rows if r["images"]) == 192 and sum(1 for r in rows if not r["images"]) == 64


def test_a_downscaled_part_sets_the_mix_bounds_that_training_checks(arith_train, tmp_path):
    capped = tmp_path / "geo-capped"
    made = run_lmmr1("prepare-data", "synthetic-geo", "--limit", "8", "--max-pixels", "4000", "-o", capped)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "mix"
    assert run_lmmr1("mix-data", capped, f"{arith_train}:8", "-o", out).returncode == 0
    bounds = json.loads((out / "manifest.json").read_text())["pixel_bounds"]
    assert bounds["max_pixels"] == 4000  # the capped part decides, not the text part's source resolution
    # tiny-mgt trains at max_pixels 12,544: the mix's pictures are stored smaller, so training refuses it, naming it.
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", out, "-o", tmp_path / "run"
    )
    assert result.returncode != 0 and "max_pixels 4000" in result.stderr, result.stderr
