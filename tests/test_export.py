"""`export_model`: standalone HF dirs, LoRA merge, dtype, reload check, no overwrite, nothing left on failure."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from lmmr1_cli.errors import ModelError, OutputExistsError
from lmmr1_cli.export import export_model, probe_tokens
from lmmr1_cli.modeling import load_model, load_processor


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_run):
    out = tmp_path_factory.mktemp("export") / "fre"
    return out, export_model(str(trained_run), out)


def test_export_is_a_standalone_model_dir_equal_to_the_run(exported, trained_run):
    out, manifest = exported
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "chat_template.jinja"} <= names
    assert {"processor_config.json", "tokenizer.json", "export.json"} <= names
    assert not any(n.endswith((".pt", ".bin", ".pth")) for n in names)  # no optimizer state, no pickles
    assert manifest["verified"] and manifest["probes"] == 2  # a text probe and an image probe
    assert manifest["source"] == str(trained_run / "final")
    assert json.loads((out / "export.json").read_text())["verified"] is True
    source, copy = load_model(str(trained_run)).state_dict(), load_model(str(out)).state_dict()
    assert source.keys() == copy.keys() and all(torch.equal(source[k], copy[k]) for k in source)


def test_a_checkpoint_exports_in_bfloat16(tmp_path, trained_run):
    out = tmp_path / "ckpt1"
    manifest = export_model(str(trained_run / "checkpoints" / "checkpoint-1"), out, dtype="bfloat16")
    assert manifest["dtype"] == "bfloat16"
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"BF16"}


def test_existing_output_is_refused_without_force_and_replaced_with_it(exported, trained_run):
    out, _ = exported
    (out / "marker").write_text("old")
    with pytest.raises(OutputExistsError, match="--force"):
        export_model(str(trained_run), out)
    assert (out / "marker").read_text() == "old"
    export_model(str(trained_run), out, force=True)
    assert not (out / "marker").exists() and (out / "export.json").is_file()


@pytest.fixture(scope="module")
def lora_dir(tmp_path_factory):
    """A real PEFT adapter on the tiny model (as train-* writes with model.lora_r > 0), B made non-zero."""
    from peft import LoraConfig, get_peft_model

    model, processor = load_model("tiny"), load_processor("tiny")
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            param.data.normal_(0.0, 0.5)  # fresh LoRA B is zero: the merge would change nothing
    out = tmp_path_factory.mktemp("lora") / "final"
    peft_model.save_pretrained(out)
    processor.save_pretrained(out)
    return out, peft_model


def _logits(model, processor):
    text = processor.apply_chat_template(
        [{"role": "user", "content": "What is 7 + 5?"}], add_generation_prompt=True
    )
    ids = processor.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return model(**ids).logits


def test_lora_adapters_are_merged_into_a_plain_model(tmp_path, lora_dir):
    adapter, peft_model = lora_dir
    out = tmp_path / "merged"
    manifest = export_model(str(adapter.parent), out)  # a run dir whose final/ holds only an adapter
    assert manifest["lora_merged"] and not (out / "adapter_config.json").exists()
    processor = load_processor(str(out))
    merged = load_model(str(out))
    base = load_model("tiny")
    expected = _logits(peft_model.eval(), processor)
    assert torch.allclose(_logits(merged, processor), expected, atol=1e-4)
    assert not torch.allclose(_logits(base, processor), expected, atol=1e-2)


def test_a_failed_export_leaves_nothing_behind(tmp_path, tiny_dir):
    broken = tmp_path / "no-template"
    shutil.copytree(tiny_dir, broken)
    (broken / "chat_template.jinja").unlink()  # a model that cannot be prompted as a chat model
    out = tmp_path / "exports" / "x"
    with pytest.raises(ModelError, match="chat template"):
        export_model(str(broken), out)
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_probe_outputs_differ_between_different_models(trained_run, tmp_path):
    # The reload check can fail: an untrained tiny model and the trained run answer the probes differently.
    tiny, run = (load_model(r) for r in ("tiny", str(trained_run)))
    processor = load_processor("tiny")
    assert probe_tokens(tiny, processor, tmp_path) != probe_tokens(run, processor, tmp_path)
