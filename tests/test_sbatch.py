"""The SLURM script `--emit-sbatch` writes, run as a cluster would run it: under srun/scontrol shims (the only
stand-ins), from another working directory, with a PATH that has no venv (so no `accelerate` or `trl` on it).
The training itself is real (the embedded tiny model's dir as the model, one CPU process under the venv's own
`accelerate launch`), and so are the requeue (the second start resumes), the refusal of a used run dir, and the
bounded wait for a vLLM server pointed at a real run's final/ model."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import _prepare, run_lmmr1

# One CPU process: accelerate's plain launcher (the shipped zero2/zero3 configs need GPUs).
CPU_ACCELERATE_CONFIG = """compute_environment: LOCAL_MACHINE
distributed_type: 'NO'
num_machines: 1
num_processes: 1
machine_rank: 0
mixed_precision: 'no'
use_cpu: true
"""

SHIMS = {
    "scontrol": "for _ in 1 2; do echo localhost; done",
    # srun: run the step once per task with its SLURM_NODEID; a vLLM server step either hangs without ever
    # answering (SHIM_SERVER=hang, after recording its arguments) or runs for real (SHIM_SERVER=real).
    "srun": """
ntasks=1
while [ $# -gt 0 ]; do
  case "$1" in --ntasks=*) ntasks="${1#*=}"; shift;; --*) shift;; *) break;; esac
done
if [ "$(basename "$1")" = trl ]; then
  printf "%s\\n" "$@" > "$SHIM_LOG/trl"
  if [ "${SHIM_SERVER:-hang}" = hang ]; then exec sleep 120; fi
