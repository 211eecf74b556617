"""Model references as users mistype them (`lmmr1_cli/modeling.py`): a path-like reference that does not exist fails
in about a second naming the path; an HF id is looked up on the hub with a short, bounded retry, and when the hub
cannot be reached the one error line says so (measured: ~145 s and 68 lines of retries before)."""

from __future__ import annotations

import time

import pytest
from conftest import run_lmmr1

SECONDS = (
    2.5  # as tests/commands/test_usage_errors_fast.py: ~0.5-1 s idle, generous for a loaded 2-core machine
)


def _timed(*args, cwd, env=None):
    started = time.monotonic()
    result = run_lmmr1(*args, cwd=cwd, env=env, timeout=120)
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "command",
    [
        ["train-mgt", "--recipe", "tiny-mgt", "--init", "runs/fer", "--data", "DATA", "-o", "runs/mgt"],
        ["eval", "--model", "runs/nope", "--benchmark", "DATA", "-o", "results"],
    ],
)
def test_a_mistyped_run_dir_beside_real_runs_fails_at_once_naming_it(command, arith_train, tmp_path):
    (tmp_path / "runs" / "fre").mkdir(parents=True)
    args = [str(arith_train) if a == "DATA" else a for a in command]
    result, seconds = _timed(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: runs/") and result.stderr.count("\n") == 1, result.stderr
    assert "no such directory" in result.stderr
    assert seconds < SECONDS, f"{seconds:.2f} s"


def test_an_hf_id_with_the_hub_unreachable_fails_within_seconds_saying_offline(arith_train, tmp_path):
    # Port 9 (discard) on localhost refuses connections: a hub that cannot be reached, with or without network.
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf")}
    args = ["eval", "--model", "some-org/some-model", "--benchmark", arith_train, "-o", "results"]
    result, seconds = _timed(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Retrying" not in result.stderr, result.stderr
    assert "'some-org/some-model'" in result.stderr and "unreachable (offline?)" in result.stderr
    assert seconds < 10, f"{seconds:.2f} s"  # 3 tries, 0.5 s + 1 s apart


def test_an_hf_id_not_in_the_cache_while_offline_says_so(arith_train, tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    args = ["train-mgt", "--recipe", "tiny-mgt", "--init", "some-org/some-model", "--data", arith_train]
    result, seconds = _timed(*args, "-o", "runs/mgt", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stderr
    assert "HF_HUB_OFFLINE=1" in result.stderr and "'some-org/some-model'" in result.stderr
    assert seconds < SECONDS, f"{seconds:.2f} s"
