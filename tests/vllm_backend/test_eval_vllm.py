"""`lmmr1 eval --backend vllm` on the tiny Qwen2.5-VL with pictures, and a tiny judge through vLLM.

vLLM on CPU computes in bfloat16 (it downcasts the float32 model), transformers in float32, so a few greedy answers
may differ; at least 90% of rows must give the same extracted answer (measured: 63 of 64).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_lmmr1
from support import prepare

MIN_AGREEMENT = 0.9


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("data"), "synthetic-largest-picture", "test", 64)


def _eval(pictures: Path, out: Path, *extra: str) -> dict[str, dict]:
    result = run_lmmr1(
        "eval", "--model", "tiny", "--benchmark", pictures, "--max-new-tokens", "32", "-o", out, *extra
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "eval (greedy)" in result.stdout and "tiny" in result.stdout  # the human table
    return _samples(out)


def _samples(out: Path) -> dict[str, dict]:
    (samples,) = out.glob("tiny/**/*samples*.jsonl")
    return {row["id"]: row for row in map(json.loads, samples.read_text().splitlines())}


def test_readme_vllm_eval_of_pictures_gives_the_hf_answers(tmp_path):
    # README, "eval": the two commands as a user types them, then the same rows through --backend hf.
    lmmr1 = Path(sys.executable).with_name("lmmr1")
    for command in (
        f"{lmmr1} prepare-data synthetic-largest-picture --split test --limit 64 -o data/pictures-test",
        f"{lmmr1} eval --model tiny --benchmark data/pictures-test --backend vllm --max-new-tokens 32 -o results/vllm",
    ):
        result = subprocess.run(
            shlex.split(command), cwd=tmp_path, capture_output=True, text=True, timeout=900, env=os.environ
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert "eval (greedy)" in result.stdout and "tiny" in result.stdout  # the human table
    vllm = _samples(tmp_path / "results" / "vllm")
    hf = _eval(tmp_path / "data" / "pictures-test", tmp_path / "hf", "--backend", "hf")
    assert hf.keys() == vllm.keys() and len(hf) == 64
    same = sum(hf[i]["extracted"] == vllm[i]["extracted"] for i in hf)
    assert same / len(hf) >= MIN_AGREEMENT, (same, len(hf))
    assert len({row["extracted"] for row in vllm.values()}) > 1  # the answers depend on the picture


def test_a_tiny_judge_runs_through_vllm(pictures, tmp_path):
    out = tmp_path / "judged"
    result = run_lmmr1(
        "eval", "--model", "tiny", "--benchmark", pictures, "--limit", "8", "--max-new-tokens", "32",
        "--backend", "vllm", "--judge", "tiny", "--judge-backend", "vllm", "-o", out, "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert "judge" in json.dumps(summary)
    (samples,) = out.glob("tiny/**/*samples*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(rows) == 8
