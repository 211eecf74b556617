"""The command lines a cluster job runs: `accelerate launch` around `python -m lmmr1_cli train-*`, the relaunch of
this very command on N processes, the SLURM script, and the rank environment the launched processes read.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from importlib import resources
from pathlib import Path

from lmmr1_cli.errors import ConfigError, Lmmr1Error

LAUNCH_CONFIG_NAMES = ("zero2", "zero3", "fsdp", "ddp")
# Options that only shape the launch itself; the per-process command must not see them again.
LAUNCH_ONLY_OPTIONS = {
    "--num-processes": 1,
    "--accelerate-config": 1,
    "--dry-run": 0,
    "--emit-sbatch": 2,
    "--time": 1,
    "--partition": 1,
    "--cpus-per-task": 1,
}
MAIN_PROCESS_PORT = 29500
EXIT_CODE_ENV = "LMMR1_EXIT_CODE_FILE"  # where a relaunched process leaves its exit code


# The rank environment accelerate/torchrun give each process; read here and nowhere else.
def in_launched_process() -> bool:
    """True inside a process started by `accelerate launch` / torchrun (so it must not launch again)."""
    return "LOCAL_RANK" in os.environ or "ACCELERATE_PROCESS_ID" in os.environ


def end_with_the_launcher() -> None:
    """Make this launched rank end when its launcher does (Linux; elsewhere nothing changes).

    torch's elastic agent, behind `accelerate launch` and torchrun, starts each rank in a session of its own, so
    a SIGKILL of the launch's process group (`kill -9 -- -PGID`, a killed job step) left the ranks running: they
    went on training and wrote final/ into a run that a `--resume` was continuing at the same time (seen in
    tests/test_engines.py). Linux's parent-death signal kills the rank with its launcher instead."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    # Armed at the rank's start, before any model loads. (No "parent already gone" check by pid: in a container
    # the launcher itself may be pid 1.)
    pr_set_pdeathsig = 1  # <linux/prctl.h>
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)


def process_rank() -> int:
    """Global rank of this process (0 when not launched)."""
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    """Rank 0: the process that owns the run dir and prints."""
    return process_rank() == 0


def world_size() -> int:
    """Processes in the job (1 when not launched)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def accelerate_config_path(name_or_path: str) -> Path:
    """A shipped accelerate config (zero2, zero3, fsdp, ddp) or a user's YAML file."""
    if name_or_path in LAUNCH_CONFIG_NAMES:
        return Path(str(resources.files("lmmr1_cli") / "launch_configs" / f"{name_or_path}.yaml"))
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(
            f"--accelerate-config: '{name_or_path}' is neither a file nor one of {', '.join(LAUNCH_CONFIG_NAMES)}"
        )
    return path


def strip_launch_options(argv: list[str]) -> list[str]:
    out, skip = [], 0
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in LAUNCH_ONLY_OPTIONS:
            skip = LAUNCH_ONLY_OPTIONS[name] if "=" not in arg else 0
            continue
        out.append(arg)
    return out


def accelerate_command(
    subcommand_argv: list[str], num_processes: int, accelerate_config: str | None
) -> list[str]:
    """`accelerate launch ... -m lmmr1_cli <subcommand> ...` as an argv list.

    On CPU, `--multi_gpu` with gloo is what really starts several processes (`--cpu --num_processes 2`
    silently runs one; measured in shared/DESIGN.md).
    """
    cmd = ["accelerate", "launch"]
    if accelerate_config:
        cmd += ["--config_file", str(accelerate_config_path(accelerate_config))]
    if num_processes > 1:
        cmd += ["--multi_gpu"] if not accelerate_config else []
        cmd += ["--num_processes", str(num_processes)]
    else:
        cmd += ["--num_processes", "1"]
    if not accelerate_config:
        # Precision comes from the recipe (TrainingArguments bf16); saying so here silences accelerate's warning.
        cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    cmd += ["-m", "lmmr1_cli", *strip_launch_options(subcommand_argv)]
    return cmd


def render(cmd: list[str]) -> str:
    """An argv list as one shell-quoted line a user can paste."""
    return " ".join(shlex.quote(part) for part in cmd)


