"""The weight read-back of the vLLM rollout check (lmmr1_cli/vllm_checks.py), on a real vLLM CPU engine with the
tiny Qwen2.5-VL and the real transformers / peft / FSDP2 models it checks against: every tensor TRL pushes is
compared through vLLM's own loader (fused q/k/v and gate/up included), a change anywhere is found and named, LoRA
is compared merged (vision-tower projections included), and FSDP2-sharded parameters are gathered under the names
TRL's push gives them. No training runs here: each case builds the state it checks."""

from __future__ import annotations

import os

import pytest
import support  # noqa: F401  (fails at once where vLLM is missing)
import torch

from lmmr1_cli.vllm_checks import compare_with_engine, pushed_weights, vllm_weight_name

# Modules LoRA wraps in the LoRA case: the language model's attention and the vision tower's fused qkv and
# output projection (module names as transformers' Qwen2.5-VL spells them).
LORA_TARGETS = ["q_proj", "v_proj", "qkv", "proj"]


@pytest.fixture(scope="module")
def tiny_dir():
    from lmmr1_cli.modeling import resolve_model

    return resolve_model("tiny").location


@pytest.fixture(scope="module")
def engine_model(tiny_dir):
    """The engine's model in this process, as TRL's colocate push reaches it."""
    import vllm

    from lmmr1_cli.vllm_engine import prepare_engine, prepare_eval_engine

    prepare_eval_engine(cpu=True)  # the engine in this process
    prepare_engine(cpu=True)  # weights kept live, as in training
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    llm = vllm.LLM(model=tiny_dir, enforce_eager=True, seed=0, max_model_len=512)
    return llm.llm_engine.model_executor.driver_worker.model_runner.model


def _trainer_model(tiny_dir):
    from lmmr1_cli.modeling import load_model

    return load_model(tiny_dir, dtype="float32")


def test_every_pushed_tensor_is_compared_through_vllms_own_loader(engine_model, tiny_dir):
    model = _trainer_model(tiny_dir)
    result = compare_with_engine(engine_model, pushed_weights(model))
    assert result.problem() is None, result.problem()
    # Vision tower and language model, all of them.
    assert result.tensors == len(list(model.named_parameters()))
    # Every element the engine holds was written by some pushed tensor and compared (fused ones included).
    assert result.elements == sum(p.numel() for p in engine_model.parameters())
    assert result.unreached == [] and result.not_loaded == []


def test_a_change_anywhere_is_found_and_named_in_the_trainers_terms(engine_model, tiny_dir):
    model = _trainer_model(tiny_dir)
    changed = [
        "model.language_model.layers.0.self_attn.k_proj.weight",  # fused into qkv_proj by vLLM
        "model.language_model.layers.1.mlp.up_proj.weight",  # fused into gate_up_proj
        "model.visual.blocks.0.attn.qkv.weight",
        "model.language_model.norm.weight",
    ]
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in changed:
            params[name].view(-1)[3] += 0.5
    result = compare_with_engine(engine_model, pushed_weights(model))
    assert sorted(result.differing) == sorted(changed) and result.differing_elements == len(changed)
    assert "weight push did not land" in result.problem()
    # The engine was left as it was: the unchanged model still matches it.
    assert compare_with_engine(engine_model, pushed_weights(_trainer_model(tiny_dir))).problem() is None


def test_a_change_below_the_engines_precision_is_not_a_difference(engine_model, tiny_dir):
    # The push casts to the engine's dtype (bfloat16 on CPU); so does the check, so equal means equal after it.
    model = _trainer_model(tiny_dir)
    with torch.no_grad():
        weight = dict(model.named_parameters())["model.language_model.layers.0.self_attn.o_proj.weight"]
        weight.view(-1)[0] = weight.view(-1)[0].bfloat16().float() * (1 + 2**-12)
    assert compare_with_engine(engine_model, pushed_weights(model)).problem() is None


