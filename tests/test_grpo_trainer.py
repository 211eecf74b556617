"""`lmmr1_cli/grpo_trainer.py`: training on data that mixes text-only and image rows (as LMM-R1's VerMulti does),
from an LMM-R1 message JSONL through `lmmr1 prepare-data` to `train-fre` / `train-mgt`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_lmmr1
from PIL import Image, ImageDraw

from lmmr1_cli.config import load_train_config
from lmmr1_cli.prompts import build_conversation
from lmmr1_cli.train import build_trainer


def write_mixed_messages(folder: Path, rows: int = 8) -> Path:
    """An LMM-R1 message JSONL: even rows text-only, odd rows with one `file://` image."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(rows):
        if i % 2:
            image = folder / f"digit{i}.png"
            picture = Image.new("RGB", (64, 64), "white")
            ImageDraw.Draw(picture).text((20, 20), str(i), fill="black")
            picture.save(image)
            content = [
                {"type": "image", "image": f"file://{image}"},
                {"type": "text", "text": f"What is the number in the picture plus {i}?"},
            ]
            gold = 2 * i
        else:
            content = [{"type": "text", "text": f"What is {i} + 3?"}]
            gold = i + 3
        message = [{"role": "user", "content": content}]
        lines.append(json.dumps({"message": json.dumps(message), "answer": f"$\\boxed{{{gold}}}$"}))
    path = folder / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def mixed_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mixed")
    source = write_mixed_messages(root / "source")
    out = root / "data"
    result = run_lmmr1("prepare-data", source, "-o", out)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["kept"] == 8 and manifest["counts"]["images"] == 4
    return out


@pytest.mark.parametrize("stage", ["fre", "mgt"])
def test_mixed_text_and_image_rows_train_from_the_command_line(stage, mixed_data, tmp_path):
    # micro-batches of 4 completions: forward chunks holding only text rows occur (one prompt's group is 8).
    recipe = ["--recipe", f"tiny-{stage}"] + (["--init", "tiny"] if stage == "mgt" else [])
    out = tmp_path / stage
    result = run_lmmr1(
        f"train-{stage}", *recipe, "--data", mixed_data, "-o", out,
        "run.max_steps=2", "batch.micro_batch_size=4",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["steps"] == 2
    assert (out / "final" / "model.safetensors").is_file()


def test_a_text_only_forward_chunk_scores_as_it_does_inside_a_mixed_chunk(mixed_data, tmp_path):
    config = load_train_config("tiny-mgt", overrides=["run.use_cpu=true", "run.max_steps=1"])
    trainer = build_trainer(config, mixed_data, tmp_path / "run")
    processor = trainer.processing_class
    picture = Image.new("RGB", (56, 56), "white")
    conversations = [build_conversation("What is 2 + 3?", 0), build_conversation("What is shown?", 1)]
    texts = [
        processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations
    ]
    inputs = processor(images=[[], [picture]], text=texts, padding=True, return_tensors="pt")
    args = (trainer.model, inputs["input_ids"], inputs["attention_mask"], 4)
    vision = {
        "pixel_values": inputs["pixel_values"],
        "image_grid_thw": inputs["image_grid_thw"],
        "num_images": [0, 1],
    }
    with torch.no_grad():
        together, _, _ = trainer._get_per_token_logps_and_entropies(*args, batch_size=2, **vision)
        # batch_size 1: the first chunk has no image (Qwen2.5-VL's vision tower fails on empty pixel_values).
        apart, _, _ = trainer._get_per_token_logps_and_entropies(*args, batch_size=1, **vision)
    assert together.shape == apart.shape == (2, 4)
    assert torch.allclose(together, apart, atol=1e-5)
