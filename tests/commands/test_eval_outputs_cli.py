"""`lmmr1 eval` outputs as a user meets them: results kept unless --force, pass@k in comparison.md as on the
terminal, distinct labels for same-named model dirs."""

from __future__ import annotations

import json
import shutil

from conftest import run_lmmr1

from lmmr1_cli.evaluation.runner import model_labels


def _eval(out, benchmark, *models: str, extra: tuple[str, ...] = ()):
    model_args = [a for m in models for a in ("--model", m)]
    return run_lmmr1(
        "eval",
        *model_args,
        "--benchmark",
        benchmark,
        "-o",
        out,
        "--limit",
        "2",
        "--max-new-tokens",
        "4",
        *extra,
    )


def test_rerun_with_fewer_models_keeps_the_earlier_results_without_force(tmp_path, eval_arith):
    out = tmp_path / "results"
    first = _eval(out, eval_arith, "tiny", "tiny")
    assert first.returncode == 0, first.stderr
    summary = (out / "summary.json").read_bytes()
    comparison = (out / "comparison.md").read_bytes()

    fewer = _eval(out, eval_arith, "tiny")
    assert fewer.returncode == 2
    # One line, and no blank line before it (the progress bar is not drawn into a pipe).
    assert fewer.stderr.splitlines() == [fewer.stderr.strip()], fewer.stderr
    assert fewer.stderr.startswith("error: ") and "--force" in fewer.stderr and "tiny-2" in fewer.stderr
    assert (out / "summary.json").read_bytes() == summary
    assert (out / "comparison.md").read_bytes() == comparison

    # The same command again resumes, as the epilog promises; --force replaces.
    assert _eval(out, eval_arith, "tiny", "tiny").returncode == 0
    forced = _eval(out, eval_arith, "tiny", extra=("--force",))
    assert forced.returncode == 0, forced.stderr
    assert [m["label"] for m in json.loads((out / "summary.json").read_text())["models"]] == ["tiny"]


def test_sampled_eval_writes_pass_at_k_to_comparison_md_like_the_terminal(tmp_path, eval_arith):
    out = tmp_path / "results"
    result = _eval(out, eval_arith, "tiny", extra=("--samples", "2", "--temperature", "1.0"))
    assert result.returncode == 0, result.stderr
    assert "pass@2" in result.stdout
    markdown = (out / "comparison.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| benchmark | model"))
    assert "pass@2" in header and "mean@2" in header
    summary = json.loads((out / "summary.json").read_text())
    passk = summary["results"]["tiny"]["arith"]["pass@2"]
    row = next(line for line in markdown.splitlines() if line.startswith("| arith | tiny |"))
    assert row.rstrip(" |").endswith(f"{100 * passk:.1f}")
    # mean@k carries an interval that is never a single point (Wilson at the clustered effective size).
    low, high = summary["results"]["tiny"]["arith"]["ci95"]
    assert high > low


def test_same_named_model_dirs_get_distinct_meaningful_labels(tmp_path, tiny_dir):
    for parent in ("runs", "exported"):
        shutil.copytree(tiny_dir, tmp_path / parent / "lora")
    refs = [str(tmp_path / "runs" / "lora"), str(tmp_path / "exported" / "lora"), "tiny", "tiny"]
    assert model_labels(refs) == ["runs-lora", "exported-lora", "tiny", "tiny-2"]
    assert model_labels(refs[:1] * 2) == ["lora", "lora-2"]  # the same model twice: numbered, not renamed
    for parent in ("a/same", "b/same"):  # parents that clash too: one more level
        shutil.copytree(tiny_dir, tmp_path / parent / "m")
    assert model_labels([str(tmp_path / "a/same/m"), str(tmp_path / "b/same/m")]) == ["a-same-m", "b-same-m"]
    run = tmp_path / "runs" / "lora"
    (run / "final").mkdir()
    assert model_labels([str(run / "final"), str(tmp_path / "exported" / "lora")]) == [
        "runs-lora",
        "exported-lora",
    ]
