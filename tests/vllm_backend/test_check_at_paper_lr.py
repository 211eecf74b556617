"""The vLLM rollout check at the paper's learning rate (fre_text.sh: actor lr 4e-7), on one and on two processes
under every engine that runs here (ddp, ZeRO-2, ZeRO-3, FSDP2):
a lost weight push is caught within 10 optimizer steps, the failed run keeps the trainer's weights as a resumable
checkpoint and exits 3, `--resume` without the fault finishes it, and the same run without the fault finishes 12
steps with no alarm. LoRA runs (adapters on the language model's attention and the vision tower's projections)
are caught and pass the same way. Each run is `lmmr1` as a user types it, on vLLM's CPU build."""

from __future__ import annotations

import json

import pytest
from conftest import run_lmmr1
from support import metrics, prepare

# fre_text.sh's lr without its warm-up, and no checkpoint before the failure: the failure's own must be the one.
PAPER_LR = ["optim.learning_rate=4e-7", "optim.warmup_ratio=0", "run.save_every_rollouts=100"]
STEPS = 12
CAUGHT_WITHIN = 10
LORA = ["model.lora_r=8", "model.lora_alpha=16", "model.lora_target_modules=[q_proj,v_proj,qkv,proj]"]
SKIP_PUSH = {"LMMR1_VLLM_FAULT": "skip_weight_push"}


@pytest.fixture(scope="module")
def text_train(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("data"), "synthetic-largest", "train", 16)


@pytest.fixture(scope="module")
def picture_train(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("data"), "synthetic-largest-picture", "train", 16)


def _train(stage: str, data, run, *extra, env=None):
    recipe = (
        ["train-fre", "--recipe", "tiny-fre"] if stage == "fre" else ["train-mgt", "--recipe", "tiny-mgt"]
    )
    recipe += [] if stage == "fre" else ["--init", "tiny"]
    return run_lmmr1(
        *recipe, "--data", data, "-o", run, "--use-vllm", f"run.max_steps={STEPS}", *PAPER_LR, *extra, env=env,
        timeout=900,
    )  # fmt: skip