def relaunch(launch_cmd: list[str]) -> int:
    """Run `launch_cmd` (from `accelerate_command`) and return its exit code; it re-runs this command on every
    process. The venv's own `accelerate` is used even when the venv is not activated. A process that failed with
    an lmmr1 error makes this raise that error (its message and exit code) here."""
    local = Path(sys.executable).with_name("accelerate")
    runnable = [str(local), *launch_cmd[1:]] if local.is_file() else launch_cmd
    import tempfile

    # accelerate exits 1 whatever its processes exited with, after a traceback of its own; they leave lmmr1's error
    # here (cli.py), raised again below, so a failed vLLM rollout check ends with its one line and exits 3 on N
    # processes as on one.
    with tempfile.TemporaryDirectory(prefix="lmmr1-exit-") as tmp:
        record = Path(tmp) / "exit_code"
        code = subprocess.run(
            with_free_port(runnable), check=False, env={**os.environ, EXIT_CODE_ENV: str(record)}
        ).returncode
        if code != 0 and record.is_file():
            recorded, _, message = record.read_text(encoding="utf-8").partition("\n")
            error = Lmmr1Error(message)
            error.exit_code = int(recorded)
            raise error
    return code


def with_free_port(launch_cmd: list[str]) -> list[str]:
    """A one-machine launch on a port nobody holds: the default 29500 may belong to another run on this machine
    (two runs started at once collided there), and the ranks would then join the wrong job or fail to bind."""
    if any(arg.split("=", 1)[0] == "--main_process_port" for arg in launch_cmd):
        return launch_cmd
    at = launch_cmd.index("launch") + 1
    return [*launch_cmd[:at], "--main_process_port", str(free_port()), *launch_cmd[at:]]


def free_port() -> int:
    """A TCP port free on this machine now (the OS picks it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def record_exit_code(code: int, message: str) -> None:
    """In a process `relaunch` started: leave lmmr1's error for it (the first process to fail wins)."""
    path = os.environ.get(EXIT_CODE_ENV)
    if not path:
        return
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(f"{code}\n{message}")
    except OSError:
        pass  # another process wrote first, or the launcher is gone


SBATCH_TEMPLATE = """#!/bin/bash
# Written by `lmmr1 {stage_cmd} --emit-sbatch {nodes} {gpus}`: submit unchanged with `sbatch {script_name}`.
# {nodes} training node(s) x {gpus} GPU(s){rollout_note}. A requeued job (preemption, node failure,
# `scontrol requeue`) resumes from the run's newest checkpoint; a finished run is left as it is.
#SBATCH --job-name=lmmr1-{stage}
#SBATCH --nodes={total_nodes}
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node={gpus}{cpus_note}
#SBATCH --cpus-per-task={cpus}
#SBATCH --exclusive
#SBATCH --chdir={chdir}
#SBATCH --output={log_pattern}
#SBATCH --open-mode=append
#SBATCH --requeue{extra_directives}
set -euo pipefail
cd {chdir}  # the command's relative paths are relative to where it was written (as --chdir; also for bash)

# The environment that wrote this script, by absolute path: nothing needs activating on the nodes.
export VENV_BIN={venv_bin}
export PATH="$VENV_BIN:$PATH"
# srun steps do not inherit --cpus-per-task from sbatch (Slurm >= 22.05); without it all ranks share one CPU.
export SRUN_CPUS_PER_TASK="${{SLURM_CPUS_PER_TASK:-1}}"
RUN_DIR={run_dir}
{resume_block}
mapfile -t nodes < <(scontrol show hostnames "$SLURM_JOB_NODELIST")
head_node="${{nodes[0]}}"
train_nodes=$(IFS=,; echo "${{nodes[*]:0:{nodes}}}")
{rollout_block}
export LMMR1_HEAD_NODE="$head_node"
# bash -c runs on every training node so that $SLURM_NODEID is that node's rank; the lmmr1 arguments are
# passed as positional parameters, quoted once, here.
srun --nodes={nodes} --ntasks={nodes} --nodelist="$train_nodes" bash -c 'exec "$VENV_BIN/accelerate" launch \\
    --config_file {config_file} \\
    --num_machines {nodes} --num_processes {world} \\
    --machine_rank "$SLURM_NODEID" \\
    --main_process_ip "$LMMR1_HEAD_NODE" --main_process_port "${{LMMR1_MAIN_PROCESS_PORT:-{port}}}" \\
    -m lmmr1_cli "$@"' lmmr1 \\
  {train_args} ${{resume[@]+"${{resume[@]}}"}}{server_arg}
"""

# -o must be free when the job first starts; a requeued start continues what the first one began.
RESUME_BLOCK = """resume=()
if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then
  if compgen -G "$RUN_DIR/checkpoints/checkpoint-*/trainer_state.json" >/dev/null; then
    resume=(--resume)
  elif [ -e "$RUN_DIR" ]; then
    resume=(--force)  # requeued before its first checkpoint: the partial run dir is this job's own
  fi
elif [ -n "$(ls -A "$RUN_DIR" 2>/dev/null)" ]; then
  echo "error: $RUN_DIR exists and is not empty; choose another -o (or emit the script with --resume)" >&2
  exit 2
fi
"""
# The command line already has --resume: every start (first or requeued) continues the run.
RESUME_ALWAYS = "resume=()  # --resume is in the command line: every start continues the run\n"

