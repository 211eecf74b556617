"""`lmmr1 train-fre/train-mgt --use-vllm` on vLLM's CPU build (colocate mode), run as a user types them.

Every run's rollout checks (lmmr1_cli/vllm_checks.py) must pass on a correct run, and fire on each known way the
vLLM path breaks, undone on purpose through LMMR1_VLLM_FAULT: a skipped weight push, image placeholders expanded
twice, a vision-encoder cache not reset after a push.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_lmmr1
from support import metrics, prepare

from lmmr1_cli.vllm_engine import DEFAULT_LOGP_GAP_TOLERANCE, FAULTS

# Four pictures, every rollout sees all of them: a picture comes back after each weight push (what a stale
# encoder cache needs to show), and a trainable tower at a high lr changes how it is encoded.
REPEATING_PICTURES = [
    "run.limit_train_rows=4", "model.freeze_vision_tower=false", "optim.learning_rate=1e-2",
    "run.save_every_rollouts=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def text_train(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("data"), "synthetic-largest", "train", 16)


@pytest.fixture(scope="module")
def picture_train(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("data"), "synthetic-largest-picture", "train", 16)


def _checks_passed(run, steps: int) -> dict:
    summary = json.loads((run / "summary.json").read_text())
    generation = summary["generation"]
    assert generation["backend"] == "vllm" and generation["vllm_mode"] == "colocate"
    assert generation["vllm_version"] and generation["engine_dtype"] == "bfloat16"  # vLLM on CPU downcasts
    checks = generation["checks"]
    assert (
        checks["failures"] == [] and checks["rollouts_checked"] == steps and checks["weight_checks"] == steps
    )
    assert checks["weight_max_abs_diff"] == 0.0
    rows = [row for row in metrics(run) if "vllm/logp_gap_mean" in row]
    assert len(rows) == steps
    for row in rows:
        assert row["vllm/logp_gap_mean"] < DEFAULT_LOGP_GAP_TOLERANCE, row
        assert (
            row["vllm/logp_gap_tolerance"] == DEFAULT_LOGP_GAP_TOLERANCE and row["vllm/prompt_mismatch"] == 0
        )
        assert row["vllm/weights_compared"] > 0 and row["vllm/weight_max_abs_diff"] == 0
    return summary


def test_train_fre_generates_through_vllm_and_its_checks_pass(text_train, tmp_path):
    run = tmp_path / "fre"
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", text_train, "-o", run, "--use-vllm", "run.max_steps=3"
    )
    assert result.returncode == 0, result.stderr
    _checks_passed(run, 3)
    assert "generation: vLLM " in result.stdout and "(colocate, engine bfloat16)" in result.stdout
    assert "rollout checks passed on 3 rollouts" in result.stdout


def test_readme_mgt_through_vllm_sends_the_pictures_to_vllm(tmp_path):
    # README, "Generation through vLLM", as a user types it. vLLM rebuilds the trainer's exact prompt ids
    # (prompt_mismatch 0, logprobs within bf16 of the trainer's) only when it expands each image placeholder from
    # the picture itself: a text-only prompt would differ in length.
    lmmr1 = Path(sys.executable).with_name("lmmr1")
    commands = [
        f"{lmmr1} prepare-data synthetic-largest-picture --split train --limit 64 -o data/pictures",
        f"{lmmr1} train-mgt --recipe tiny-mgt --init tiny --data data/pictures -o runs/mgt-vllm --use-vllm "
        "run.max_steps=4",
        f"{lmmr1} export runs/mgt-vllm -o exported/mgt-vllm",
    ]
    outputs = []
    for command in commands:
        result = subprocess.run(
            shlex.split(command), cwd=tmp_path, capture_output=True, text=True, timeout=900, env=os.environ
        )
        assert result.returncode == 0, result.stderr[-3000:]
        outputs.append(result.stdout)
    run = tmp_path / "runs" / "mgt-vllm"
    summary = _checks_passed(run, 4)
    assert summary["steps"] == 4 and (run / "final" / "model.safetensors").is_file()
    assert "generation: vLLM " in outputs[1] and "rollout checks passed on 4 rollouts" in outputs[1]
    assert (tmp_path / "exported" / "mgt-vllm" / "export.json").is_file()  # export reloads what it wrote


def test_a_correct_run_passes_the_checks_where_each_fault_would_fire(picture_train, tmp_path):
    # The control for the faults below: same data and settings, nothing undone.
    run = tmp_path / "mgt"
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", picture_train, "-o", run, "--use-vllm",
        "run.max_steps=4", *REPEATING_PICTURES,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    _checks_passed(run, 4)


@pytest.mark.parametrize("fault", FAULTS)
def test_each_known_vllm_fault_stops_the_run_at_the_check(fault, picture_train, tmp_path):
    run = tmp_path / fault
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", picture_train, "-o", run, "--use-vllm",
        "run.max_steps=4", *REPEATING_PICTURES, env={"LMMR1_VLLM_FAULT": fault},
    )  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]
    # vLLM logs its start-up on stderr; lmmr1's error is one line, the last, with no traceback.
    assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: vLLM rollout check failed at step "), error
    step = int(error.split("at step ")[1].split(":")[0])
    failed = metrics(run)[-1]
    assert failed["vllm/check_failed"] == 1 and failed["step"] == step
    if fault == "skip_weight_push":
        assert "weight push did not land" in error and failed["vllm/weight_max_abs_diff"] > 0
    else:
        assert (
            failed["vllm/logp_gap_mean"] > DEFAULT_LOGP_GAP_TOLERANCE
            and "differ from the trainer's by" in error
        )
    # The bad rollout never reached the optimizer, and the trainer (the healthy side) kept its weights as a normal
    # checkpoint of the failed step, even at step 0 (nothing saved before it): `--resume` continues from there.
    assert not (run / "final").exists()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["failed"] == error.removeprefix("error: ") and summary["generation"]["fault"] == fault
    saved = run / "checkpoints" / f"checkpoint-{step}"
    assert summary["checkpoint"] == str(saved) and (saved / "model.safetensors").is_file()
    assert json.loads((saved / "trainer_state.json").read_text())["global_step"] == step


def test_server_mode_without_cuda_is_refused_before_training(text_train, tmp_path):
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", text_train, "-o", tmp_path / "r", "--use-vllm",
        "--vllm-mode", "server", timeout=120,
    )  # fmt: skip
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: --vllm-mode server needs CUDA: TRL pushes weights to `trl vllm-serve` over NCCL, which has no CPU "
        "backend; use --vllm-mode colocate on this machine"
    ]
    assert not (tmp_path / "r").exists()


def test_dynamic_sampling_through_vllm_keeps_the_checks_green(text_train, tmp_path):
    # rollout.dynamic_sampling generates extra groups through the same engine: each round goes through the fixes
    # and the checks, and tied groups are dropped as on the transformers path (tests/test_dynamic_sampling.py).
    run = tmp_path / "ds"
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", text_train, "-o", run, "--use-vllm", "run.max_steps=3",
        "rollout.dynamic_sampling=true",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["generation"]["checks"]["failures"] == []
    rows = [row for row in metrics(run) if "dynamic_sampling/rounds" in row]
    assert len(rows) == 3 and all(row["vllm/prompt_mismatch"] == 0 for row in rows)
    assert sum(row["dynamic_sampling/dropped_groups"] for row in rows) > 0  # the tiny model ties some groups


# A TRL that logs the logprob gap under another name: its GRPOTrainer's metric tables store the two keys the
# check reads under new names (TRL's own code runs unchanged; the table is what a renamed metric looks like).
_RENAMING_TRL = """
import importlib.abc, importlib.util, sys
from collections import defaultdict

