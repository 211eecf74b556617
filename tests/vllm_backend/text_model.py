"""A tiny *text* model for the vLLM check: the embedded tiny Qwen2.5-VL's language model as a Qwen2ForCausalLM.

For text-only input Qwen2.5-VL's multimodal RoPE uses the same position for its three sections, which is plain
1-D RoPE, so the copied weights give the same outputs as the VL model on text prompts (checked when built).
"""

from __future__ import annotations

from pathlib import Path

LM_PREFIX = "model.language_model."


def build_text_model(out_dir: Path) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from lmmr1_cli.modeling import load_model, load_processor

    vl, processor = load_model("tiny", "float32"), load_processor("tiny")
    tc = vl.config.text_config
    config = Qwen2Config(
        vocab_size=tc.vocab_size,
        hidden_size=tc.hidden_size,
        intermediate_size=tc.intermediate_size,
        num_hidden_layers=tc.num_hidden_layers,
        num_attention_heads=tc.num_attention_heads,
        num_key_value_heads=tc.num_key_value_heads,
        max_position_embeddings=tc.max_position_embeddings,
        rms_norm_eps=tc.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": tc.rope_parameters["rope_theta"]},
        tie_word_embeddings=vl.config.tie_word_embeddings,
        bos_token_id=tc.bos_token_id,
        eos_token_id=tc.eos_token_id,
        pad_token_id=tc.pad_token_id,
        dtype="float32",
    )
    text = Qwen2ForCausalLM(config).eval()
    weights = {
        ("model." + k[len(LM_PREFIX) :] if k.startswith(LM_PREFIX) else k): v
        for k, v in vl.state_dict().items()
        if k.startswith(LM_PREFIX) or k == "lm_head.weight"
    }
    missing, unexpected = text.load_state_dict(weights, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    text.generation_config = vl.generation_config
    # Same greedy tokens as the VL model on a text prompt, or the copy is wrong.
    messages = [{"role": "user", "content": [{"type": "text", "text": "What is 3 + 4?"}]}]
    ids = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_tensors="pt"
    )
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    with torch.no_grad():
        a = vl.generate(input_ids=ids, max_new_tokens=16, do_sample=False)
        b = text.generate(input_ids=ids, max_new_tokens=16, do_sample=False)
    assert a.tolist() == b.tolist(), "text model differs from the VL model on a text prompt"
    out_dir = Path(out_dir)
    text.save_pretrained(out_dir)
    processor.tokenizer.save_pretrained(out_dir)
    return out_dir
