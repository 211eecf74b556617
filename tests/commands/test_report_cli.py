"""`lmmr1 report`, run as the installed command."""

from __future__ import annotations

import json

from conftest import run_lmmr1


def test_report_writes_plots_and_markdown(tmp_path, trained_run):
    out = tmp_path / "report"
    result = run_lmmr1("report", trained_run, "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert len(summary["plots"]) == 5 and all((out / name).is_file() for name in summary["plots"])
    assert (out / "report.md").read_text().startswith("# Training report")
    again = run_lmmr1("report", trained_run, "-o", out)
    assert again.returncode == 2 and "--force" in again.stderr
