"""The pipeline: drops by reason, --strict, fatal refusals, atomic writes, determinism across num_proc."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from data_fixtures import png_bytes, prepare_into, write_jsonl

from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
from lmmr1_cli.data.recipes import resolve_recipe
from lmmr1_cli.errors import DataError, OutputExistsError


def _files(directory):
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def mixed_source(tmp_path):
    """Geometry3K-style rows with one problem of each kind of defect."""
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png_bytes(color=(1, 1, 1)))
    (tmp_path / "imgs" / "b.png").write_bytes(png_bytes(color=(2, 2, 2)))
    (tmp_path / "imgs" / "bad.png").write_bytes(b"garbage")
    rows = [
        {"problem": "<image>Find x.", "answer": "60", "images": ["imgs/a.png"]},
        {"problem": "<image>Find y.", "answer": "", "images": ["imgs/a.png"]},  # missing answer
        {"problem": "<image>Find z.", "answer": "\\frac{", "images": ["imgs/b.png"]},  # gold_unparseable
        {"problem": "<image><image>Find w.", "answer": "3", "images": ["imgs/b.png"]},  # placeholder mismatch
        {"problem": "<image>Find x.", "answer": "60", "images": ["imgs/a.png"]},  # duplicate
        {"problem": "<image>Find v.", "answer": "4", "images": ["imgs/bad.png"]},  # corrupt image
        {"problem": "<image>Find u.", "answer": "5", "images": ["imgs/missing.png"]},  # missing file
        {"problem": "<image>Find t.", "answer": "7", "images": ["imgs/b.png"]},
    ]
    return write_jsonl(tmp_path / "mixed.jsonl", rows)


def _run(source, out, **kw):
    return prepare_dataset(resolve_recipe(str(source)), out, PrepareOptions(**kw)).manifest


@pytest.mark.timeout(180)  # a pool that cannot send a row back must fail, not hang
@pytest.mark.parametrize("num_proc", [1, 2])
def test_bad_rows_are_dropped_and_counted_by_reason(mixed_source, tmp_path, num_proc):
    manifest = _run(mixed_source, tmp_path / "out", num_proc=num_proc)
    assert manifest["drops"] == {
        "duplicate": 1,
        "gold_unparseable": 1,
        "image_count_mismatch": 1,
        "image_missing": 1,
        "image_unreadable": 1,
        "missing_answer": 1,
    }
    assert manifest["counts"] == {"read": 8, "kept": 2, "dropped": 6, "images": 2}
    # 1-based, like verify and an editor: the 6th line holds the corrupt image.
    assert "mixed.jsonl row 6 " in manifest["drop_examples"]["image_unreadable"][0]
    rows = [json.loads(line) for line in (tmp_path / "out" / "rows.jsonl").read_text().splitlines()]
    assert [r["problem"] for r in rows] == ["Find x.", "Find t."]


def test_strict_fails_on_the_first_bad_row_and_writes_nothing(mixed_source, tmp_path):
    with pytest.raises(
        DataError, match=r"mixed.jsonl row 2: column .answer. is empty \[missing_answer; --strict\]"
    ):
        _run(mixed_source, tmp_path / "out", strict=True)
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.glob(".out.partial-*"))


def test_image_path_escaping_the_root_is_a_named_drop_and_strict_fails_on_it(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "secret.png").write_bytes(png_bytes())
    (tmp_path / "data" / "ok.png").write_bytes(png_bytes())
    source = write_jsonl(
        tmp_path / "data" / "rows.jsonl",
        [
            {"problem": "<image>Q", "answer": "1", "images": ["ok.png"]},
            {"problem": "<image>R", "answer": "2", "images": ["../secret.png"]},
        ],
    )
    manifest = _run(source, tmp_path / "out")
    assert manifest["drops"] == {"image_outside_root": 1} and manifest["counts"]["kept"] == 1
    assert "rows.jsonl row 2 " in manifest["drop_examples"]["image_outside_root"][0]
    assert "escapes the image root" in manifest["drop_examples"]["image_outside_root"][0]
    assert len(list((tmp_path / "out" / "images").iterdir())) == 1  # ok.png only; the secret is never read
    with pytest.raises(
        DataError, match=r"rows.jsonl row 2 .*escapes the image root.*image_outside_root; --strict"
    ):
        _run(source, tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()


def test_a_malformed_jsonl_line_is_a_drop_named_by_its_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(
        '{"problem": "What is 1+1?", "answer": "2"}\n'
        '{"problem": "What is 2+2?", "answ\n'
        "[1, 2]\n"
        '{"problem": "What is 3+3?", "answer": "6"}\n'
    )
    manifest = _run(path, tmp_path / "out")
    assert manifest["counts"] == {"read": 4, "kept": 2, "dropped": 2, "images": 0}
    examples = manifest["drop_examples"]["bad_json"]
    assert "rows.jsonl row 2: line 2 is not valid JSON" in examples[0]
    assert "rows.jsonl row 3: line 3 is a JSON list, not an object" in examples[1]
    with pytest.raises(
        DataError, match=r"rows.jsonl row 2: line 2 is not valid JSON .*\[bad_json; --strict\]"
    ):
        _run(path, tmp_path / "strict", strict=True)


def test_existing_output_needs_force(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OutputExistsError):
        prepare_dataset(resolve_recipe("synthetic-arith"), out, PrepareOptions(limit=4))
    prepare_dataset(resolve_recipe("synthetic-arith"), out, PrepareOptions(limit=4, force=True))
    assert (out / "manifest.json").is_file()


def test_output_is_identical_for_any_num_proc(tmp_path):
    one = prepare_dataset(
        resolve_recipe("synthetic-geo"), tmp_path / "a", PrepareOptions(limit=24, batch_size=4)
    )
    two = prepare_dataset(
        resolve_recipe("synthetic-geo"), tmp_path / "b", PrepareOptions(limit=24, num_proc=2, batch_size=4)
    )
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert one.manifest["content_hash"] == two.manifest["content_hash"]


def test_killed_run_leaves_no_dataset_and_the_rerun_starts_clean(tmp_path):
    out = tmp_path / "out"
    code = (
        "from lmmr1_cli.data.prepare import prepare_dataset, PrepareOptions\n"
        "from lmmr1_cli.data.recipes import resolve_recipe\n"
        f"prepare_dataset(resolve_recipe('synthetic-sokoban'), {str(out)!r}, PrepareOptions(limit=100000, batch_size=1))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 240
    while not list(tmp_path.glob(".out.partial-*/rows.jsonl")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    proc.kill()
    proc.wait()
    assert list(tmp_path.glob(".out.partial-*")), "the run never started writing"
    assert not out.exists()
    prepare_dataset(resolve_recipe("synthetic-arith"), out, PrepareOptions(limit=3))
    assert not list(tmp_path.glob(".out.partial-*"))
    assert len((out / "rows.jsonl").read_text().splitlines()) == 3


def test_other_live_runs_partial_dir_is_left_alone(tmp_path):
    live = tmp_path / f".out.partial-{os.getppid()}"
    live.mkdir()
    prepare_dataset(resolve_recipe("synthetic-arith"), tmp_path / "out", PrepareOptions(limit=2))
    assert live.exists()


def test_prompt_limit_drops_long_rows(tmp_path):
    from lmmr1_cli.data.validate import PromptMeter
    from lmmr1_cli.modeling import load_processor

    short, long = "What is 2+2?", "What is 2+2? " + "Think carefully about it. " * 40
    source = write_jsonl(
        tmp_path / "t.jsonl", [{"problem": short, "answer": "4"}, {"problem": long, "answer": "4"}]
    )
    limit = PromptMeter(load_processor("tiny")).count(short, [])
    manifest = _run(source, tmp_path / "out", max_prompt_tokens=limit)
    assert manifest["drops"] == {"prompt_too_long": 1}
    assert manifest["counts"]["kept"] == 1


def test_auto_detected_lmm_r1_messages_file(tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())
    message = [
        {"role": "user", "content": [{"type": "image", "image": "a.png"}, {"type": "text", "text": "Q?"}]}
    ]
    source = write_jsonl(tmp_path / "m.jsonl", [{"message": json.dumps(message), "answer": "$\\boxed{2}$"}])
    manifest = _run(source, tmp_path / "out")
    assert manifest["sources"][0]["format"] == "auto" and manifest["counts"]["kept"] == 1


def test_mathv360k_conversations_with_options_become_choice_rows(tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())
    row = {
        "id": "q1",
        "image": "a.png",
        "conversations": [
            {"from": "human", "value": "<image>\nWhich is bigger?\nChoices:\n(A) 3\n(B) 5"},
            {"from": "gpt", "value": "B"},
        ],
    }
    source = write_jsonl(tmp_path / "c.jsonl", [row])
    _run(source, tmp_path / "out")
    got = json.loads((tmp_path / "out" / "rows.jsonl").read_text())
    assert (got["answer_type"], got["choices"], got["id"]) == ("choice", ["3", "5"], "c-q1")
    assert got["problem"].startswith("Which is bigger?")


def test_unreadable_source_names_the_file(tmp_path):
    (tmp_path / "bad.jsonl").write_bytes(b"\x00\xff{broken\n{also broken\n")
    with pytest.raises(DataError, match="bad.jsonl"):
        _run(tmp_path / "bad.jsonl", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_synthetic_train_and_test_datasets_share_no_problem_and_no_image(tmp_path):
    _, train = prepare_into(tmp_path / "train", "synthetic-geo", split="train", limit=60)
    _, test = prepare_into(tmp_path / "test", "synthetic-geo", split="test", limit=30)
    assert len(train) == 60 and len(test) == 30
    assert not {i for r in train for i in r["images"]} & {i for r in test for i in r["images"]}


def test_decompression_bomb_row_is_named_under_strict(tmp_path, monkeypatch):
    import io

    from PIL import Image

    from lmmr1_cli.data import images

    monkeypatch.setattr(images, "MAX_SOURCE_PIXELS", 100 * 100)
    buf = io.BytesIO()
    Image.new("1", (400, 400)).save(buf, format="PNG")  # a few hundred bytes declaring 160,000 pixels
    (tmp_path / "bomb.png").write_bytes(buf.getvalue())
    source = write_jsonl(
        tmp_path / "b.jsonl", [{"problem": "<image>Q", "answer": "1", "images": ["bomb.png"]}]
    )
    with pytest.raises(DataError, match=r"b.jsonl row 1 .*400x400.*image_too_large"):
        _run(source, tmp_path / "out", strict=True)
    assert not (tmp_path / "out").exists()
