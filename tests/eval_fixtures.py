"""Session fixtures for the eval, export and report tests: small real datasets and one real trained run.

Imported by test modules in several directories (`from eval_fixtures import ...`); each fixture memoizes its
result here so the work happens once per session whichever module asks first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LMMR1 = str(Path(sys.executable).with_name("lmmr1"))
_built: dict[str, Path] = {}


def run_cli(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LMMR1, *map(str, args)], capture_output=True, text=True, timeout=timeout, env={**os.environ}
    )


def _once(name: str, build) -> Path:
    if name not in _built:
        _built[name] = build()
    return _built[name]


def _prepare(root: Path, recipe: str, limit: int) -> Path:
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import load_recipe

    out = root / recipe.removeprefix("synthetic-")
    prepare_dataset(load_recipe(recipe), out, PrepareOptions(split="test", limit=limit))
    return out


@pytest.fixture(scope="session")
def eval_arith(tmp_path_factory) -> Path:
    """12 text-only arithmetic rows (synthetic-arith, test split), named `arith`."""
    return _once("arith", lambda: _prepare(tmp_path_factory.mktemp("evaldata"), "synthetic-arith", 12))


@pytest.fixture(scope="session")
def eval_geo(tmp_path_factory) -> Path:
    """8 geometry rows with one diagram each (synthetic-geo, test split), named `geo`."""
    return _once("geo", lambda: _prepare(tmp_path_factory.mktemp("evaldata"), "synthetic-geo", 8))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, eval_arith) -> Path:
    """A real FRE run of the tiny model: 2 steps, checkpoints at 1 and 2, final/ and metrics.jsonl."""

    def build() -> Path:
        out = tmp_path_factory.mktemp("evalruns") / "fre"
        result = run_cli(
            "train-fre", "--recipe", "tiny-fre", "--data", eval_arith, "-o", out,
            "run.max_steps=2", "run.save_steps=1", "rollout.num_generations=4", "rollout.micro_batch_size=16",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return out

    return _once("fre", build)
