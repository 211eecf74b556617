"""bench/prepare_bench.py --quick runs the real `lmmr1 prepare-data` twice and reports rows, speed and memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "prepare_bench.py"


def test_prepare_bench_quick_keeps_every_row_and_reports_its_numbers() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--num-proc", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    per_size = [json.loads(line) for line in lines[:2]]
    report = json.loads("\n".join(lines[2:]))
    assert [(r["size"], r["rows"], r["dropped"]) for r in per_size] == [(100, 100, 0), (200, 200, 0)]
    assert report["results"] == per_size and report["num_proc"] == 1
    assert report["marginal_rows_per_s"] > 0 and all(r["peak_pss_mb"] > 0 for r in per_size)
