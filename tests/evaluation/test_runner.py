"""`evaluate` end to end on the real tiny model: outputs, scoring, resume, comparison."""

from __future__ import annotations

import json

import pytest

from lmmr1_cli.errors import ConfigError, OutputExistsError
from lmmr1_cli.evaluation import EvalSettings, evaluate, model_label
from lmmr1_cli.verify import check_format, verify


@pytest.fixture(scope="module")
def two_benchmarks(tmp_path_factory, eval_arith, eval_geo):
    out = tmp_path_factory.mktemp("eval") / "results"
    summary = evaluate(
        ["tiny"], [str(eval_arith), str(eval_geo)], out, EvalSettings(max_new_tokens=24, limit=6)
    )
    return out, summary


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_sample_is_written_with_its_verdict_and_rescoring_agrees(two_benchmarks, eval_geo):
    out, _ = two_benchmarks
    records = _lines(out / "tiny" / "geo" / "samples.jsonl")
    assert len(records) == 6 and len({r["id"] for r in records}) == 6
    for rec in records:
        assert set(rec) >= {"id", "completion", "extracted", "correct", "reason", "tokens", "format"}
        verdict = verify(rec["completion"], rec["answer"], rec["answer_type"])
        assert (verdict.correct, verdict.extracted, verdict.reason) == (
            rec["correct"],
            rec["extracted"],
            rec["reason"],
        )
        assert rec["format"] == check_format(rec["completion"])
        assert 0 < rec["tokens"] <= 24


def test_summary_has_per_benchmark_and_pooled_overall_results(two_benchmarks):
    out, summary = two_benchmarks
    assert json.loads((out / "summary.json").read_text())["results"] == summary["results"]
    results = summary["results"]["tiny"]
    assert set(results) == {"arith", "geo", "overall"}
    for name in ("arith", "geo"):
        records = _lines(out / "tiny" / name / "samples.jsonl")
        r = results[name]
        assert r["rows"] == 6 and r["correct"] == sum(x["correct"] for x in records)
        assert r["format_rate"] == pytest.approx(sum(x["format"] for x in records) / 6)
        assert r["ci95"][0] <= r["accuracy"] <= r["ci95"][1]
    overall = results["overall"]
    assert (
        overall["rows"] == 12
        and overall["correct"] == results["arith"]["correct"] + results["geo"]["correct"]
    )
    assert "| overall |" in (out / "comparison.md").read_text()


def test_an_interrupted_eval_resumes_without_redoing_finished_samples(tmp_path, eval_arith):
    settings = EvalSettings(max_new_tokens=12, batch_size=2, limit=6)
    done_counts = []

    def stop_after_first_batch(event):
        if event["event"] == "progress":
            done_counts.append(event["done"])
            if event["done"] == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate(["tiny"], [str(eval_arith)], tmp_path, settings, progress=stop_after_first_batch)
    samples = tmp_path / "tiny" / "arith" / "samples.jsonl"
    assert len(_lines(samples)) == 2
    events = []
    summary = evaluate(["tiny"], [str(eval_arith)], tmp_path, settings, progress=events.append)
    result = summary["results"]["tiny"]["arith"]
    assert result["resumed_rows"] == 2 and result["rows"] == 6
    assert [e["done"] for e in events if e["event"] == "progress"] == [2, 4, 6]
    ids = [r["id"] for r in _lines(samples)]
    assert len(ids) == 6 and len(set(ids)) == 6


def test_rerun_with_other_settings_is_refused(tmp_path, eval_arith):
    evaluate(["tiny"], [str(eval_arith)], tmp_path, EvalSettings(max_new_tokens=8, limit=2))
    with pytest.raises(OutputExistsError, match="max_new_tokens"):
        evaluate(["tiny"], [str(eval_arith)], tmp_path, EvalSettings(max_new_tokens=9, limit=2))


def test_two_models_give_a_comparison_with_deltas_against_the_first(tmp_path, eval_arith, trained_run):
    summary = evaluate(
        ["tiny", str(trained_run)], [str(eval_arith)], tmp_path, EvalSettings(max_new_tokens=16, limit=4)
    )
    assert [m["label"] for m in summary["models"]] == ["tiny", "fre"]
    assert summary["models"][1]["resolved"] == str(trained_run / "final")
    base = summary["results"]["tiny"]["arith"]["accuracy"]
    other = summary["results"]["fre"]["arith"]["accuracy"]
    table = (tmp_path / "comparison.md").read_text()
    assert "| benchmark | tiny | fre |" in table
    assert f"| arith | {100 * base:.1f} | {100 * other:.1f} ({100 * (other - base):+.1f}) |" in table


def test_pass_at_k_with_sampling(tmp_path, eval_arith):
    settings = EvalSettings(max_new_tokens=12, samples=3, temperature=1.0, limit=3)
    result = evaluate(["tiny"], [str(eval_arith)], tmp_path, settings)["results"]["tiny"]["arith"]
    assert result["generations"] == 9 and result["samples"] == 3
    assert result["pass@3"] >= result["mean@3"] == result["accuracy"]
    with pytest.raises(ConfigError, match="temperature"):
        evaluate(["tiny"], [str(eval_arith)], tmp_path / "b", EvalSettings(samples=2))


def test_model_labels_name_runs_checkpoints_and_hub_ids(trained_run):
    assert model_label("tiny") == "tiny"
    assert model_label(str(trained_run)) == "fre"
    assert model_label(str(trained_run / "final")) == "fre"
    assert model_label(str(trained_run / "checkpoints" / "checkpoint-1")) == "fre-checkpoint-1"
    assert model_label("Qwen/Qwen2.5-VL-3B-Instruct") == "Qwen--Qwen2.5-VL-3B-Instruct"
