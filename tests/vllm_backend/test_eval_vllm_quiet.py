"""`lmmr1 eval --backend vllm` says what `--backend hf` says: vLLM's engine start (about 70 log lines on stdout, one
`set_num_threads` warning per forward pass on CPU) neither buries the table nor breaks `--json` (issue 29 item 10)."""

from __future__ import annotations

import json

from conftest import run_lmmr1
from support import prepare


def test_vllm_eval_json_is_the_whole_stdout_and_stderr_stays_short(tmp_path):
    data = prepare(tmp_path, "synthetic-arith", "test", 4)
    result = run_lmmr1(
        "eval", "--model", "tiny", "--benchmark", data, "--backend", "vllm", "--max-new-tokens", "16",
        "-o", tmp_path / "res", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)  # nothing but the summary on stdout
    assert summary["settings"]["backend"] == "vllm"
    assert "set_num_threads" not in result.stdout + result.stderr
    assert len(result.stderr.splitlines()) <= 12, result.stderr
