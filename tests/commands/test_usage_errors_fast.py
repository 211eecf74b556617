"""A typo costs a second, not a transformers import: the common usage errors of train-fre, train-mgt, eval and export
are found before torch/transformers/trl load, and each is one `error:` line naming the path or value.

Checked as a user meets it, the installed command start to exit, with torch, transformers and trl made unimportable
(conftest's `light_env`): the one-line error must come anyway. No stopwatch: the outcome never depends on machine speed.
"""

from __future__ import annotations

import pytest
from conftest import run_lmmr1

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
def test_usage_error_is_one_line_before_heavy_imports(case, arith_train, tmp_path, light_env):
    build, named = CASES[case]
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "run.json").write_text("{}")
    result = run_lmmr1(*build(arith_train, tmp_path), env=light_env, timeout=120)
    assert result.returncode == 2, result.stderr
    # Exactly one line: no blank line left by a progress bar, no warning, no traceback.
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "exported").exists()
