"""bench/gpu_check.py on the CPU with the tiny model: the JSON line the GPU run will print, under the GPU machine's
constraints (no trl, datasets, math-verify or vllm importable)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "gpu_check.py"
SMALL = ["--model", "tiny", "--device", "cpu", "--prompts", "2", "--group-size", "4", "--prompt-len", "24"]
SMALL += ["--completion-len", "12"]
# The GPU machine has torch and transformers only: make every other heavy package fail to import, as it would there.
BLOCK_MISSING = """
import importlib.abc, runpy, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"trl", "datasets", "math_verify", "vllm"}:
            raise ImportError(f"No module named {name!r} (blocked: the GPU machine has none)")
sys.meta_path.insert(0, Missing())
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
RATES = (
    "seconds_per_step",
    "generation_tokens_per_s",
    "train_tokens_per_s",
    "tokens_per_s",
    "peak_memory_gib",
)


def _run(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", BLOCK_MISSING, str(SCRIPT), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stdout[-2000:] + out.stderr[-2000:]  # one JSON line, as scripts read it
    return out, json.loads(lines[0])


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_on_tiny_prints_one_json_line_of_positive_finite_rates_without_trl(tiny_dir) -> None:
    out, result = _run(*SMALL, "--steps", "3", "--peak-tflops", "1")
    assert out.returncode == 0 and result["ok"], out.stderr[-3000:]
    assert result["generator"] == "hf" and result["imported_trl"] is False
    assert result["steps_run"] == 3 and result["steps_timed"] == 2  # the first step is warm-up, not timed
    assert result["completion_len_generated"] == 12  # EOS suppressed: the full length, as the recipe's shape
    for key in (*RATES, "mfu", "train_mfu", "model_tflops_per_step", "init_seconds"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, key
    assert 0 < result["mfu"] < 1 and math.isfinite(result["last_loss"]) and result["last_grad_norm"] > 0
    assert result["shape"]["samples_per_step"] == 8 and result["shape"]["gradient_checkpointing"] is True
    assert result["shape"]["kl_coef"] == 0.001  # the recipe's value, read from fre-text.yaml
    for key in ("torch", "transformers", "device_name", "flop_formula", "peak_tflops_source"):
        assert result[key]


def test_gpu_check_budget_stops_after_the_step_in_progress_and_still_reports(tiny_dir) -> None:
    out, result = _run(*SMALL, "--steps", "5", "--max-seconds", "0", "--kl-coef", "0")
    assert out.returncode == 0, out.stderr[-3000:]
    assert result["steps_run"] == 1 and result["stopped_by_budget"] is True
    assert result["seconds_per_step"] > 0 and result["mfu"] is None  # no known peak for a CPU: no MFU claimed


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_gpu_check_without_a_gpu_fails_with_one_line_saying_so() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    out, result = _run("--device", "cuda", "--steps", "1")
    assert out.returncode == 1 and result["ok"] is False
    assert "torch.cuda.is_available() is False" in result["error"]


def test_qwen25_vl_3b_config_builds_the_published_3_75b_parameter_model() -> None:
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    gpu_check = _load_script()
    config = Qwen2_5_VLConfig.from_dict(gpu_check.QWEN25_VL_3B_CONFIG)
    assert config.text_config.rope_parameters["mrope_section"] == [16, 24, 24] and config.tie_word_embeddings
    with torch.device("meta"):  # shapes only: no memory, no init
        model = Qwen2_5_VLForConditionalGeneration._from_config(config, dtype=torch.bfloat16)
    counts = gpu_check.param_counts(model)
    assert 3.75e9 < counts["total"] < 3.76e9  # the model card's 3.75B
    assert counts["vision"] == 668_684_288 and counts["embedding"] == 151936 * 2048
    flops = gpu_check.step_flops(counts, config.text_config, 16, 256, 4096, with_ref=True)
    # Training FLOPs of one group: 6 x params x tokens dominates, the causal attention term adds a few per cent.
    six_nd = 6 * counts["lm_body"] * 16 * (256 + 4096)
    assert six_nd < flops["train"] < 1.3 * six_nd