ROLLOUT_BLOCK = """
# Rollout node: vLLM server mode (`trl vllm-serve`); the trainers send it weights and prompts.
rollout_node="${{nodes[{nodes}]}}"
srun --nodes=1 --ntasks=1 --nodelist="$rollout_node" \\
  "$VENV_BIN/trl" vllm-serve --model {model} --tensor-parallel-size {gpus} --host 0.0.0.0 --port {vllm_port} &
server_pid=$!
# Training starts once the server answers; a server that died or never answers ends the job with one line.
wait_limit="${{LMMR1_VLLM_WAIT_SECONDS:-{wait_seconds}}}"
waited=0
until curl -sf --max-time 5 "http://$rollout_node:{vllm_port}/health/" >/dev/null; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "error: the vLLM server on $rollout_node exited before answering (its output is above)" >&2
    exit 1
  fi
  if [ "$waited" -ge "$wait_limit" ]; then
    echo "error: no answer from http://$rollout_node:{vllm_port}/health/ in ${{wait_limit}} s" \\
      "(LMMR1_VLLM_WAIT_SECONDS raises the limit)" >&2
    kill "$server_pid" 2>/dev/null || true
    exit 1
  fi
  sleep 2
  waited=$((waited + 2))
done
"""
VLLM_WAIT_SECONDS = 1800  # a 72B model's weights can take many minutes to load from a network filesystem
CPUS_PER_GPU = 8  # the --cpus-per-task default: data loading, reward workers and the launcher per GPU


def sbatch_script(
    stage: str,
    subcommand_argv: list[str],
    nodes: int,
    gpus_per_node: int,
    accelerate_config: str | None,
    script_name: str,
    run_dir: str,
    chdir: str,
    vllm_server: bool = False,
    vllm_model: str = "",
    vllm_port: int = 8000,
    time_limit: str | None = None,
    partition: str | None = None,
    cpus_per_task: int | None = None,
) -> str:
    """A SLURM batch script: `nodes` training nodes under accelerate, plus one vLLM rollout node when asked.

    Paths are absolute (`run_dir`, `chdir`, the venv of this interpreter), so the script runs unchanged from any
    directory, on nodes where nothing is activated. `vllm_model` is what the server loads (a model dir or HF id).
    """
    if nodes < 1 or gpus_per_node < 1:
        raise ConfigError(
            f"--emit-sbatch: need N_NODES >= 1 and GPUS_PER_NODE >= 1, got {nodes} {gpus_per_node}"
        )
    # Multi-node runs need a real accelerate config: ZeRO-2 where DeepSpeed is installed, else FSDP2 (engines.py).
    from lmmr1_cli.engines import default_cluster_engine

    config_file = accelerate_config_path(accelerate_config or default_cluster_engine()).resolve()
    argv = strip_launch_options(subcommand_argv)
    train_args = " ".join(shlex.quote(a) for a in argv)
    rollout = ROLLOUT_BLOCK.format(
        nodes=nodes,
        model=shlex.quote(vllm_model),
        gpus=gpus_per_node,
        vllm_port=vllm_port,
        wait_seconds=VLLM_WAIT_SECONDS,
    )
    directives = [f"--time={time_limit}"] if time_limit else []
    directives += [f"--partition={partition}"] if partition else []
    return SBATCH_TEMPLATE.format(
        stage_cmd=f"train-{stage}",
        stage=stage,
        nodes=nodes,
        gpus=gpus_per_node,
        cpus=cpus_per_task or CPUS_PER_GPU * gpus_per_node,
        cpus_note=""
        if cpus_per_task
        else f"\n# {CPUS_PER_GPU} CPUs per GPU (`--cpus-per-task N` changes it):",
        script_name=script_name,
        rollout_note=" + 1 vLLM rollout node" if vllm_server else "",
        total_nodes=nodes + (1 if vllm_server else 0),
        chdir=shlex.quote(chdir),
        log_pattern=f"{script_name}.%j.log",
        extra_directives="".join(f"\n#SBATCH {d}" for d in directives),
        venv_bin=shlex.quote(str(Path(sys.executable).parent)),
        run_dir=shlex.quote(run_dir),
        resume_block=RESUME_ALWAYS if "--resume" in argv else RESUME_BLOCK,
        rollout_block=rollout if vllm_server else "",
        config_file=shlex.quote(str(config_file)),
        world=nodes * gpus_per_node,
        port=MAIN_PROCESS_PORT,
        train_args=train_args,
        server_arg=' rollout.vllm_server_host="$rollout_node"' if vllm_server else "",
    )
