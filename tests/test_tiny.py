"""tiny.py: the embedded model is a real Qwen2.5-VL with our tokenizer and Qwen's processor, shipped inside the
package (the same bytes on every machine, recorded by sha256) and rebuilt deterministically by `lmmr1 tiny --rebuild`.
What the shipped build promises, checked here: every greedy answer to a warm-up-style question is tagged, it adds,
and its vision tower reads the digit in each cell of a picture it never saw."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import run_lmmr1

from lmmr1_cli.prompts import build_conversation
from lmmr1_cli.tiny import REASONING_TAGS, SHIPPED_DIR, SHIPPED_SHA256, build_sha256, build_tiny_model

REPO = Path(__file__).resolve().parents[1]


def _digest(path) -> str:
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


def test_the_shipped_files_are_the_recorded_build(tiny_dir):
    assert tiny_dir == SHIPPED_DIR
    # Computed here as `LC_ALL=C sha256sum * | sha256sum` does, not through build_sha256.
    sums = "".join(
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
        for path in sorted(tiny_dir.iterdir())
    )
    assert hashlib.sha256(sums.encode()).hexdigest() == SHIPPED_SHA256 == build_sha256(tiny_dir)
    info = json.loads((tiny_dir / "lmmr1_tiny.json").read_text())
    assert (info["tiny_version"], info["seed"]) == ("3", 0)
    assert sum(path.stat().st_size for path in tiny_dir.iterdir()) < 2_000_000  # small enough to ship


def test_a_wheel_carries_the_tiny_model(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    shutil.copytree(REPO / "lmmr1_cli", source / "lmmr1_cli", ignore=shutil.ignore_patterns("__pycache__"))
    wheel_cmd = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        source,
        "--no-deps",
        "--no-build-isolation",
        "-w",
        tmp_path,
    ]
    subprocess.run(wheel_cmd, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("lmmr1-*.whl")
    shipped = {f"lmmr1_cli/tiny_model/{path.name}" for path in SHIPPED_DIR.iterdir()}
    assert shipped <= set(zipfile.ZipFile(wheel).namelist())


def test_nothing_is_built_or_cached_on_first_use(tmp_path):
    cache = tmp_path / "fresh-cache"
    result = run_lmmr1("tiny", "--json", env={"LMMR1_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["output"] == str(SHIPPED_DIR) and shown["sha256"] == SHIPPED_SHA256
    assert not cache.exists()


def test_rebuild_writes_a_new_build_and_prints_its_sha256(tmp_path):
    out = tmp_path / "rebuilt"
    args = ("tiny", "--rebuild", "-o", out, "--warmup-steps", "2", "--align-steps", "2", "--json")
    result = run_lmmr1(*args)
    assert result.returncode == 0, result.stderr
    rebuilt = json.loads(result.stdout)
    assert rebuilt["sha256"] == build_sha256(out) and rebuilt["identical_to_shipped"] is False
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    refused = run_lmmr1(*args)  # an existing output needs --force
    assert refused.returncode != 0 and "--force" in refused.stderr


def test_same_seed_builds_the_same_weights_and_tokenizer(tmp_path):
    # Short builds (the full one takes 80 s): the same code path, format warm-up and vision alignment included.
    steps = {"warmup_steps": 20, "align_steps": 20}
    for name, seed in (("a", 0), ("b", 0), ("other-seed", 1)):
        build_tiny_model(tmp_path / name, seed=seed, **steps)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (tmp_path / "b" / "tokenizer.json").read_text()
    assert _digest(tmp_path / "other-seed") != _digest(tmp_path / "a")  # the seed is used, not ignored


def test_loads_through_from_pretrained_as_qwen2_5_vl_and_answers_in_format_with_an_image(tiny_dir):
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert model.config.model_type == "qwen2_5_vl"
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    for tag in REASONING_TAGS:  # single, non-special tokens: decoding with skip_special_tokens keeps them
        assert len(processor.tokenizer.tokenize(tag)) == 1
    messages = build_conversation("What is 2 + 3?", 1)
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = processor(text=[text], images=[Image.new("RGB", (64, 64), "white")], return_tensors="pt")
    assert int((inputs["input_ids"] == model.config.image_token_id).sum()) >= 4
    out = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    completion = processor.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert completion.startswith("<think>") and "<answer>" in completion  # the format warm-up took


def test_the_format_warm_up_took_every_greedy_sum_is_tagged_and_most_are_right(tiny_dir):
    """All 100 single-digit sums: measured 100 tagged and 66 right (both CPU kernel settings); a constant answer
    would be right on at most 10."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    sums = [(a, b) for a in range(10) for b in range(10)]
    texts = [
        processor.apply_chat_template(
            build_conversation(f"What is {a} + {b}?", 0), tokenize=False, add_generation_prompt=True
        )
        for a, b in sums
    ]
    processor.tokenizer.padding_side = "left"  # generation continues every row from its own end
    inputs = processor(text=texts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=24, do_sample=False)
    completions = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    tagged = [re.fullmatch(r"<think>[^<]*</think><answer>([^<]*)</answer>", c) for c in completions]
    assert all(tagged), [c for c, m in zip(completions, tagged, strict=True) if not m][:5]
    right = sum(m.group(1) == str(a + b) for m, (a, b) in zip(tagged, sums, strict=True))
    assert right >= 50, right


def test_vision_alignment_lets_the_model_see_digits_it_was_never_shown_in_a_question(tiny_dir):
    """Each 28-pixel cell of a fresh digit picture comes out nearest the text embedding of the digit drawn in it."""
    import random

    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from lmmr1_cli.data.synthetic.largest_picture import GRID, draw_digits
    from lmmr1_cli.tiny import BLANK_CELL_TOKEN

    processor = AutoProcessor.from_pretrained(tiny_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_dir)
    rng = random.Random(12345)  # not the build's pictures
    images, wanted = [], []
    for _ in range(32):
        cells = rng.sample([(r, c) for r in range(GRID) for c in range(GRID)], 3)
        digits = {cell: rng.randint(0, 9) for cell in cells}
        images.append(draw_digits(digits))
        wanted += [str(digits.get((r, c), BLANK_CELL_TOKEN)) for r in range(GRID) for c in range(GRID)]
    pixels = processor.image_processor(images=images, return_tensors="pt")
    with torch.no_grad():
        features = model.model.visual(pixels["pixel_values"], grid_thw=pixels["image_grid_thw"]).pooler_output
    embeddings = model.get_input_embeddings().weight
    seen = processor.tokenizer.convert_ids_to_tokens(torch.cdist(features, embeddings).argmin(-1).tolist())
    digit_cells = [i for i, token in enumerate(wanted) if token != BLANK_CELL_TOKEN]
    read = sum(seen[i] == wanted[i] for i in digit_cells) / len(digit_cells)
    blank = sum(seen[i] == wanted[i] for i in range(len(wanted)) if i not in digit_cells)
    assert read >= 0.95, (read, [(wanted[i], seen[i]) for i in digit_cells if seen[i] != wanted[i]][:10])
    assert blank == len(wanted) - len(digit_cells)