def _stopped_and_kept(result, run, processes: int = 1, deepspeed: bool = False) -> int:
    """A lost push stopped the run within CAUGHT_WITHIN steps, exit 3, with its checkpoint and its records."""
    assert result.returncode == 3, result.stderr[-3000:]
    assert "warning: LMMR1_VLLM_FAULT=skip_weight_push undoes one of the vLLM fixes" in result.stderr
    if processes == 1:  # on N, accelerate prints its own traceback of the ranks' exit before lmmr1's line
        assert "Traceback" not in result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: vLLM rollout check failed at step "), error
    assert "the weight push did not land" in error
    step = int(error.split("at step ")[1].split(":")[0])
    assert 1 <= step <= CAUGHT_WITHIN
    failed = metrics(run)[-1]
    assert (
        failed["vllm/check_failed"] == 1 and failed["step"] == step and failed["vllm/weights_differing"] > 0
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["failed"] == error.removeprefix("error: ") and summary["exit_code"] == 3
    assert summary["world_size"] == processes and summary["generation"]["fault"] == "skip_weight_push"
    assert json.loads((run / "run.json").read_text())["segments"][0]["vllm_fault"] == "skip_weight_push"
    # The trainer's weights at the failure, as a normal checkpoint (the only one: none was due before it).
    (checkpoint,) = (run / "checkpoints").glob("checkpoint-*")
    assert checkpoint.name == f"checkpoint-{step}" and summary["checkpoint"] == str(checkpoint)
    assert json.loads((checkpoint / "trainer_state.json").read_text())["global_step"] == step
    # The optimizer state too (DeepSpeed keeps its own, partitioned, in global_step<N>/), so --resume can go on.
    optimizer_state = list(checkpoint.glob(f"global_step{step}/*optim_states.pt")) if deepspeed else [
        checkpoint / "optimizer.pt"
    ]  # fmt: skip
    assert optimizer_state and all(path.is_file() for path in optimizer_state)
    assert not (run / "final").exists()
    return step


def _finished_without_alarm(result, run, checks: int, resumed_from=None, after_step: int = 0) -> dict:
    """Finished its steps (`checks` of them in this segment, one weight check each) with every check green."""
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == after_step + checks and summary["resumed_from"] == resumed_from
    checks_record = summary["generation"]["checks"]
    assert checks_record["failures"] == [] and checks_record["weight_checks"] == checks
    assert checks_record["weight_max_abs_diff"] == 0 and checks_record["weight_tensors_compared"] > 0
    assert summary["generation"]["fault"] is None
    assert not any(row.get("vllm/check_failed") for row in metrics(run) if row["step"] > after_step)
    assert "engine weights equal to the trainer's" in " ".join(
        result.stdout.split()
    )  # rich wraps at its width
    return summary


def test_a_lost_push_at_the_papers_lr_is_caught_and_the_run_resumes_from_its_checkpoint(text_train, tmp_path):
    run = tmp_path / "fre"
    step = _stopped_and_kept(_train("fre", text_train, run, env=SKIP_PUSH), run)
    # The cause fixed (no fault), the run goes on from the failure's checkpoint (3 more steps are enough to see it).
    resumed = _train("fre", text_train, run, "--resume", "--allow-config-change", f"run.max_steps={step + 3}")
    checkpoint = str(run / "checkpoints" / f"checkpoint-{step}")
    _finished_without_alarm(resumed, run, checks=3, resumed_from=checkpoint, after_step=step)
    assert [s.get("vllm_fault") for s in json.loads((run / "run.json").read_text())["segments"]] == [
        "skip_weight_push", None
    ]  # fmt: skip


def test_the_same_run_without_the_fault_finishes_with_no_alarm(text_train, tmp_path):
    run = tmp_path / "fre"
    summary = _finished_without_alarm(_train("fre", text_train, run), run, checks=STEPS)
    # Every pushed tensor was compared: the whole tiny model, both towers.
    assert summary["generation"]["checks"]["weight_tensors_compared"] >= 50


def test_two_processes_under_zero3_stop_together_with_exit_3_and_resume(text_train, tmp_path):
    # ZeRO-3 partitions every trainer parameter: the check gathers each as TRL's push does, the failure's
    # checkpoint is written by both ranks together (DeepSpeed's partitioned state included), and --resume reads it.
    run = tmp_path / "fre2"
    two = ["--num-processes", "2", "--accelerate-config", "zero3", "batch.micro_batch_size=16"]  # fmt: skip
    lost = _train("fre", text_train, run, *two, env=SKIP_PUSH)  # 16 completions a process
    step = _stopped_and_kept(lost, run, processes=2, deepspeed=True)
    resumed = _train(
        "fre", text_train, run, *two, "--resume", "--allow-config-change", f"run.max_steps={step + 3}"
    )
    checkpoint = str(run / "checkpoints" / f"checkpoint-{step}")
    summary = _finished_without_alarm(resumed, run, checks=3, resumed_from=checkpoint, after_step=step)
    assert summary["world_size"] == 2 and summary["engine"]["engine"] == "deepspeed-zero3"
    compared = summary["generation"]["checks"]["weight_tensors_compared"]
    assert summary["engine"]["sharded_parameters"] == compared


def test_lora_through_vllm_is_checked_merged_vision_projections_included(picture_train, tmp_path):
    lost = tmp_path / "lost"
    _stopped_and_kept(_train("mgt", picture_train, lost, *LORA, env=SKIP_PUSH), lost)
    fine = tmp_path / "fine"
    _finished_without_alarm(_train("mgt", picture_train, fine, *LORA), fine, checks=STEPS)


@pytest.mark.parametrize("engine", ["ddp", "zero2", "fsdp"])
def test_two_processes_under_each_engine_check_every_pushed_tensor_and_pass(engine, text_train, tmp_path):
    # Under FSDP2 every trainer parameter is a DTensor shard: the check gathers each (full_tensor) as TRL's push
    # does; under DDP and ZeRO-2 every rank holds whole parameters. Every rank compares its own engine with the
    # whole model.
    run = tmp_path / engine
    result = _train(
        "fre", text_train, run, "--num-processes", "2", "--accelerate-config", engine, "batch.micro_batch_size=16",
        "run.max_steps=3",
    )  # fmt: skip
    summary = _finished_without_alarm(result, run, checks=3)
    # The engine is torn down before the ranks leave their process group: no rank prints a traceback at exit.
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    ran = summary["engine"]
    assert summary["world_size"] == 2 and ran["processes"] == 2
    assert ran["engine"] == {"ddp": "ddp", "zero2": "deepspeed-zero2", "fsdp": "fsdp2"}[engine]
    compared = summary["generation"]["checks"]["weight_tensors_compared"]
    assert compared >= 50 and ran["sharded_parameters"] == (compared if engine == "fsdp" else 0)
