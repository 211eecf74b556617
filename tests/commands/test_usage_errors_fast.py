"""A typo costs a second, not a transformers import: the common usage errors of train-fre, train-mgt, eval and export
are found before torch/transformers/trl load, and each is one `error:` line naming the path or value.

Measured as a user meets it: the wall time of the installed command, start to exit.
"""

from __future__ import annotations

import time

import pytest
from conftest import run_lmmr1

# Generous against a loaded 2-core machine: these exit in ~0.3-0.6 s when idle; a transformers import alone is ~5 s.
SECONDS = 2.5

CASES = {
    "train-fre missing data dir": (
        lambda d, t: ["train-fre", "--recipe", "tiny-fre", "--data", t / "nowhere", "-o", t / "r"],
        "nowhere",
    ),
    "train-fre output exists": (
        lambda d, t: ["train-fre", "--recipe", "tiny-fre", "--data", d, "-o", t / "taken"],
        "--force",
    ),
    "train-mgt missing init": (
        lambda d, t: ["train-mgt", "--recipe", "tiny-mgt", "--init", t / "nope", "--data", d, "-o", t / "r"],
        "nope",
    ),
    "train-fre unknown recipe": (
        lambda d, t: ["train-fre", "--recipe", "fre-txet", "--data", d, "-o", t / "r"],
        "fre-txet",
    ),
    "eval missing benchmark": (
        lambda d, t: ["eval", "--model", "tiny", "--benchmark", t / "no-bench", "-o", t / "results"],
        "no-bench",
    ),
    "export bad dtype": (lambda d, t: ["export", "tiny", "-o", t / "exported", "--dtype", "int8"], "int8"),
    "export missing source": (lambda d, t: ["export", t / "no-run", "-o", t / "exported"], "no-run"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_usage_error_is_one_line_within_seconds(case, arith_train, tmp_path):
    build, named = CASES[case]
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "run.json").write_text("{}")
    started = time.monotonic()
    result = run_lmmr1(*build(arith_train, tmp_path))
    seconds = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    # Exactly one line: no blank line left by a progress bar, no warning, no traceback.
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr
    assert seconds < SECONDS, f"{case}: {seconds:.2f} s (heavy libraries imported before the check?)"
    assert not (tmp_path / "r").exists() and not (tmp_path / "exported").exists()
