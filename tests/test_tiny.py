"""tiny.py: the embedded model is a real, deterministic Qwen2.5-VL with our tokenizer and Qwen's processor."""

from __future__ import annotations

import hashlib

from lmmr1_cli.prompts import build_conversation
from lmmr1_cli.tiny import REASONING_TAGS, build_tiny_model


def _digest(path) -> str:
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


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
