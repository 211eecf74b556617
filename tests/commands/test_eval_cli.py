"""`lmmr1 eval`, run as the installed command."""

from __future__ import annotations

import json

from conftest import run_lmmr1


def test_eval_tiny_writes_summary_and_prints_json(tmp_path, eval_arith):
    out = tmp_path / "results"
    args = [
        "eval",
        "--model",
        "tiny",
        "--benchmark",
        eval_arith,
        "-o",
        out,
        "--limit",
        "3",
        "--max-new-tokens",
        "8",
    ]
    result = run_lmmr1(*args, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["results"]["tiny"]["arith"]["rows"] == 3
    assert json.loads((out / "summary.json").read_text())["results"] == summary["results"]
    # Other settings into the same dir: a one-line refusal, exit 2, before any model is loaded.
    changed = run_lmmr1(*args[:-1], "9")
    assert changed.returncode == 2 and "--force" in changed.stderr
    assert [line for line in changed.stderr.splitlines() if line.strip()] == [changed.stderr.strip()]
    assert changed.stderr.strip().startswith("error: ")


def test_vllm_backend_without_vllm_fails_in_one_line(tmp_path, eval_arith):
    result = run_lmmr1(
        "eval", "-m", "tiny", "-b", eval_arith, "-o", tmp_path, "--backend", "vllm", "--limit", "1"
    )
    assert result.returncode != 0
    assert "vllm" in result.stderr.lower() and "Traceback" not in result.stderr


def test_table_output_and_help(tmp_path, eval_arith):
    result = run_lmmr1(
        "eval", "-m", "tiny", "-b", eval_arith, "-o", tmp_path, "--limit", "2", "--max-new-tokens", "4"
    )
    assert result.returncode == 0, result.stderr
    assert "arith" in result.stdout and "accuracy" in result.stdout and "summary.json" in result.stdout
    result = run_lmmr1("eval", "--help")
    assert result.returncode == 0 and "lmmr1 eval --model tiny" in result.stdout