RENAMED = {"sampling/sampling_logp_difference/mean": "sampling/logp_gap/mean",
           "sampling/sampling_logp_difference/max": "sampling/logp_gap/max"}

class _Renaming(defaultdict):
    def __getitem__(self, key):
        return super().__getitem__(RENAMED.get(key, key))

class _PatchGRPO(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "trl.trainer.grpo_trainer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            init = module.GRPOTrainer.__init__

            def renaming_init(self, *args, **kwargs):
                init(self, *args, **kwargs)
                self._metrics = {mode: _Renaming(list, table) for mode, table in self._metrics.items()}

            module.GRPOTrainer.__init__ = renaming_init

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _PatchGRPO())
"""


def test_a_trl_that_renames_the_gap_metric_stops_the_run_at_the_first_rollout(text_train, tmp_path):
    shim = tmp_path / "renaming-trl"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(_RENAMING_TRL)
    run = tmp_path / "r"
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", text_train, "-o", run, "--use-vllm", "run.max_steps=3",
        env={"PYTHONPATH": os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))},
    )  # fmt: skip
    assert result.returncode not in (0, 3), result.stderr[-3000:]  # not a pass, and not a failed check either
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: the vLLM rollout check cannot read the logprob gap"), error
    assert "'sampling/sampling_logp_difference/mean'" in error
    # At the first rollout, before any step was kept: nothing half-written is left behind.
    assert not run.exists()