def test_lora_is_compared_merged_including_the_vision_towers_projections(engine_model, tiny_dir):
    from peft import LoraConfig, get_peft_model

    model = get_peft_model(
        _trainer_model(tiny_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"),
    )
    # A fresh adapter (B = 0) merges to the base weights: the engine, loaded from the base, matches.
    assert compare_with_engine(engine_model, pushed_weights(model)).problem() is None
    base_before = {n: p.detach().clone() for n, p in model.named_parameters() if "base_layer" in n}
    torch.manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.05)
    stale = compare_with_engine(engine_model, pushed_weights(model))
    lora_modules = {n.split(".lora_B")[0] for n, _ in model.named_parameters() if "lora_B" in n}
    wanted = {vllm_weight_name(f"{m}.base_layer.weight") for m in lora_modules}
    assert set(stale.differing) == wanted  # exactly the merged weights differ from the engine's base ones
    assert any(".visual." in name and name.endswith("attn.proj.weight") for name in stale.differing)
    assert any(".visual." in name and name.endswith("attn.qkv.weight") for name in stale.differing)
    try:
        engine_model.load_weights(pushed_weights(model))  # what TRL's push sends: the merged weights
        assert compare_with_engine(engine_model, pushed_weights(model)).problem() is None
        # Merging for the check left the trainer's base weights as they were.
        for name, param in model.named_parameters():
            if name in base_before:
                assert torch.equal(param, base_before[name]), name
    finally:
        # Back to the base weights for the other tests.
        engine_model.load_weights(pushed_weights(_trainer_model(tiny_dir)))


def test_names_from_wrappers_become_the_names_trls_push_gives_vllm():
    assert vllm_weight_name("model.language_model.layers.0.mlp.up_proj.weight") == (
        "model.language_model.layers.0.mlp.up_proj.weight"
    )
    assert (
        vllm_weight_name("base_model.model.model.language_model.layers.0.self_attn.q_proj.base_layer.weight")
        == "model.language_model.layers.0.self_attn.q_proj.weight"
    )
    assert (
        vllm_weight_name(
            "model._fsdp_wrapped_module.language_model.layers.0._fsdp_wrapped_module._checkpoint_wrapped_module."
            "self_attn.q_proj.weight"
        )
        == "model.language_model.layers.0.self_attn.q_proj.weight"
    )
    assert vllm_weight_name("base_model.model.lm_head.modules_to_save.default.weight") == "lm_head.weight"
    for not_pushed in (
        "base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.default.weight",
        "base_model.model.lm_head.original_module.weight",
    ):
        assert vllm_weight_name(not_pushed) is None


def test_fsdp2_sharded_parameters_are_gathered_under_their_own_names(engine_model, tiny_dir):
    # The engine fixture started torch.distributed (world size 1, gloo) as TRL's external launcher does; FSDP2
    # shards over it, so every parameter becomes a DTensor, as under `--accelerate-config fsdp`.
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard

    assert dist.is_initialized()
    plain = dict(pushed_weights(_trainer_model(tiny_dir)))
    model = _trainer_model(tiny_dir)
    for layer in model.model.language_model.layers:
        fully_shard(layer)
    fully_shard(model)
    assert type(next(model.parameters())).__name__ == "DTensor"
    sharded = dict(pushed_weights(model))
    assert list(sharded) == list(plain)
    for name, tensor in sharded.items():
        assert type(tensor) is torch.Tensor and torch.equal(tensor, plain[name]), name
    assert compare_with_engine(engine_model, iter(sharded.items())).problem() is None


def test_an_engine_parameter_no_push_reaches_and_a_name_the_engine_refuses_are_failures(
    engine_model, tiny_dir
):
    weights = dict(pushed_weights(_trainer_model(tiny_dir)))
    norm = weights.pop("model.language_model.norm.weight")
    short = compare_with_engine(engine_model, iter(weights.items()))
    assert short.unreached == ["language_model.model.norm.weight"]  # vLLM's name for it
    assert "no pushed tensor reaches the engine's language_model.model.norm.weight" in short.problem()
    consumed = []

    def renamed():
        for name, tensor in [("model.language_model.not_a_layer.weight", norm), *weights.items()]:
            consumed.append(name)
            yield name, tensor

    refused = compare_with_engine(engine_model, renamed())
    assert "not_a_layer" in refused.problem() and "reading the engine back failed" in refused.problem()
    assert len(consumed) == len(weights) + 1  # every tensor still taken (ZeRO-3/FSDP gathers stay in step)
