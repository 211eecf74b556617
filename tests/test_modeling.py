"""`lmmr1_cli/modeling.py`: the one model resolver. A LoRA run (its final/ holds only an adapter) resolves the same
way for `train-mgt --init`, `eval` (hf, and merged for vLLM) and `export`."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import run_lmmr1

from lmmr1_cli.config import config_to_dict, load_train_config
from lmmr1_cli.errors import ModelError
from lmmr1_cli.evaluation.backends import HFBackend, Prompt, SamplingSettings
from lmmr1_cli.modeling import load_model, load_processor, resolve_model, save_merged_model
from lmmr1_cli.prompts import build_conversation
from lmmr1_cli.train import train_stage


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A run dir laid out as `train-* model.lora_r=4` writes it: final/ holds a PEFT adapter and the processor.
    LoRA B is made non-zero (a fresh B is zero: merged or not, the model would be the base)."""
    from peft import LoraConfig, get_peft_model

    model, processor = load_model("tiny"), load_processor("tiny")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0.0, 0.5)
    run = tmp_path_factory.mktemp("lora") / "run"
    peft_model.save_pretrained(run / "final")
    processor.save_pretrained(run / "final")
    return run


def test_a_lora_run_resolves_to_its_adapter_and_the_base_it_names(lora_run, tiny_dir):
    source = resolve_model(str(lora_run))
    assert source.is_lora and source.location == str(lora_run / "final")
    assert resolve_model(source.lora_base).location == str(tiny_dir)
    assert not resolve_model("tiny").is_lora


def test_an_adapter_without_a_base_model_is_a_model_error(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4}))
    with pytest.raises(ModelError, match="base_model_name_or_path"):
        resolve_model(str(tmp_path))


def test_hf_eval_of_a_lora_run_equals_its_merged_copy_which_the_vllm_backend_loads(lora_run, tmp_path):
    merged = save_merged_model(str(lora_run), tmp_path / "merged")
    assert not resolve_model(str(merged)).is_lora and not (merged / "adapter_config.json").exists()
    merged_weights, base_weights = load_model(str(merged)).state_dict(), load_model("tiny").state_dict()
    lora_weights = load_model(str(lora_run)).state_dict()
    assert all(torch.equal(lora_weights[k], merged_weights[k]) for k in merged_weights)
    assert not all(torch.equal(base_weights[k], merged_weights[k]) for k in merged_weights)
    prompts = [Prompt(build_conversation(q, 0)) for q in ("What is 7 + 5?", "What is 3 + 4?")]
    settings = SamplingSettings(max_new_tokens=12)
    tokens = [[g.token_ids for g in gens] for gens in HFBackend(str(lora_run)).generate(prompts, settings)]
    again = [[g.token_ids for g in gens] for gens in HFBackend(str(merged)).generate(prompts, settings)]
    assert tokens == again


def test_train_mgt_inits_from_a_lora_run_and_leaves_the_callers_config_alone(lora_run, arith_train, tmp_path):
    config = load_train_config(
        "tiny-mgt",
        overrides=[
            "run.max_steps=1",
            "run.save_every_rollouts=1",
            "batch.samples_per_prompt=2",
            "batch.prompts_per_rollout=2",
            "batch.samples_per_step=4",
            "batch.micro_batch_size=4",
            "rollout.max_completion_length=8",
        ],
    )
    before = config_to_dict(config)
    summary = train_stage(config, arith_train, tmp_path / "mgt", init=str(lora_run))
    assert config_to_dict(config) == before  # init and the CPU fallback went to the stage's own copy
    assert summary["steps"] == 1
    lineage = json.loads((tmp_path / "mgt" / "run.json").read_text())
    assert lineage["init_model"] == str(lora_run) and lineage["resolved_init"] == str(lora_run / "final")


def test_eval_command_on_a_lora_run(lora_run, eval_arith, tmp_path):
    out = tmp_path / "results"
    result = run_lmmr1(
        "eval",
        "--model",
        lora_run,
        "--benchmark",
        eval_arith,
        "-o",
        out,
        "--limit",
        "2",
        "--max-new-tokens",
        "8",
    )
    assert result.returncode == 0, result.stderr
    assert "eval (greedy)" in result.stdout and "comparison.md" in result.stdout  # the human-readable report
    summary = json.loads((out / "summary.json").read_text())
    assert summary["models"][0]["resolved"] == str(lora_run / "final")
