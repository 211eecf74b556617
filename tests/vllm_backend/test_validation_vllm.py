"""Validation during training under `--use-vllm` (lmmr1_cli/validation.py): it generates through the run's own
engine with the weights the trainer has at that step (no second model load), and its answers are those of
`lmmr1 eval --backend vllm` on the same step's checkpoint up to bfloat16 (the engine's dtype on CPU)."""

from __future__ import annotations

import json

from conftest import run_lmmr1
from support import prepare


def _answers(path):
    return [json.loads(line)["extracted"] for line in path.read_text().splitlines()]


def test_validation_generates_through_the_runs_engine_with_the_steps_weights(tmp_path):
    train = prepare(tmp_path, "synthetic-largest-picture", "train", 16)
    held = prepare(tmp_path, "synthetic-largest-picture", "test", 16)
    run = tmp_path / "mgt"
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", train, "-o", run, "--use-vllm",
        "--eval-data", f"held={held}", "eval.every_rollouts=2", "eval.max_new_tokens=32", "run.max_steps=2",
        "run.save_every_rollouts=2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert (
        summary["validation"]["backend"] == "vllm (the run's engine)"
        and summary["validation"]["evaluations"] == 1
    )
    assert (
        summary["generation"]["checks"]["failures"] == []
    )  # the push before the evaluation passed its check too
    checked = run_lmmr1(
        "eval", "--model", run / "checkpoints" / "checkpoint-2", "--benchmark", held, "--backend", "vllm",
        "--max-new-tokens", "32", "-o", tmp_path / "res",
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr[-3000:]
    (samples,) = (tmp_path / "res").glob("*/*/samples.jsonl")
    in_loop, standalone = _answers(run / "eval" / "held" / "step-2.jsonl"), _answers(samples)
    agree = sum(a == b for a, b in zip(in_loop, standalone, strict=True)) / len(in_loop)
    assert agree >= 0.9, (in_loop, standalone)
