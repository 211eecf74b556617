"""`lmmr1 report`, run as the installed command."""

from __future__ import annotations

import json

from conftest import run_lmmr1


def test_report_writes_plots_and_markdown(tmp_path, trained_run):
    out = tmp_path / "report"
    result = run_lmmr1("report", trained_run, "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # 5 summary metrics, 4 GRPO health plots and the stacked step time (b8e1143); no validation rows, no curve.
    assert len(summary["plots"]) == 10 and all((out / name).is_file() for name in summary["plots"])
    assert {
        "frac_reward_zero_std.png",
        "entropy.png",
        "clip_ratio.png",
        "learning_rate.png",
        "step_time.png",
    } <= set(summary["plots"])
    assert (out / "report.md").read_text().startswith("# Training report")
    again = run_lmmr1("report", trained_run, "-o", out)
    assert again.returncode == 2 and "--force" in again.stderr


def test_report_table_in_a_log_keeps_labels_and_numbers_whole(tmp_path, trained_run):
    # COLUMNS empty: what a plain `lmmr1 report ... | tee log` gets (the consoles fall back to their log width).
    result = run_lmmr1("report", trained_run, "-o", tmp_path / "report", env={"COLUMNS": ""})
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout, result.stdout
    assert f"FRE ({trained_run.name})" in result.stdout and "tiny-fre" in result.stdout
