"""Ctrl-C (SIGINT to the process group, as a terminal sends it) and SIGKILL in the middle of prepare-data,
train-fre, eval and export: nothing half-written that a later command would take, and the re-run picks up.

SIGKILL + `train-fre --resume` lives in tests/test_resume.py; here train-fre gets SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from conftest import LMMR1, default_sigint, run_lmmr1

from faults.runner import check_refusal

TINY_FRE = [
    "--recipe",
    "tiny-fre",
    "run.max_steps=2",
    "run.save_every_rollouts=1",
    "batch.samples_per_prompt=2",
    "batch.prompts_per_rollout=2",
    "batch.samples_per_step=4",
    "batch.micro_batch_size=4",
]


class Started:
    """A CLI run in its own process group, with stderr in a file (a pipe could fill and stall it)."""

    def __init__(self, args: list, log: Path):
        self.log = log
        self.handle = log.open("w")
        self.proc = subprocess.Popen(
            [LMMR1, *map(str, args)],
            stdout=subprocess.DEVNULL,
            stderr=self.handle,
            start_new_session=True,
            preexec_fn=default_sigint,  # Ctrl-C reaches it even when the suite runs in the background
        )

    def wait_for(self, ready: Callable[[], bool], timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"run ended (exit {self.proc.returncode}) first:\n{self.stderr()[-3000:]}"
                )
            if time.monotonic() > deadline:
                self.signal(signal.SIGKILL)
                raise AssertionError(f"not ready in {timeout}s:\n{self.stderr()[-3000:]}")
            time.sleep(0.02)

    def signal(self, sig: int) -> int:
        os.killpg(self.proc.pid, sig)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise AssertionError(f"still running 60 s after signal {sig}:\n{self.stderr()[-3000:]}") from None
        self.handle.close()
        return code

    def stderr(self) -> str:
        if not self.handle.closed:
            self.handle.flush()
        return self.log.read_text()


def assert_interrupted(run: Started, sig: int, code: int) -> None:
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
        return
    assert code == 130, f"exit {code}:\n{run.stderr()[-3000:]}"
    assert "Traceback" not in run.stderr(), run.stderr()[-3000:]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def test_prepare_interrupted_by_ctrl_c_then_killed_leaves_no_dataset_and_reruns(tmp_path):
    out = tmp_path / "geo"
    base = ["prepare-data", "synthetic-geo", "--split", "train", "-o", out]
    partials = lambda: list(tmp_path.glob(".geo.partial-*"))  # noqa: E731
    for sig in (signal.SIGINT, signal.SIGKILL):
        run = Started([*base, "--limit", "400"], tmp_path / f"prepare-{sig}.log")
        run.wait_for(lambda: any(tmp_path.glob(".geo.partial-*/images/*.png")))
        assert_interrupted(run, sig, run.signal(sig))
        assert not out.exists()
        # Ctrl-C removes the temp dir; a kill cannot, and leaves exactly one.
        assert len(partials()) == (0 if sig == signal.SIGINT else 1)

    # Nothing there a later command would take for a dataset: neither the output nor the killed run's temp dir.
    for candidate in [out, *partials()]:
        refused = run_lmmr1("eval", "--model", "tiny", "--benchmark", candidate, "-o", tmp_path / "e")
        check_refusal(refused, (candidate.name,))

    again = run_lmmr1(*base, "--limit", "8", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["counts"]["kept"] == 8
    assert partials() == []  # the killed run's temp dir is cleaned up


def test_ctrl_c_during_train_fre_keeps_checkpoints_and_resume_finishes(arith_train, tmp_path):
    out = tmp_path / "run"
    args = ["train-fre", "--data", arith_train, "-o", out, *TINY_FRE]
    run = Started(args, tmp_path / "train.log")
    first = out / "checkpoints" / "checkpoint-1" / "trainer_state.json"
    run.wait_for(first.is_file)
    assert_interrupted(run, signal.SIGINT, run.signal(signal.SIGINT))
    # An interrupted run has no final model and no summary: train-mgt --init would take only a checkpoint.
    assert not (out / "final").exists() and not (out / "summary.json").exists()
    assert not list(out.glob(".final*"))

    resumed = run_lmmr1(*args, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and "checkpoint-" in summary["resumed_from"]
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2]
    assert (out / "final" / "config.json").is_file()


def test_eval_interrupted_by_ctrl_c_then_killed_resumes_from_finished_samples(arith_train, tmp_path):
    out = tmp_path / "results"
    args = ["eval", "--model", "tiny", "--benchmark", arith_train, "-o", out, "--limit", "10"]
    args += ["--batch-size", "2", "--max-new-tokens", "16", "--threads", "1", "--json"]
    samples = out / "tiny" / arith_train.name / "samples.jsonl"

    run = Started(args, tmp_path / "eval1.log")
    run.wait_for(lambda: _lines(samples) >= 2)
    assert_interrupted(run, signal.SIGINT, run.signal(signal.SIGINT))
    after_int = _lines(samples)
    assert not (out / "summary.json").exists()

    run = Started(args, tmp_path / "eval2.log")
    run.wait_for(lambda: _lines(samples) >= after_int + 2)
    assert_interrupted(run, signal.SIGKILL, run.signal(signal.SIGKILL))
    after_kill = _lines(samples)
    assert not (out / "summary.json").exists()

    done = run_lmmr1(*args)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["results"]["tiny"][arith_train.name]
    assert result["rows"] == 10
    assert result["resumed_rows"] >= after_kill - 1  # a line cut by the kill is generated again
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    assert sorted(r["id"] for r in records) == sorted({r["id"] for r in records})  # no row twice


def test_export_interrupted_by_ctrl_c_then_killed_leaves_no_model_and_reruns(tmp_path):
    out = tmp_path / "exported"
    args = ["export", "tiny", "-o", out]
    leftovers = lambda: sorted(p.name for p in tmp_path.glob(".exported.*"))  # noqa: E731
    for sig in (signal.SIGINT, signal.SIGKILL):
        run = Started(args, tmp_path / f"export-{sig}.log")
        run.wait_for(lambda: any(tmp_path.glob(".exported.partial-*/*.safetensors")))
        assert_interrupted(run, sig, run.signal(sig))
        assert not out.exists()
        assert (leftovers() == []) if sig == signal.SIGINT else leftovers()

    again = run_lmmr1(*args, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["verified"] is True
    assert leftovers() == []  # the killed export's staging dir is removed
