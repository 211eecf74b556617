"""Model references as users mistype them (`lmmr1_cli/modeling.py`): a path-like reference that does not exist fails
at once naming the path (before torch, transformers or trl load: conftest's `light_env`); an HF id is looked up on the hub with a short, bounded retry, and when the hub
cannot be reached the one error line says so (measured: ~145 s and 68 lines of retries before)."""

from __future__ import annotations

import pytest
from conftest import run_lmmr1


@pytest.mark.parametrize(
    "command",
    [
        ["train-mgt", "--recipe", "tiny-mgt", "--init", "runs/fer", "--data", "DATA", "-o", "runs/mgt"],
        ["eval", "--model", "runs/nope", "--benchmark", "DATA", "-o", "results"],
    ],
)
def test_a_mistyped_run_dir_beside_real_runs_fails_at_once_naming_it(
    command, arith_train, tmp_path, light_env
):
    (tmp_path / "runs" / "fre").mkdir(parents=True)
    args = [str(arith_train) if a == "DATA" else a for a in command]
    result = run_lmmr1(*args, cwd=tmp_path, env=light_env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: runs/") and result.stderr.count("\n") == 1, result.stderr
    assert "no such directory" in result.stderr


def test_an_hf_id_with_the_hub_unreachable_fails_within_seconds_saying_offline(arith_train, tmp_path):
    # Port 9 (discard) on localhost refuses connections: a hub that cannot be reached, with or without network.
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf")}
    args = ["eval", "--model", "some-org/some-model", "--benchmark", arith_train, "-o", "results"]
    # The timeout guards the old behaviour (~145 s of retries) with a wide margin; the bounded retry is 3 tries.
    result = run_lmmr1(*args, cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Retrying" not in result.stderr, result.stderr
    assert "'some-org/some-model'" in result.stderr and "unreachable (offline?)" in result.stderr


def test_an_hf_id_not_in_the_cache_while_offline_says_so(arith_train, tmp_path, light_env):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), **light_env}
    args = ["train-mgt", "--recipe", "tiny-mgt", "--init", "some-org/some-model", "--data", arith_train]
    result = run_lmmr1(*args, "-o", "runs/mgt", cwd=tmp_path, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "HF_HUB_OFFLINE=1" in result.stderr and "'some-org/some-model'" in result.stderr
