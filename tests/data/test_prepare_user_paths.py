"""prepare-data as a new user meets it (issue 12): source resolution kept, bounds recorded, bad lines and
escaping paths dropped by name, problems that are not text dropped, system prompts kept, choice and Geometry3K
rows typed as their recipes type them, typos answered fast."""

from __future__ import annotations

import json

from conftest import run_lmmr1
from data_fixtures import png_bytes, write_jsonl, write_parquet
from PIL import Image


def _prepare(*args):
    result = run_lmmr1("prepare-data", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _rows(out):
    return [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]


def _image_source(tmp_path, width, height):
    (tmp_path / "a.png").write_bytes(png_bytes(width, height))
    return write_jsonl(
        tmp_path / "rows.jsonl", [{"problem": "<image>Find x.", "answer": "3", "images": ["a.png"]}]
    )


def test_images_keep_their_source_resolution_unless_max_pixels_asks(tmp_path):
    source = _image_source(tmp_path, 640, 480)
    manifest = _prepare(source, "-o", tmp_path / "full")
    assert manifest["pixel_bounds"] == {"min_pixels": 56 * 56, "max_pixels": None}
    assert manifest["images"] == "source resolution"
    stored = tmp_path / "full" / _rows(tmp_path / "full")[0]["images"][0]
    assert Image.open(stored).size == (640, 480)  # the old default (tiny's processor) stored 112 x 112

    manifest = _prepare(source, "--max-pixels", "50176", "-o", tmp_path / "small")
    assert manifest["pixel_bounds"] == {"min_pixels": 56 * 56, "max_pixels": 50176}
    width, height = Image.open(tmp_path / "small" / _rows(tmp_path / "small")[0]["images"][0]).size
    assert width * height <= 50176 and width % 28 == height % 28 == 0


def test_a_recipe_can_ask_to_downscale(tmp_path):
    source = _image_source(tmp_path, 640, 480)
    (tmp_path / "r.yaml").write_text(
        f"name: r\nsource: {source}\nfields: {{problem: problem, answer: answer, images: images}}\n"
        "max_pixels: 12544\n"
    )
    manifest = _prepare(tmp_path / "r.yaml", "-o", tmp_path / "out")
    assert manifest["pixel_bounds"]["max_pixels"] == 12544
    width, height = Image.open(tmp_path / "out" / _rows(tmp_path / "out")[0]["images"][0]).size
    assert width * height <= 12544


def test_prompt_length_counts_image_tokens_at_the_recorded_bounds(tmp_path):
    # 4000 x 3000 at source resolution is ~15,000 image tokens; downscaled to 1,003,520 pixels it is ~1,280.
    source = _image_source(tmp_path, 4000, 3000)
    (tmp_path / "ok.png").write_bytes(png_bytes(64, 48))
    rows = json.loads(json.dumps([{"problem": "<image>Find y.", "answer": "4", "images": ["ok.png"]}]))
    source.write_text(source.read_text() + json.dumps(rows[0]) + "\n")
    manifest = _prepare(source, "-o", tmp_path / "full")
    assert manifest["drops"] == {"prompt_too_long": 1} and manifest["counts"]["kept"] == 1
    assert "--max-pixels" in manifest["drop_examples"]["prompt_too_long"][0]
    manifest = _prepare(source, "--max-pixels", "1003520", "-o", tmp_path / "bounded")
    assert manifest["counts"]["kept"] == 2 and manifest["pixel_bounds"]["max_pixels"] == 1003520


def test_a_mistyped_recipe_gets_a_did_you_mean_before_heavy_imports(tmp_path, light_env):
    result = run_lmmr1("prepare-data", "synthetic-arth", "-o", tmp_path / "out", env=light_env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert "did you mean 'synthetic-arith'?" in result.stderr


def test_a_problem_that_is_not_text_is_dropped_not_coerced(tmp_path):
    source = write_jsonl(
        tmp_path / "rows.jsonl",
        [{"problem": "What is 1+1?", "answer": "2"}, {"problem": 12345, "answer": "5"}],
    )
    manifest = _prepare(source, "-o", tmp_path / "out")
    assert manifest["drops"] == {"problem_not_text": 1}
    assert "rows.jsonl row 2" in manifest["drop_examples"]["problem_not_text"][0]
    assert [r["problem"] for r in _rows(tmp_path / "out")] == ["What is 1+1?"]


def _message(system, text):
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
    return json.dumps(messages)


def test_lmm_r1_messages_keep_their_system_prompt_and_letter_golds_make_choice_rows(tmp_path):
    question = "Which is largest?\nChoices:\n(A) 1\n(B) 2\n(C) 9\n(D) 4"
    rows = [
        {"message": _message("Answer in $...$.", question), "answer": "$\\boxed{C}$"},
        {"message": _message(None, "What is 2+3?"), "answer": "$\\boxed{5}$"},
    ]
    manifest = _prepare(write_jsonl(tmp_path / "m.jsonl", rows), "-o", tmp_path / "out")
    assert manifest["answer_types"] == {"choice": 1, "math": 1}
    assert manifest["system_prompts"] == {
        "rows_with_own": 1,
        "distinct": 1,
        "most_common": "Answer in $...$.",
    }
    choice, plain = _rows(tmp_path / "out")
    assert choice["system"] == "Answer in $...$." and "system" not in plain
    assert (choice["answer_type"], choice["choices"]) == ("choice", ["1", "2", "9", "4"])


def test_geometry3k_copy_given_as_a_path_is_typed_like_its_recipe(tmp_path):
    import datasets

    (tmp_path / "geometry3k").mkdir()
    write_parquet(
        tmp_path / "geometry3k" / "train.parquet",
        {
            "images": [[{"bytes": png_bytes(), "path": None}]],
            "problem": ["<image>Find the measure of angle 1."],
            "answer": ["60"],
        },
        {"images": datasets.Sequence(datasets.Image()), "problem": datasets.Value("string"),
         "answer": datasets.Value("string")},
    )  # fmt: skip
    manifest = _prepare(tmp_path / "geometry3k" / "train.parquet", "-o", tmp_path / "out")
    assert manifest["answer_types"] == {"geometry": 1}
    assert manifest["recipe"] == "geometry3k"


def test_human_summary_says_how_images_were_stored_and_names_bad_lines(tmp_path):
    source = _image_source(tmp_path, 640, 480)
    source.write_text(source.read_text() + '{"problem": "cut off\n')
    result = run_lmmr1("prepare-data", source, "-o", tmp_path / "full")
    assert result.returncode == 0, result.stderr
    assert "1 images at source resolution (2 read, 1 dropped)" in result.stdout
    assert "bad_json" in result.stdout and "rows.jsonl row 2: line 2 is not valid JSON" in result.stdout
    result = run_lmmr1("prepare-data", source, "--max-pixels", "50176", "-o", tmp_path / "small")
    assert "resized to <= 50,176 pixels" in result.stdout


def test_prompt_length_counts_the_rows_own_system_message(tmp_path):
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import resolve_recipe
    from lmmr1_cli.data.validate import PromptMeter
    from lmmr1_cli.modeling import load_processor

    long_system = "Think step by step and check every step twice. " * 30
    rows = [
        {"message": _message(None, "What is 2+3?"), "answer": "$\\boxed{5}$"},
        {"message": _message(long_system, "What is 2+4?"), "answer": "$\\boxed{6}$"},
    ]
    source = write_jsonl(tmp_path / "m.jsonl", rows)
    limit = PromptMeter(load_processor("tiny")).count("What is 2+3?", []) + 5
    manifest = prepare_dataset(
        resolve_recipe(str(source)), tmp_path / "out", PrepareOptions(max_prompt_tokens=limit)
    ).manifest
    assert manifest["drops"] == {"prompt_too_long": 1} and manifest["counts"]["kept"] == 1
    assert "m.jsonl row 2" in manifest["drop_examples"]["prompt_too_long"][0]
