"""The `generation:` line a training run ends with (commands/train.py `generation_line`) says exactly which vLLM
checks ran: never "weights equal" where no weight was compared (server mode: the engine is another process).
Server mode needs CUDA, so its summary here is the one RolloutGuard.summary writes in that mode, not a run's."""

from __future__ import annotations

from lmmr1_cli.commands.train import generation_line

CHECKS = {
    "rollouts_checked": 12,
    "prompt_ids_compared": True,
    "logp_gap_tolerance": 0.1,
    "largest_mean_logp_gap": 0.0087,
    "weight_checks": 12,
    "weight_check_every": 1,
    "weight_max_abs_diff": 0.0,
    "weight_tensors_compared": 56,
    "weight_elements_compared": 360256,
    "weight_check_seconds": 0.4,
    "failures": [],
}


def _generation(mode: str, **checks) -> dict:
    return {
        "backend": "vllm",
        "vllm_mode": mode,
        "vllm_version": "0.32.0",
        "engine_dtype": "bfloat16" if mode == "colocate" else None,
        "fault": None,
        "checks": {**CHECKS, **checks},
    }


def test_colocate_says_every_pushed_tensor_was_equal_and_how_many():
    line = generation_line(_generation("colocate"))
    assert line == (
        "vLLM 0.32.0 (colocate, engine bfloat16); rollout checks passed on 12 rollouts (prompt ids compared, largest "
        "mean logprob gap 0.009, tolerance 0.1); engine weights equal to the trainer's at 12 checks (every pushed "
        "tensor, 56 tensors / 360,256 elements a check)"
    )


def test_server_mode_never_claims_equal_weights():
    server = _generation(
        "server", weight_checks=0, weight_check_every=None, weight_tensors_compared=0, weight_elements_compared=0,
        weights_not_compared="server mode: the engine runs in another process",
    )  # fmt: skip
    line = generation_line(server)
    assert "weights equal" not in line and "prompt ids compared" in line
    assert line.endswith("engine weights not compared (server mode: the engine runs in another process)")


def test_a_fault_and_a_failure_are_named():
    generation = _generation(
        "colocate", failures=["vLLM rollout check failed at step 1: ..."], weight_max_abs_diff=1e-3
    )
    generation["fault"] = "skip_weight_push"
    line = generation_line(generation)
    assert "LMMR1_VLLM_FAULT=skip_weight_push" in line and "rollout checks failed" in line
    assert "weights equal" not in line


def test_transformers_generation_is_said_plainly():
    assert generation_line({"backend": "transformers"}) == "transformers generate"
