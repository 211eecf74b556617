"""Shared test setup: a per-session lmmr1 cache, a helper that runs the installed `lmmr1`, and the session fixtures
several test directories use (the shipped tiny model, small real datasets, one real trained run, a warm verifier
pool). Nothing here builds the tiny model: it ships inside the package, the same bytes on every machine.

pytest finds these fixtures by name; a test module never imports them (an imported fixture is a new definition
per module, so its session-scoped work would run once per importing module)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

LMMR1 = str(Path(sys.executable).with_name("lmmr1"))


def pytest_configure(config):
    # A fresh cache per test session (prepared benchmarks), shared by every subprocess through the environment, so
    # no test reads a developer's ~/.cache/lmmr1. LMMR1_TEST_CACHE lets a developer reuse one across sessions.
    # Under pytest-xdist the workers inherit the controller's cache (set before they start).
    inherited = os.environ.get("LMMR1_CACHE") if os.environ.get("PYTEST_XDIST_WORKER") else None
    os.environ["LMMR1_CACHE"] = (
        os.environ.get("LMMR1_TEST_CACHE") or inherited or tempfile.mkdtemp(prefix="lmmr1-test-cache-")
    )
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # xdist starts its workers with COLUMNS=80/LINES=24 set; lmmr1 honours a user's COLUMNS, so the tests'
        # subprocesses would lay out for 80 columns instead of a log's width. The user's real value is unknown here.
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # The tiny model runs fastest on one thread, and two OpenMP threads per process thrash when the test's
    # subprocesses and verifier workers share 2 cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def default_sigint() -> None:
    """A Popen preexec_fn for runs a test stops with Ctrl-C. A suite started in the background by a non-interactive
    shell inherits SIGINT ignored, and Python keeps an ignored SIGINT: this gives the CLI a terminal's default, so
    Ctrl-C is tested as a user sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_after_checkpoint(args: list, checkpoint: Path, ranks: int = 1, timeout: float = 300) -> None:
    """Run `lmmr1 ARGS` in a session of its own and SIGKILL that session (the launcher and, with several
    processes, the ranks) once `checkpoint` is complete: trainer_state.json, and each rank's RNG state when there
    are several ranks (rank 0 may finish its part of the save before the others)."""
    proc = subprocess.Popen(
        [LMMR1, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    complete = [checkpoint / "trainer_state.json"]
    if ranks > 1:
        complete += [checkpoint / f"rng_state_{rank}.pth" for rank in range(ranks)]
    deadline = time.monotonic() + timeout
    while not all(path.is_file() for path in complete):
        if proc.poll() is not None:
            raise AssertionError(f"run ended before {checkpoint.name}: {proc.stderr.read().decode()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"no {checkpoint.name} in time")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


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
def light_env(tmp_path_factory) -> dict[str, str]:
    """An environment in which importing torch, transformers or trl fails: a command run with it that still gives
    its one-line answer reached it before loading them, which is what a user feels as "at once" (a transformers
    import alone is ~5 s). Checked this way, not with a stopwatch, so the outcome never depends on machine speed."""
    root = tmp_path_factory.mktemp("light-env")
    for name in ("torch", "transformers", "trl"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text(f"raise ImportError('{name} imported before the answer')\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    """The shipped tiny model's directory (what `--model tiny` resolves to)."""
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


def _prepare_eval(root: Path, recipe: str, limit: int) -> Path:
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import load_recipe

    out = root / recipe.removeprefix("synthetic-")
    prepare_dataset(load_recipe(recipe), out, PrepareOptions(split="test", limit=limit))
    return out


@pytest.fixture(scope="session")
def eval_arith(tmp_path_factory) -> Path:
    """12 text-only arithmetic rows (synthetic-arith, test split), named `arith`."""
    return _prepare_eval(tmp_path_factory.mktemp("evaldata"), "synthetic-arith", 12)


@pytest.fixture(scope="session")
def eval_geo(tmp_path_factory) -> Path:
    """8 geometry rows with one diagram each (synthetic-geo, test split), named `geo`."""
    return _prepare_eval(tmp_path_factory.mktemp("evaldata"), "synthetic-geo", 8)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, eval_arith) -> Path:
    """A real FRE run of the tiny model: 2 steps, checkpoints at 1 and 2, final/ and metrics.jsonl."""
    out = tmp_path_factory.mktemp("evalruns") / "fre"
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", eval_arith, "-o", out,
        "run.max_steps=2", "run.save_every_rollouts=1", "batch.samples_per_prompt=4", "batch.samples_per_step=16",
        "batch.micro_batch_size=16",
        # tiny-fre's own lr (3e-4, tuned for long runs) barely moves greedy outputs in 2 steps; the export reload
        # check needs a run whose probe answers differ from the untrained model's.
        "optim.learning_rate=2e-3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def verifier_pool():
    """The process-wide verifier pool with its workers started, so no test is charged for sympy's first import."""
    from lmmr1_cli.verify.pool import get_pool

    pool = get_pool()
    pool.warm_up()
    return pool


# tests/vllm_backend run in .venv-vllm (`make test-vllm`): vLLM's CPU build pins its own torch and transformers,
# so .venv never has it and `make test` leaves that folder out.
collect_ignore = [] if importlib.util.find_spec("vllm") else ["vllm_backend"]
