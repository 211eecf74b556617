"""What bench/gpu_check.py (a hand-written GRPO loop) and bench/gpu_smoke.py (the real `lmmr1` chain) both measure,
defined once: the model they build, its parameter split, the FLOPs of a GRPO step, the GPU's peak and the MFU.

Needs only the standard library at import; torch and transformers are imported by the functions that use them.
"""

from __future__ import annotations

import json
from pathlib import Path

# Qwen/Qwen2.5-VL-3B-Instruct's config.json as published on the hub
# (https://huggingface.co/Qwen/Qwen2.5-VL-3B-Instruct/blob/main/config.json), in the hub's flat layout, so
# `Qwen2_5_VLConfig.from_dict` reads it exactly as `from_pretrained` would.
QWEN25_VL_3B_CONFIG_FILE = Path(__file__).resolve().parent / "qwen2_5_vl_3b_config.json"

# Dense (no sparsity) bf16 tensor-core peaks from NVIDIA's data sheets, in TFLOP/s; the sheets print twice these
# "with sparsity". H200 and H100 SXM share the H100 compute die: 989.
PEAK_TFLOPS = {"H200": 989.0, "H100": 989.0, "A100": 312.0}

FLOP_FORMULA = (
    "per sequence F = 2*N*S + 2*V*d*C + 2*L*a*S^2 (N: LM body params, S: prompt+completion, C: completion, "
    "a: attention width); step = 3F (train) + F (reference, if KL) + generation 2*(N+V*d) + 4*L*a*context per new "
    "token; MFU = step FLOPs / step seconds / peak (dense bf16)"
)


def qwen25_vl_3b_config() -> dict:
    """The published config as a dict (a fresh copy each call: callers remap its token ids)."""
    return json.loads(QWEN25_VL_3B_CONFIG_FILE.read_text())


def text_config(model_or_config):
    config = getattr(model_or_config, "config", model_or_config)
    return getattr(config, "text_config", config)


def param_counts(model) -> dict:
    """Parameters of the vision tower, the LM body (what each text token multiplies) and the embedding."""
    counts = {"vision": 0, "embedding": 0, "lm_body": 0}
    for name, param in model.named_parameters():  # tied lm_head appears once, as the embedding
        part = (
            "vision"
            if "visual" in name
            else "embedding"
            if "embed_tokens" in name or "lm_head" in name
            else "lm_body"
        )
        counts[part] += param.numel()
    counts["total"] = sum(counts.values())
    return counts


def step_flops(
    counts: dict, tconf, n_seq: int, prompt_len: float, completion_len: float, with_ref: bool
) -> dict:
    """Model FLOPs of one step (no recompute: MFU, not HFU), causal attention counted as half the square.

    Per sequence of S = prompt + completion tokens, N = LM body parameters, V x d the (tied) output matmul on the
    C completion positions, L layers, a = heads x head_dim:
      forward  F = 2 N S + 2 V d C + 2 L a S^2        (attention: QK^T and AV, each 2 a S^2 / 2 per layer)
      training 3F (forward + backward), reference forward F (when the KL term is on)
      generation: 2 (N + V d) per new token + 4 L a x context per new token, summed over the completion
    The training part is the brief's "6 x params x trained tokens + attention term".
    """
    n_body, vd = counts["lm_body"], tconf.vocab_size * tconf.hidden_size
    seq = prompt_len + completion_len
    layers = tconf.num_hidden_layers
    attn = tconf.hidden_size  # heads x head_dim: Qwen2.5's query width is its hidden size
    forward = 2 * n_body * seq + 2 * vd * completion_len + 2 * layers * attn * seq**2
    context_sum = completion_len * prompt_len + completion_len * (completion_len + 1) / 2
    generation = 2 * (n_body + vd) * completion_len + 4 * layers * attn * context_sum
    return {
        "train": 3 * forward * n_seq,
        "reference": forward * n_seq if with_ref else 0,
        "generation": generation * n_seq,
    }


def peak_tflops(override: float | None, device_name: str) -> tuple[float | None, str]:
    """The dense bf16 peak for MFU and where it came from."""
    if override is not None:
        return override, "--peak-tflops"
    for key, value in PEAK_TFLOPS.items():
        if key in device_name:
            return value, f"NVIDIA {key} dense bf16 (data sheet)"
    return None, f"unknown for {device_name!r}: pass --peak-tflops"


def mfu(flops: float, seconds: float, peak: float | None) -> float | None:
    """Model FLOPs utilisation: achieved FLOP/s over the peak (None without a peak or a time)."""
    return flops / seconds / (peak * 1e12) if peak and seconds > 0 else None
