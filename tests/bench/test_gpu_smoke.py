"""bench/gpu_smoke.py on the CPU with the tiny model: the same script, stages and JSON line as the GPU run, small."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPT = BENCH / "gpu_smoke.py"
STAGES = ["build", "prepare-data text", "prepare-data pictures", "prepare-data eval", "train-fre", "train-mgt",
          "eval", "export"]  # fmt: skip
SMALL = ["--model", "tiny", "--device", "cpu", "--completion-len", "8", "--rows", "16", "--eval-rows", "4",
         "--fre-prompts", "2", "--fre-steps", "2", "--mgt-prompts", "1", "--mgt-steps", "1"]  # fmt: skip


def _run(*args: str, timeout: float = 900) -> tuple[subprocess.CompletedProcess, dict]:
    out = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stdout[-2000:] + out.stderr[-3000:]  # one JSON line, as a job log reads it
    return out, json.loads(lines[0])


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_gpu_smoke_on_tiny_runs_the_whole_lmmr1_chain_and_reports_its_rates():
    out, result = _run(*SMALL, "--peak-tflops", "1")
    assert out.returncode == 0 and result["ok"], out.stderr[-3000:]
    assert result["stages_run"] == STAGES
    fre, mgt = result["train-fre"], result["train-mgt"]
    assert fre["steps"] == 2 and mgt["steps"] == 1
    assert fre["completions"] == 32 and fre["mean_completion_tokens"] > 0 and fre["mean_prompt_tokens"] > 0
    for rates in (fre, mgt):
        for key in ("seconds_per_step", "generation_tokens_per_s", "train_tokens_per_s", "mfu", "train_mfu"):
            assert rates[key] > 0, (key, rates)
    assert result["peak_memory_gib"] > 0
    calls = result["generate_batch"]
    assert calls["one_call"]["sequences"] == 32 and calls["one_group"]["sequences"] == 16
    assert all(call["tokens_per_s"] > 0 for call in calls.values())
    assert result["export"]["probes"] > 0


def test_out_of_time_the_chain_stops_and_the_json_line_says_where():
    out, result = _run(*SMALL, "--max-seconds", "1")
    assert out.returncode == 1 and not result["ok"]
    assert result["stages_run"] == ["build"]
    assert "no time left for prepare-data text" in result["error"]


def test_the_published_3b_config_maps_its_special_tokens_and_keeps_its_vocabulary():
    from transformers import AutoProcessor

    from lmmr1_cli.tiny import tiny_model_dir

    smoke = _load("gpu_smoke")
    tokenizer = AutoProcessor.from_pretrained(tiny_model_dir()).tokenizer
    config = smoke.model_config("qwen2.5-vl-3b", tokenizer)
    assert config.text_config.vocab_size == 151936 and config.text_config.num_hidden_layers == 36
    for key, token in smoke.SPECIAL_TOKENS.items():
        mapped = getattr(config, key, None) if hasattr(config, key) else getattr(config.text_config, key)
        assert mapped == tokenizer.convert_tokens_to_ids(token), key
    assert config.text_config.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    # Random prompts stay below every special token the model treats specially.
    assert smoke.text_token_ceiling(config) == min(tokenizer.convert_tokens_to_ids(t) for t in
                                                   list(smoke.SPECIAL_TOKENS.values())[1:])  # fmt: skip


def test_gpu_check_and_gpu_smoke_count_flops_with_one_formula():
    check, smoke, metrics = _load("gpu_check"), _load("gpu_smoke"), _load("gpu_metrics")
    for shared in ("step_flops", "param_counts"):
        assert getattr(check, shared).__module__ == getattr(smoke, shared).__module__ == "gpu_metrics"
    assert smoke.mfu.__module__ == "gpu_metrics"
    assert check.QWEN25_VL_3B_CONFIG == metrics.qwen25_vl_3b_config()
