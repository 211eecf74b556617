"""tiny.py: the embedded model is a real, deterministic Qwen2.5-VL with our tokenizer and Qwen's processor."""

from __future__ import annotations

import hashlib

from lmmr1_cli.prompts import build_conversation
from lmmr1_cli.tiny import REASONING_TAGS, build_tiny_model


def _digest(path) -> str:
    return hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()


def test_same_seed_builds_the_same_weights_and_tokenizer(tiny_dir, tmp_path):
    build_tiny_model(tmp_path / "again", seed=0)
    assert _digest(tmp_path / "again") == _digest(tiny_dir)
    assert (tmp_path / "again" / "tokenizer.json").read_text() == (tiny_dir / "tokenizer.json").read_text()


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
