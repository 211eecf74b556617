"""Shared test setup: a per-session cache for the tiny model, and a helper that runs the installed `lmmr1`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

LMMR1 = str(Path(sys.executable).with_name("lmmr1"))


def pytest_configure(config):
    # One tiny-model build per test session (~20 s), shared by every subprocess through the environment.
    # LMMR1_TEST_CACHE lets a developer reuse a cache across sessions.
    os.environ["LMMR1_CACHE"] = os.environ.get("LMMR1_TEST_CACHE") or tempfile.mkdtemp(
        prefix="lmmr1-test-cache-"
    )
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The tiny model runs fastest on one thread, and two OpenMP threads per process thrash when the test's
    # subprocesses and verifier workers share 2 cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def run_lmmr1(*args: str, cwd: Path | None = None, timeout: float = 600, env: dict | None = None):
    """Run the installed console script; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run(
        [LMMR1, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    from lmmr1_cli.tiny import tiny_model_dir

    return tiny_model_dir()


def _prepare(tmp_path_factory, recipe: str, split: str, limit: int) -> Path:
    out = tmp_path_factory.mktemp("data") / f"{recipe}-{split}"
    result = run_lmmr1("prepare-data", recipe, "--split", split, "--limit", limit, "-o", out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def arith_train(tmp_path_factory) -> Path:
    """A small synthetic text-math dataset made by the real `lmmr1 prepare-data`."""
    return _prepare(tmp_path_factory, "synthetic-arith", "train", 48)


@pytest.fixture(scope="session")
def geo_train(tmp_path_factory) -> Path:
    """A small synthetic geometry-diagram dataset (images) made by the real `lmmr1 prepare-data`."""
    return _prepare(tmp_path_factory, "synthetic-geo", "train", 16)