fi
for ((i = 0; i < ntasks; i++)); do SLURM_NODEID=$i "$@"; done
""",
}


def _cluster_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    bin_dir = tmp_path / "slurm-bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in SHIMS.items():
        path = bin_dir / name
        path.write_text("#!/bin/bash\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    logs = tmp_path / "shim-logs"
    logs.mkdir(exist_ok=True)
    path = f"{bin_dir}:/usr/bin:/bin"
    assert shutil.which("accelerate", path=path) is None and shutil.which("lmmr1", path=path) is None
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "SLURM_"))}
    return {**keep, "PATH": path, "SHIM_LOG": str(logs), "SLURM_JOB_NODELIST": "localhost", **extra}


def _emit(workdir: Path, *args) -> Path:
    config = workdir / "cpu.yaml"
    config.write_text(CPU_ACCELERATE_CONFIG)
    result = run_lmmr1(*args, "--accelerate-config", config, "--emit-sbatch", "1", "1", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir / "runs" / f"{args[0].removeprefix('train-')}.sbatch"


def _start(script: Path, env: dict, cwd: Path, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        ["bash", str(script)], cwd=cwd, env=env, start_new_session=True, text=True, **popen
    )


def _kill_after(proc: subprocess.Popen, marker: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not marker.is_file():
        assert proc.poll() is None, f"the job ended before {marker}"
        assert time.monotonic() < deadline, f"no {marker} in time"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # preempted: the whole job step goes at once
    proc.wait()


@pytest.mark.slow
def test_the_job_trains_from_anywhere_without_accelerate_on_path_and_a_requeue_resumes(
    arith_train, tiny_dir, tmp_path
):
    workdir, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    (workdir / "data").mkdir(parents=True)
    elsewhere.mkdir()
    shutil.copytree(arith_train, workdir / "data" / "arith")
    script = _emit(
        workdir, "train-fre", "--recipe", "tiny-fre", "--model", tiny_dir, "--data", "data/arith",
        "-o", "runs/fre", "run.max_steps=2", "run.save_every_rollouts=1",
    )  # fmt: skip
    text = script.read_text()
    assert f"#SBATCH --chdir={workdir}" in text and "#SBATCH --requeue" in text
    assert "#SBATCH --cpus-per-task=8" in text
    run = workdir / "runs" / "fre"

    env = _cluster_env(tmp_path)
    _kill_after(_start(script, env, elsewhere), run / "checkpoints" / "checkpoint-1" / "trainer_state.json")
    assert not (run / "final").exists()

    requeued = subprocess.run(
        ["bash", str(script)], cwd=elsewhere, env={**env, "SLURM_RESTART_COUNT": "1"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert requeued.returncode == 0, requeued.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["resumed_from"].endswith("checkpoint-1")
    segments = json.loads((run / "run.json").read_text())["segments"]
    assert [s["start_step"] for s in segments] == [0, 1]

    files = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    again = subprocess.run(
        ["bash", str(script)], cwd=elsewhere, env={**env, "SLURM_RESTART_COUNT": "2"},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already complete" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == files

    # A new job (not a requeue) on the used run dir refuses it in one line.
    fresh = subprocess.run(["bash", str(script)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert fresh.returncode == 2 and fresh.stderr == f"error: {run} exists and is not empty; " + (
        "choose another -o (or emit the script with --resume)\n"
    )


@pytest.mark.parametrize("server", ["hang", "real"])
def test_the_vllm_server_gets_the_run_final_model_and_a_bounded_wait(
    server, trained_run, arith_train, tmp_path
):
    workdir = tmp_path / "project"
    workdir.mkdir()
    script = _emit(
        workdir, "train-mgt", "--recipe", "tiny-mgt", "--init", trained_run, "--data", arith_train,
        "-o", "runs/mgt", "--use-vllm", "--vllm-mode", "server", "rollout.vllm_server_port=9",
    )  # fmt: skip
    env = _cluster_env(tmp_path, LMMR1_VLLM_WAIT_SECONDS="4", SHIM_SERVER=server)
    job = _start(script, env, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, stderr = job.communicate(timeout=300)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    served = (tmp_path / "shim-logs" / "trl").read_text().splitlines()
    assert served[1:4] == ["vllm-serve", "--model", str(trained_run / "final")]  # the model dir, not the run
    # The recipe's port (rollout.vllm_server_port), not a default.
    assert served[served.index("--port") + 1] == "9"
    assert served[0] == str(Path(sys.executable).parent / "trl")  # the venv's own, by absolute path
    assert job.returncode == 1
    if server == "hang":  # the job's own 4 s wait, not the default wait (communicate's 300 s guards a hang)
        assert "no answer from http://localhost:9/health/ in 4 s" in stderr
    else:  # the real `trl vllm-serve` (no vLLM here) exits at once: said, not waited out
        assert "exited before answering" in stderr
    assert not (workdir / "runs" / "mgt").exists()  # training never started


@pytest.fixture(scope="module")
def rollout_rows(tmp_path_factory) -> Path:
    """600 rows: fre-text's rollout (256 prompts) fits, so writing its script is not refused as `not one rollout
    fits` (train_plan.check_before_training runs for --emit-sbatch too)."""
    return _prepare(tmp_path_factory, "synthetic-arith", "train", 600)


def test_slurm_resources_from_the_readme_command_reach_the_script_not_the_training_command(
    rollout_rows, tmp_path
):
    # README: lmmr1 train-fre --data data/deepscaler -o runs/fre --emit-sbatch 4 8 --time 2-00:00:00 ...
    result = run_lmmr1(
        "train-fre", "--data", rollout_rows, "-o", "runs/fre", "--emit-sbatch", "4", "8",
        "--time", "2-00:00:00", "--partition", "gpu", "--cpus-per-task", "96", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "runs" / "fre.sbatch").read_text()
    for directive in ("--time=2-00:00:00", "--partition=gpu", "--cpus-per-task=96", f"--chdir={tmp_path}"):
        assert f"#SBATCH {directive}\n" in text
    command = text[text.index("-m lmmr1_cli") :]
    assert "--time" not in command and "--partition" not in command and "--cpus-per-task" not in command
    assert (
        f"export VENV_BIN={Path(sys.executable).parent}\n" in text and '"$VENV_BIN/accelerate" launch' in text
    )
    # The run dir must be free when the script is written, too.
    (tmp_path / "runs" / "other").mkdir()
    (tmp_path / "runs" / "other" / "run.json").write_text("{}")
    taken = run_lmmr1(
        "train-fre", "--data", rollout_rows, "-o", "runs/other", "--emit-sbatch", "1", "8", cwd=tmp_path
    )
    assert taken.returncode == 2 and "exists and is not empty, so the job would refuse it" in taken.stderr


# srun for a multi-node step: each node's command starts at once (as on a cluster) and the step fails if one does.
PARALLEL_SRUN = """
ntasks=1
while [ $# -gt 0 ]; do
  case "$1" in --ntasks=*) ntasks="${1#*=}"; shift;; --*) shift;; *) break;; esac
done
pids=()
for ((i = 0; i < ntasks; i++)); do SLURM_NODEID=$i "$@" & pids+=($!); done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
"""


@pytest.mark.slow
def test_a_two_node_job_trains_both_nodes_as_one_run(arith_train, tiny_dir, tmp_path):
    """`--emit-sbatch 2 1 --accelerate-config ddp`: both node commands start on this machine (srun/scontrol shims),
    join one process group on a free port and train one run of world size 2."""
    from lmmr1_cli.launch import free_port

    workdir = tmp_path / "project"
    (workdir / "data").mkdir(parents=True)
    shutil.copytree(arith_train, workdir / "data" / "arith")
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--model", tiny_dir, "--data", "data/arith", "-o", "runs/fre",
        "--accelerate-config", "ddp", "--emit-sbatch", "2", "1", "run.max_steps=2", "batch.micro_batch_size=16",
        cwd=workdir,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    script = workdir / "runs" / "fre.sbatch"
    assert "--num_machines 2 --num_processes 2" in script.read_text()
    env = _cluster_env(tmp_path, LMMR1_MAIN_PROCESS_PORT=str(free_port()))
    (tmp_path / "slurm-bin" / "srun").write_text("#!/bin/bash\n" + PARALLEL_SRUN)
    done = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((workdir / "runs" / "fre" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["engine"]["engine"] == "ddp" and summary["steps"] == 2
