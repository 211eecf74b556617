"""`lmmr1 export`, run as the installed command."""

from __future__ import annotations

import json

from conftest import run_lmmr1


def test_export_a_run_then_refuse_to_overwrite(tmp_path, trained_run):
    out = tmp_path / "exported"
    result = run_lmmr1("export", trained_run, "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["verified"] and (out / "model.safetensors").is_file()
    again = run_lmmr1("export", trained_run, "-o", out)
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "--force" in again.stderr


def test_unknown_source_is_a_one_line_error(tmp_path):
    result = run_lmmr1("export", tmp_path / "missing", "-o", tmp_path / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
