"""`lmmr1 eval --protocol paper`, `--judge` and the Sokoban stand-in, run as the installed command on benchmarks
prepared from local copies in each source's real schema."""

from __future__ import annotations

import json

import pytest
from benchmark_sources import MATHVERSE_VERSIONS, mathverse
from conftest import run_lmmr1
from evaluation.chat_stub import ChatStub

from lmmr1_cli.prompts import R1_SYSTEM_PROMPT


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def mathverse_dir(tmp_path_factory):
    """`lmmr1 prepare-data mathverse-testmini --source COPY --max-pixels 1048576 --max-prompt-tokens 0 -o DIR`."""
    root = tmp_path_factory.mktemp("mv")
    out = root / "mathverse-local"
    result = run_lmmr1(
        "prepare-data", "mathverse-testmini", "--source", mathverse(root),
        "--max-pixels", "1048576", "--max-prompt-tokens", "0", "-o", out,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_paper_protocol_on_a_local_mathverse_copy_reports_versions_and_the_papers_numbers(
    tmp_path, mathverse_dir
):
    out = tmp_path / "paper"
    args = ["eval", "--protocol", "paper", "--model", "tiny", "--benchmark", mathverse_dir, "-o", out]
    result = run_lmmr1(*args, "--max-new-tokens", "8")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "protocol paper" in text and "paper base" in text and "34.6%" in text  # Table 1, base model
    for version in MATHVERSE_VERSIONS:
        assert f"problem_version: {version}" in text
    assert "add --judge" in text  # the paper scored MathVerse with an LLM judge
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"] == "paper"
    bench = summary["benchmarks"][0]
    assert bench["identity"] == "mathverse-testmini" and bench["overrides"] == ["max_new_tokens"]
    assert (bench["protocol"]["template"], bench["protocol"]["max_pixels"]) == ("plain", 1024 * 1024)
    result_ = summary["results"]["tiny"]["mathverse-local"]
    assert result_["settings"]["system_prompt"] is None  # the base model is evaluated without the R1 prompt
    assert set(result_["breakdown"]["problem_version"]) == set(MATHVERSE_VERSIONS)
    assert result_["paper"]["baseline"] == 34.64 and result_["paper"]["table"] == "table1"
    assert (
        sum(cell["rows"] for cell in result_["breakdown"]["problem_version"].values()) == result_["rows"] == 6
    )
    comparison = (out / "comparison.md").read_text()
    assert "| paper base |" in comparison and "per problem_version" in comparison


def test_trained_model_gets_the_r1_prompt_under_the_paper_protocol(tmp_path, mathverse_dir, trained_run):
    out = tmp_path / "trained"
    result = run_lmmr1(
        "eval", "--protocol", "paper", "-m", "tiny", "-m", trained_run, "-b", mathverse_dir, "-o", out,
        "--max-new-tokens", "4", "--limit", "2", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    trained = [m for m in summary["models"] if m["trained"]]
    assert len(trained) == 1 and trained[0]["recipe"] == "tiny-fre"
    label = trained[0]["label"]
    assert summary["results"][label]["mathverse-local"]["settings"]["system_prompt"] == R1_SYSTEM_PROMPT
    assert summary["results"]["tiny"]["mathverse-local"]["settings"]["system_prompt"] is None
    report = run_lmmr1("report", trained_run, "--eval", out, "-o", tmp_path / "report")
    assert report.returncode == 0, report.stderr
    assert "eval vs the paper" in report.stdout and "34.6" in report.stdout


def test_judge_over_an_openai_compatible_endpoint_keeps_both_verdicts(tmp_path, mathverse_dir):
    out = tmp_path / "judged"
    with ChatStub() as stub:
        result = run_lmmr1(
            "eval", "--model", "tiny", "--benchmark", mathverse_dir, "-o", out, "--max-new-tokens", "8",
            "--limit", "3", "--judge", "qwen2.5-14b", "--judge-backend", "openai", "--judge-url", stub.url,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "judge" in result.stdout and "agree" in result.stdout
    samples = _lines(out / "tiny" / "mathverse-local" / "samples.jsonl")
    assert len(samples) == 3 == len(stub.requests)
    for sample in samples:
        assert {"correct", "judge_extracted", "judge_correct", "judge_reason", "judge_reply"} <= set(sample)
    r = json.loads((out / "summary.json").read_text())["results"]["tiny"]["mathverse-local"]
    assert 0 <= r["judge_accuracy"] <= 1 and 0 <= r["judge_agreement"] <= 1
    agree = sum(s["judge_correct"] == s["correct"] for s in samples) / len(samples)
    assert r["judge_agreement"] == agree
    assert stub.requests[0]["model"] == "qwen2.5-14b"
    assert "Final answer:" in stub.requests[0]["messages"][0]["content"]


def test_tiny_model_as_an_in_process_hf_judge(tmp_path, eval_arith):
    out = tmp_path / "hfjudge"
    result = run_lmmr1(
        "eval", "-m", "tiny", "-b", eval_arith, "-o", out, "--limit", "2", "--max-new-tokens", "6",
        "--judge", "tiny", "--judge-backend", "hf", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)["results"]["tiny"]["arith"]
    assert "judge_accuracy" in r and "judge_agreement" in r
    assert all("judge_reply" in s for s in _lines(out / "tiny" / "arith" / "samples.jsonl"))


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--judge-url", "http://127.0.0.1:9/v1"], "--judge-url needs --judge"),
        (["--judge", "m", "--judge-backend", "openai"], "needs --judge-url"),
        (["--protocol", "paper"], "no paper protocol"),
        (["--protocol", "papr"], "--protocol 'papr' unknown"),
    ],
)
def test_bad_protocol_and_judge_options_are_one_error_line(tmp_path, eval_arith, extra, message):
    result = run_lmmr1("eval", "-m", "tiny", "-b", eval_arith, "-o", tmp_path / "o", *extra)
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.strip().startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_sokoban_stand_in_reports_solved_rate_and_gym_sokoban_return(tmp_path):
    data = tmp_path / "data" / "sokoban-eval"
    prepared = run_lmmr1("prepare-data", "sokoban-eval", "--limit", "3", "-o", data)
    assert prepared.returncode == 0, prepared.stderr
    out = tmp_path / "sokoban"
    result = run_lmmr1("eval", "--model", "tiny", "--benchmark", data, "--max-new-tokens", "16", "-o", out)
    assert result.returncode == 0, result.stderr
    assert "mean gym-sokoban return" in result.stdout and "stand-in" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    r = summary["results"]["tiny"]["sokoban-eval"]
    assert r["solved_rate"] == r["accuracy"] and "mean_return" in r
    assert summary["benchmarks"][0]["protocol"]["system_prompt_rule"] == "sokoban"
    samples = _lines(out / "tiny" / "sokoban-eval" / "samples.jsonl")
    assert all({"sokoban_return", "sokoban_solved", "sokoban_moves"} <= set(s) for s in samples)
