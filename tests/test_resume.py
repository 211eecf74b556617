"""Resume: a run SIGKILLed after a checkpoint continues to the same steps, data order and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import kill_after_checkpoint, run_lmmr1

ARGS = [
    "--recipe",
    "tiny-fre",
    "run.max_steps=4",
    "run.save_every_rollouts=2",
    "batch.samples_per_prompt=4",
    "batch.samples_per_step=16",
    "batch.micro_batch_size=16",
]


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_same_steps_and_metrics(arith_train, tmp_path):
    reference = tmp_path / "reference"
    result = run_lmmr1("train-fre", "--data", arith_train, "-o", reference, *ARGS)
    assert result.returncode == 0, result.stderr

    run = tmp_path / "killed"
    kill_after_checkpoint(
        ["train-fre", "--data", arith_train, "-o", run, *ARGS],
        run / "checkpoints" / "checkpoint-2",
    )
    assert not (run / "final").exists()  # nothing a later --init would take for a finished model

    resumed = run_lmmr1("train-fre", "--data", arith_train, "-o", run, "--resume", "--json", *ARGS)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4 and summary["resumed_from"].endswith("checkpoint-2")

    got, want = _metrics(run), _metrics(reference)
    assert [row["step"] for row in got] == [1, 2, 3, 4]  # no step lost, none twice
    # Same data order, optimizer state and RNG: the resumed run logs what the uninterrupted one did.
    for g, w in zip(got, want, strict=True):
        detail = {k: (g.get(k), w.get(k)) for k in ("step", "reward", "verifier/timeouts", "verifier/errors")}
        assert g["reward"] == pytest.approx(w["reward"], abs=1e-6), detail
        assert g["num_tokens"] == pytest.approx(w["num_tokens"])


def test_resume_without_a_checkpoint_is_a_clear_error(arith_train, tmp_path):
    result = run_lmmr1("train-fre", "--data", arith_train, "-o", tmp_path / "empty", "--resume", *ARGS)
    assert result.returncode != 0
    assert "holds no run to resume; drop --resume" in result.stderr and "Traceback" not in result.stderr


def test_run_killed_between_its_last_checkpoint_and_final_resumes_without_training_past_the_end(
    arith_train, tmp_path
):
    import shutil

    run = tmp_path / "run"
    result = run_lmmr1("train-fre", "--data", arith_train, "-o", run, *ARGS)
    assert result.returncode == 0, result.stderr
    weights = (run / "final" / "model.safetensors").read_bytes()
    lineage = (run / "run.json").read_text()
    # What a kill after checkpoint-4 and before final/ leaves (deterministic, unlike racing a real kill).
    shutil.rmtree(run / "final")
    (run / "summary.json").unlink()

    resumed = run_lmmr1("train-fre", "--data", arith_train, "-o", run, "--resume", *ARGS)
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 4  # transformers alone would train a 5th step before checking max_steps
    assert sorted(p.name for p in (run / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-2",
        "checkpoint-4",
    ]
    assert [row["step"] for row in _metrics(run)] == [1, 2, 3, 4]
    assert (run / "final" / "model.safetensors").read_bytes() == weights  # the checkpoint's model, untouched
    assert (run / "run.json").read_text() == lineage  # nothing was trained: no new segment, no fresh lineage
