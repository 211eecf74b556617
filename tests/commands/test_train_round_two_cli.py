"""`lmmr1 train-fre` on the paths of issue 29, typed as a user types them: numbers in a --config YAML, mistakes that
are known before a model loads (one line, exit 2, the same on every path), a layout that works for a process
count, resume advice after Ctrl-C and for a used run dir, validation that never fires, and the dry-run plan."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import LMMR1, default_sigint, run_lmmr1

SHORT = ["rollout.max_completion_length=12", "run.save_every_rollouts=1"]


def _light(light_env: dict, *args, cwd: Path | None = None):
    """Run with torch, transformers and trl unimportable: an answer that still comes was given before they load."""
    return run_lmmr1(*args, env=light_env, timeout=120, cwd=cwd)


def test_a_config_yaml_takes_numbers_as_people_write_them(arith_train, tmp_path):
    config = tmp_path / "lr.yaml"
    config.write_text("optim: {learning_rate: 3e-4}\nmodel: {max_pixels: 1e6}\n")
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "run", "--config", config,
        "--dry-run", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["config"]
    assert resolved["optim"]["learning_rate"] == 3e-4 and resolved["model"]["max_pixels"] == 1_000_000


def _reward_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_reward.py"
    path.write_text("def length_reward(completions, **kwargs):\n    return [0.0 for _ in completions]\n")
    return path


MISTAKES = {
    # issue 29 item 2: accepted by --dry-run, then a traceback per rank after the model loaded
    "dynamic sampling, 3 prompts on 2 processes": (
        [
            "batch.prompts_per_rollout=3",
            "batch.samples_per_step=24",
            "batch.micro_batch_size=12",
            "rollout.dynamic_sampling=true",
        ],  # fmt: skip
        "batch.prompts_per_rollout = 3 is not a multiple of 2; a layout that works on 2 processes: "
        "batch.prompts_per_rollout=6",
    ),
    "custom reward file missing": (
        ["rewards.custom=[nowhere/reward.py:f]"],
        "reward function file 'nowhere/reward.py' does not exist",
    ),
    "custom reward function misspelt": (
        ["rewards.custom=[{reward}:lenght_reward]"],
        "has no function named 'lenght_reward'; functions defined there: length_reward",
    ),
    "not one rollout fits": (
        ["batch.prompts_per_rollout=64"],
        "the training data has 48 rows, fewer than batch.prompts_per_rollout = 64: not one rollout fits",
    ),
}
PATHS = {
    "plain run": [],
    "two processes": ["--num-processes", "2"],
    "dry run": ["--dry-run"],
    "sbatch": ["--emit-sbatch", "1", "2"],
}


@pytest.mark.parametrize("mistake", MISTAKES)
def test_a_mistake_known_before_launch_is_the_same_one_line_on_every_path(
    mistake, arith_train, tmp_path, light_env
):
    overrides, expected = MISTAKES[mistake]
    reward = _reward_file(tmp_path)
    overrides = [o.replace("{reward}", str(reward)) for o in overrides]
    if mistake.startswith("dynamic"):
        paths = {k: v for k, v in PATHS.items() if k != "plain run"}  # one process holds whole groups
    else:
        paths = PATHS
        overrides.append("batch.micro_batch_size=16")  # so that 2 processes share the optimizer step
    lines = {}
    for name, extra in paths.items():
        out = tmp_path / name.replace(" ", "-")
        result = _light(
            light_env, "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, *overrides, *extra,
            *(["--num-processes", "2"] if mistake.startswith("dynamic") and name == "dry run" else []),
        )  # fmt: skip
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (name, result.stderr)
        assert expected in result.stderr, (name, result.stderr)
        assert not out.exists() and not Path(f"{out}.sbatch").exists()
        lines[name] = result.stderr
    assert len(set(lines.values())) == 1, lines


def test_three_processes_name_a_layout_that_works_and_it_does(arith_train, tmp_path, light_env):
    args = ["train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "run"]
    refused = _light(light_env, *args, "--num-processes", "3")
    assert refused.returncode == 2
    message = refused.stderr
    assert "batch.samples_per_step must be a multiple of processes x batch.micro_batch_size = 96" in message
    assert "32 / 3" not in message
    suggestion = message.split("a layout that works on 3 processes: ", 1)[1].split(" (", 1)[0].split()
    assert suggestion and all(s.startswith("batch.") for s in suggestion)
    planned = run_lmmr1(*args, "--num-processes", "3", *suggestion, "--dry-run", "--json")
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["plan"]["num_processes"] == 3


def test_validation_that_never_fires_is_a_warning_and_the_dry_run_lists_the_points(
    arith_train, eval_arith, tmp_path
):
    args = ["train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "run"]
    never = run_lmmr1(*args, "--eval-data", eval_arith, "run.max_steps=2", "eval.limit=2", *SHORT)
    assert never.returncode == 0, never.stderr
    assert (
        "warning: --eval-data: validation never runs during training: it runs every eval.every_rollouts = 10 "
        "rollouts = 10 steps, and this run has 2 steps (2 rollouts); pass eval.every_rollouts=2"
        in never.stderr
    )
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["validation"]["evaluations"] == 0

    plan = run_lmmr1(*args[:-1], tmp_path / "plan", "--eval-data", eval_arith, "eval.every_rollouts=2",
                     "eval.before_training=true", "run.max_steps=8", "--dry-run")  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert "validation: 1 set every 2 rollouts: 5 points at steps 0, 2, 4, 6, 8" in plan.stdout
    assert "warning" not in plan.stderr


def test_the_dry_run_shows_dynamic_sampling(arith_train, tmp_path):
    args = ["train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "run", "--dry-run"]
    plain, dynamic = run_lmmr1(*args), run_lmmr1(*args, "rollout.dynamic_sampling=true")
    assert plain.returncode == dynamic.returncode == 0
    line = "dynamic sampling: groups whose 8 rewards tie are dropped and up to 3 extra generation rounds"
    assert line in dynamic.stdout and "dynamic sampling" not in plain.stdout


@pytest.fixture(scope="module")
def interrupted(arith_train, tmp_path_factory):
    """A run with validation every rollout, stopped by Ctrl-C (SIGINT) once checkpoint-3 of 6 is written."""
    root = tmp_path_factory.mktemp("interrupted")
    (root / "held").symlink_to(arith_train)
    args = [
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", "runs/fre", "--eval-data", "held",
        "eval.every_rollouts=1", "eval.limit=2", "run.max_steps=6", *SHORT,
    ]  # fmt: skip
    proc = subprocess.Popen(
        [LMMR1, *map(str, args)], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ, preexec_fn=default_sigint,  # Ctrl-C reaches it even when the suite runs in the background
    )  # fmt: skip
    marker = root / "runs" / "fre" / "checkpoints" / "checkpoint-3" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not marker.is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "no checkpoint-3"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    return root, args, proc.returncode, stderr


def test_ctrl_c_names_the_newest_checkpoint_and_the_command_that_continues(interrupted):
    root, args, code, stderr = interrupted
    assert code == 130
    line = next(x for x in stderr.splitlines() if x.startswith("stopped;"))
    assert "the newest checkpoint is runs/fre/checkpoints/checkpoint-" in line
    command = line.split("continue with: ", 1)[1]
    assert command.startswith("lmmr1 train-fre ") and command.endswith(" --resume")


def test_rerunning_an_interrupted_command_offers_resume_before_force(interrupted):
    root, args, _, _ = interrupted
    again = run_lmmr1(*args, cwd=root)
    assert again.returncode == 2
    message = again.stderr
    assert message.startswith("error: runs/fre: holds an unfinished run (last checkpoint checkpoint-")
    assert message.index("--resume") < message.index("--force")


def test_the_advised_resume_says_where_it_resumes_and_counts_every_validation_point(interrupted):
    root, args, _, stderr = interrupted
    command = next(x for x in stderr.splitlines() if x.startswith("stopped;")).split("continue with: ", 1)[1]
    checkpoint = sorted((root / "runs/fre/checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name[11:]))[
        -1
    ]
    step = int(checkpoint.name.split("-")[1])
    resumed = subprocess.run(command, shell=True, cwd=root, capture_output=True, text=True, timeout=600,
                             env={**os.environ, "PATH": f"{Path(LMMR1).parent}:{os.environ['PATH']}"})  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from runs/fre/checkpoints/checkpoint-{step} (step {step})" in resumed.stdout
    summary = json.loads((root / "runs/fre/summary.json").read_text())
    assert summary["steps"] == 6 and summary["validation"]["evaluations"] == 6  # steps 1..6, before and after


def test_a_resume_with_a_changed_value_names_the_option_train_fre_has(interrupted, light_env):
    root, args, _, _ = interrupted
    refused = _light(light_env, *args, "--resume", "optim.learning_rate=0.5", cwd=root)
    assert refused.returncode == 2
    assert "start a new run from this one (-o NEW --model runs/fre)" in refused.stderr


def test_resume_after_a_kill_before_the_first_checkpoint_names_the_fix(arith_train, tmp_path):
    args = ["train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "run", *SHORT]
    proc = subprocess.Popen([LMMR1, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (tmp_path / "run" / "run.json").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "no run.json"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "run" / "checkpoints").exists() or not any(
        (tmp_path / "run" / "checkpoints").iterdir()
    )
    resume = run_lmmr1(*args, "--resume")
    assert resume.returncode == 2
    assert (
        "the run stopped before its first checkpoint, so nothing can be resumed); start it over with --force"
        in (resume.stderr)
    )
    again = run_lmmr1(*args)
    assert (
        again.returncode == 2
        and "holds a run that stopped before its first checkpoint (nothing to resume)" in (again.stderr)
    )
