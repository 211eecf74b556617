"""The trainer side of the vLLM weight read-back (lmmr1_cli/vllm_checks.py `pushed_weights`) under DeepSpeed ZeRO-3,
where every parameter is partitioned (shape [0] outside a gather): it must gather each one, as TRL's push does with
`deepspeed.zero.GatheredParameters`, and give the same names and values as the unsharded model, LoRA merged included.

Runs in .venv (DeepSpeed is there, vLLM is not: this side needs no engine). The engine side, FSDP2 and LoRA against
a real engine are in tests/vllm_backend/test_vllm_checks.py. DeepSpeed runs in a subprocess of its own (one gloo
rank): it sets up torch.distributed, which must not leak into the other tests of this worker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import os, torch
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["TEST_PORT"], RANK="0", WORLD_SIZE="1",
                  LOCAL_RANK="0")
import deepspeed
from peft import LoraConfig, get_peft_model

from lmmr1_cli.modeling import load_model, resolve_model
from lmmr1_cli.vllm_checks import pushed_weights

deepspeed.init_distributed(dist_backend="gloo")
tiny = resolve_model("tiny").location


def build(lora):
    model = load_model(tiny, dtype="float32")
    if lora:
        torch.manual_seed(0)  # the same adapters (A is drawn at random) in both builds
        config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "qkv", "proj"])
        model = get_peft_model(model, config)
        with torch.no_grad():
            for name, param in model.named_parameters():
                if "lora_B" in name:
                    param.normal_(0, 0.05)
    return model


for lora in (False, True):
    plain = dict(pushed_weights(build(lora)))
    model = build(lora)
    config = {"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": 3},
              "zero_force_ds_cpu_optimizer": False}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    deepspeed.initialize(model=model, optimizer=optimizer, config=config)
    assert all(p.numel() == 0 for p in model.parameters()), "ZeRO-3 did not partition the model"
    sharded = dict(pushed_weights(model))
    assert list(sharded) == list(plain), set(sharded) ^ set(plain)
    for name, tensor in sharded.items():
        assert tensor.shape == plain[name].shape and torch.equal(tensor, plain[name]), name
    assert all(p.numel() == 0 for p in model.parameters()), "the check left parameters gathered"
    print("lora" if lora else "plain", len(sharded), "tensors equal")
"""


@pytest.mark.slow  # DeepSpeed builds its shared-memory op with g++ once per machine (~3 min cold, cached after)
def test_zero3_partitioned_parameters_are_gathered_under_the_names_trls_push_gives(tmp_path):
    port = str(29700 + os.getpid() % 200)  # another run on the machine may hold 29500
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "TEST_PORT": port},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "tensors equal" in line]
    assert lines == ["plain 56 tensors equal", f"lora {lines[-1].split()[1]} tensors equal"], result.stdout
