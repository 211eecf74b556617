"""In-process checks of what build_trainer assembles: frozen vision tower, LoRA, pixel bounds, one real step."""

from __future__ import annotations

import torch

from lmmr1_cli.config import load_train_config
from lmmr1_cli.train import build_trainer


def _trainer(data_dir, tmp_path, overrides):
    config = load_train_config(
        "tiny-mgt",
        overrides=[
            "run.use_cpu=true",
            "run.max_steps=1",
            "batch.samples_per_prompt=4",
            "batch.samples_per_step=16",
            "batch.micro_batch_size=16",
            *overrides,
        ],
    )
    return build_trainer(config, data_dir, tmp_path / "run")


def test_frozen_vision_tower_does_not_move_while_the_language_model_does(geo_train, tmp_path):
    trainer = _trainer(
        geo_train,
        tmp_path,
        ["model.freeze_vision_tower=true", "optim.learning_rate=0.01", "optim.warmup_ratio=0"],
    )
    model = trainer.model
    visual = model.model.visual
    assert not any(p.requires_grad for p in visual.parameters())
    before_visual = {n: p.detach().clone() for n, p in visual.named_parameters()}
    before_lm = model.lm_head.weight.detach().clone()
    trainer.train()
    assert all(torch.equal(before_visual[n], p) for n, p in visual.named_parameters())
    assert not torch.equal(before_lm, model.lm_head.weight)


def test_lora_trains_only_adapters(arith_train, tmp_path):
    trainer = _trainer(arith_train, tmp_path, ["model.lora_r=4", "model.lora_alpha=8"])
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_recipe_pixel_bounds_reach_the_processor(geo_train, tmp_path):
    trainer = _trainer(geo_train, tmp_path, ["model.min_pixels=6272", "model.max_pixels=50176"])
    size = trainer.processing_class.image_processor.size
    assert (size["shortest_edge"], size["longest_edge"]) == (6272, 50176)
