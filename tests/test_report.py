"""`build_report`: PNG curves and a markdown summary from real training runs."""

from __future__ import annotations

import json

import pytest
from conftest import run_lmmr1
from PIL import Image

from lmmr1_cli.errors import DataError, OutputExistsError
from lmmr1_cli.report import PLOTS, build_report
from lmmr1_cli.report_plots import HEALTH_PLOTS, STEP_TIME_PLOT, smooth
from lmmr1_cli.rundir import read_metrics

STEMS = [stem for stem, _, _ in PLOTS] + [stem for stem, _, _ in HEALTH_PLOTS] + [STEP_TIME_PLOT]


def test_one_run_gives_metric_and_grpo_health_plots_embedded_in_the_markdown(tmp_path, trained_run):
    summary = build_report([trained_run], tmp_path / "report")
    out = tmp_path / "report"
    # TRL 1.16 logs every health key the report plots: frac_reward_zero_std, entropy, clip ratio, learning rate.
    assert summary["plots"] == [f"{stem}.png" for stem in STEMS]
    for stem in STEMS:
        with Image.open(out / f"{stem}.png") as image:
            assert image.format == "PNG" and image.size[0] >= 400
    markdown = (out / "report.md").read_text()
    assert all(f"]({stem}.png)" in markdown for stem in STEMS)
    rows = read_metrics(trained_run / "metrics.jsonl")
    run = summary["runs"][0]
    assert run["stage"] == "fre" and run["steps"] == rows[-1]["step"]
    assert run["reward_first"] == rows[0]["reward"] and run["reward_last"] == rows[-1]["reward"]
    assert run["format_last"] == rows[-1]["rewards/format_reward/mean"]
    assert json.loads((out / "summary.json").read_text())["runs"] == summary["runs"]


def test_existing_report_is_kept_without_force(tmp_path, trained_run):
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "mine.md").write_text("keep")
    with pytest.raises(OutputExistsError):
        build_report([trained_run], tmp_path / "report")
    assert (tmp_path / "report" / "mine.md").read_text() == "keep"
    build_report([trained_run], tmp_path / "report", force=True)
    assert not (tmp_path / "report" / "mine.md").exists()


def test_a_dir_without_metrics_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="metrics.jsonl"):
        build_report([tmp_path], tmp_path / "report")
    assert not (tmp_path / "report").exists()


@pytest.mark.slow
def test_fre_then_mgt_share_one_step_axis(tmp_path, trained_run, eval_geo):
    mgt = tmp_path / "mgt"
    result = run_lmmr1(
        "train-mgt", "--recipe", "tiny-mgt", "--init", trained_run, "--data", eval_geo, "-o", mgt,
        "run.max_steps=2", "batch.samples_per_prompt=4", "batch.samples_per_step=16", "batch.micro_batch_size=16",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = build_report([trained_run, mgt], tmp_path / "report")
    assert summary["chained"] and [r["stage"] for r in summary["runs"]] == ["fre", "mgt"]
    assert "end to end" in (tmp_path / "report" / "report.md").read_text()
    # Same stage twice: overlaid from step 0 instead.
    assert not build_report([trained_run, trained_run], tmp_path / "overlay")["chained"]


def test_eval_results_are_embedded_in_the_report(tmp_path, trained_run, eval_arith):
    from lmmr1_cli.evaluation import EvalSettings, evaluate

    evaluate(
        ["tiny", str(trained_run)],
        [str(eval_arith)],
        tmp_path / "results",
        EvalSettings(max_new_tokens=4, limit=2),
    )
    summary = build_report([trained_run], tmp_path / "report", eval_dir=tmp_path / "results")
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Evaluation" in markdown and "| benchmark | tiny | fre |" in markdown
    assert summary["plots"][-1] == "eval.png" and "](eval.png)" in markdown
    with Image.open(tmp_path / "report" / "eval.png") as image:
        assert image.format == "PNG"
    assert set(summary["eval"]["results"]) == {"tiny", "fre"}
    with pytest.raises(DataError, match="summary.json"):
        build_report([trained_run], tmp_path / "other", eval_dir=tmp_path)


def test_smoothing_follows_the_trend_and_keeps_every_point():
    noisy = [0.0, 1.0] * 50
    smoothed = smooth(noisy)
    assert len(smoothed) == len(noisy) and smoothed[0] == 0.0
    assert all(abs(v - 0.5) < 0.1 for v in smoothed[40:])  # the raw curve swings 0..1; the trend is 0.5
    assert smooth([3.0, 3.0, 3.0]) == pytest.approx([3.0, 3.0, 3.0])


def _child_run(tmp_path, parent, name, stage):
    """A copy of a real run whose run.json says it started from `parent`'s final model (as train-mgt writes)."""
    import shutil

    child = tmp_path / name
    shutil.copytree(parent, child)
    lineage = json.loads((child / "run.json").read_text())
    lineage.update(stage=stage, resolved_init=str((parent / "final").resolve()))
    (child / "run.json").write_text(json.dumps(lineage))
    return child


def test_runs_given_child_first_are_plotted_in_lineage_order(tmp_path, trained_run):
    mgt = _child_run(tmp_path, trained_run, "mgt", "mgt")
    summary = build_report([mgt, trained_run], tmp_path / "report")
    assert [r["stage"] for r in summary["runs"]] == ["fre", "mgt"] and summary["chained"]


def test_generation_verifier_and_optimizer_seconds_are_logged_and_stacked(tmp_path, trained_run):
    """metrics.jsonl has the three parts of a step's time (step_timing.py), and the report stacks them."""
    from lmmr1_cli.step_timing import STEP_PARTS

    rows = read_metrics(trained_run / "metrics.jsonl")
    for row in rows:
        parts = [row[key] for key, _ in STEP_PARTS]
        assert all(seconds > 0 for seconds in parts), row
        assert sum(parts) <= row["seconds_per_step"] * 1.05  # parts of the step, not more than it
    build_report([trained_run], tmp_path / "report")
    with Image.open(tmp_path / "report" / f"{STEP_TIME_PLOT}.png") as image:
        assert image.format == "PNG" and image.size[0] >= 400
    assert "generation, verifier, optimizer" in (tmp_path / "report" / "report.md").read_text()
