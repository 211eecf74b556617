"""launch.py: accelerate commands, shipped accelerate configs, SLURM scripts, and a real 2-process CPU run."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file
from conftest import run_lmmr1

from lmmr1_cli.errors import ConfigError
from lmmr1_cli.launch import (
    LAUNCH_CONFIG_NAMES,
    accelerate_command,
    accelerate_config_path,
    in_launched_process,
    is_main_process,
    process_rank,
    strip_launch_options,
    world_size,
)


@pytest.mark.parametrize("name", LAUNCH_CONFIG_NAMES)
def test_shipped_accelerate_configs_parse_with_accelerate(name):
    config = load_config_from_file(str(accelerate_config_path(name)))
    expected = {"zero2": "DEEPSPEED", "zero3": "DEEPSPEED", "fsdp": "FSDP", "ddp": "MULTI_GPU"}[name]
    assert config.distributed_type.value == expected
    if name.startswith("zero"):
        assert config.deepspeed_config["zero_stage"] == int(name[-1])


def test_unknown_accelerate_config_is_a_config_error():
    with pytest.raises(ConfigError, match="neither a file nor one of"):
        accelerate_config_path("zero9")


def test_launch_options_are_not_passed_to_each_process():
    argv = [
        "train-fre",
        "--data",
        "d",
        "--num-processes",
        "4",
        "--accelerate-config=zero3",
        "--dry-run",
        "-o",
        "r",
    ]
    assert strip_launch_options(argv) == ["train-fre", "--data", "d", "-o", "r"]
    cmd = accelerate_command(argv, 4, None)
    assert cmd[:2] == ["accelerate", "launch"] and "--multi_gpu" in cmd
    assert cmd[cmd.index("--num_processes") + 1] == "4"


def test_rank_environment_of_a_launched_process(monkeypatch):
    for name in ("LOCAL_RANK", "ACCELERATE_PROCESS_ID", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not in_launched_process() and is_main_process() and world_size() == 1
    # What accelerate launch sets on the second of two processes.
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert in_launched_process() and not is_main_process()
    assert (process_rank(), world_size()) == (1, 2)


SHIMS = {
    # Two training nodes and one rollout node.
    "scontrol": 'printf "node-a\\nnode-b\\nnode-c\\n"',
    # Run the command once per task with that task's SLURM_NODEID, like srun on one node each; these nodes'
    # environment ($VENV_BIN) holds the accelerate shim, and the vLLM server only records its arguments.
    "srun": """
ntasks=1; args=()
while [ $# -gt 0 ]; do
  case "$1" in --ntasks=*) ntasks="${1#*=}"; shift;; --*) shift;; *) break;; esac
done
if [ "$(basename "$1")" = trl ]; then shift; printf "%s\\n" "$@" > "$SHIM_LOG/trl"; exit 0; fi
for ((i = 0; i < ntasks; i++)); do SLURM_NODEID=$i VENV_BIN="$SHIM_BIN" "$@"; done
""",
    "accelerate": 'printf "%s\\n" "$@" > "$SHIM_LOG/accelerate.$RANDOM$RANDOM"',
    "trl": 'printf "%s\\n" "$@" > "$SHIM_LOG/trl"',
    "curl": "exit 0",
}


def _shim_path(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in SHIMS.items():
        path = bin_dir / name
        path.write_text("#!/usr/bin/env bash\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return bin_dir


def test_sbatch_script_runs_unchanged_under_slurm_shims(arith_train, tmp_path):
    out = tmp_path / "runs" / "fre"
    result = run_lmmr1(
        "train-fre",
        "--data",
        arith_train,
        "-o",
        out,
        "--emit-sbatch",
        "2",
        "4",
        "--use-vllm",
        "--vllm-mode",
        "server",
        "--accelerate-config",
        "zero3",
        "model.system_prompt=It's a test",
        "batch.prompts_per_rollout=16",  # fre-text's 256 prompts would not fit the 48-row test data (one line)
    )
    assert result.returncode == 0, result.stderr
    script = Path(f"{out}.sbatch")
    text = script.read_text()
    assert "#SBATCH --nodes=3" in text and "#SBATCH --gpus-per-node=4" in text
    assert not out.exists()  # the run dir stays empty for the job itself

    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        **os.environ,
        "PATH": f"{_shim_path(tmp_path)}:{os.environ['PATH']}",
        "SHIM_LOG": str(logs),
        "SHIM_BIN": str(tmp_path / "bin"),
        "SLURM_JOB_NODELIST": "node-[a-c]",
    }
    subprocess.run(["bash", str(script)], check=True, env=env, timeout=60)
    launches = [p.read_text().splitlines() for p in logs.glob("accelerate.*")]
    assert len(launches) == 2  # one accelerate launch per training node
    ranks = sorted(args[args.index("--machine_rank") + 1] for args in launches)
    assert ranks == ["0", "1"]
    for args in launches:
        assert args[0] == "launch"
        assert args[args.index("--main_process_ip") + 1] == "node-a"
        assert args[args.index("--num_processes") + 1] == "8"
        assert args[args.index("--config_file") + 1].endswith("zero3.yaml")
        lmmr1_args = args[args.index("lmmr1_cli") + 1 :]
        assert lmmr1_args[:3] == ["train-fre", "--data", str(arith_train)]
        assert "model.system_prompt=It's a test" in lmmr1_args  # quoting survives the shell
        assert "rollout.vllm_server_host=node-c" in lmmr1_args
        assert "--emit-sbatch" not in lmmr1_args
    deadline = time.monotonic() + 10  # the server step runs in the background
    while not (logs / "trl").is_file() and time.monotonic() < deadline:
        time.sleep(0.05)
    trl_args = (logs / "trl").read_text().splitlines()
    assert trl_args[:3] == ["vllm-serve", "--model", "Qwen/Qwen2.5-VL-3B-Instruct"]


@pytest.mark.slow
def test_two_cpu_processes_train_together(arith_train, tmp_path):
    out = tmp_path / "ddp"
    result = run_lmmr1(
        "train-fre",
        "--recipe",
        "tiny-fre",
        "--data",
        arith_train,
        "-o",
        out,
        "--num-processes",
        "2",
        "--json",
        "run.max_steps=2",
        "batch.micro_batch_size=16",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2  # really two ranks, not one process that ignored the flag
    assert summary["steps"] == 2
    assert (out / "final" / "model.safetensors").is_file()
