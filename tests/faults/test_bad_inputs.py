"""Every bad input in fault_cases.CASES is refused by the real CLI: non-zero exit, one `error:` line naming the
file/row/field/option, no traceback, and the output location exactly as it was.

The subprocesses run a few at a time (most of each run is Python importing libraries, so two cores take three
runs well); each test then checks its own case's outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from faults.fault_cases import CASES, EXTENDED, Fault, Workspace, active_cases
from faults.runner import check_refusal, describe_changes, run_limited, run_on_mount, snapshot

COMMANDS = ("prepare-data", "train-fre", "train-mgt", "eval", "export", "verify", "report")
WORKERS = int(os.environ.get("LMMR1_FAULT_WORKERS", "3"))


@dataclass
class Outcome:
    workspace: Workspace
    result: subprocess.CompletedProcess | None = None
    before: dict | None = None
    after: dict | None = None
    error: BaseException | None = None
    seconds: float = 0.0


def _run_case(case: Fault, workspace: Workspace) -> Outcome:
    outcome = Outcome(workspace)
    start = time.monotonic()
    try:
        argv = case.build(workspace)
        if case.mount is None:
            outcome.before = snapshot(workspace.out_root)
            outcome.result = run_limited(argv, cwd=workspace.root)
            outcome.after = snapshot(workspace.out_root)
        else:  # the mounted file system starts empty and must end empty
            outcome.before = {}
            outcome.result, left = run_on_mount(argv, workspace.out_root, case.mount, workspace.root)
            outcome.after = {path: ("left behind",) for path in left}
    except BaseException as exc:  # reported by the case's own test
        outcome.error = exc
    outcome.seconds = time.monotonic() - start
    return outcome


@pytest.fixture(scope="session")
def outcomes(request, tmp_path_factory, arith_train, geo_train, tiny_dir) -> dict[str, Outcome]:
    """Run every selected case once, a few in parallel."""
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_bad_input_is_refused_cleanly"
    }
    cases = [c for c in CASES if c.id in selected]
    spaces = [Workspace(tmp_path_factory.mktemp(c.id), arith_train, geo_train, tiny_dir) for c in cases]
    with ThreadPoolExecutor(WORKERS) as pool:
        results = dict(zip([c.id for c in cases], pool.map(_run_case, cases, spaces), strict=True))
    if os.environ.get("LMMR1_FAULT_TIMINGS"):  # where the suite's time goes, slowest first
        rows = sorted(((o.seconds, i) for i, o in results.items()), reverse=True)
        Path(os.environ["LMMR1_FAULT_TIMINGS"]).write_text("".join(f"{t:6.1f} {i}\n" for t, i in rows))
    return results


@pytest.mark.parametrize("case", active_cases(), ids=[c.id for c in active_cases()])
def test_bad_input_is_refused_cleanly(case: Fault, outcomes: dict[str, Outcome]):
    outcome = outcomes[case.id]
    if outcome.error is not None:
        raise outcome.error
    check_refusal(outcome.result, case.expect)
    assert outcome.after == outcome.before, (
        f"output location changed: {describe_changes(outcome.before, outcome.after)}"
    )
    assert not outcome.workspace.marker.exists(), "hostile content was executed"


def test_the_corpus_covers_every_subcommand():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "fault ids must be unique (they are the rows of docs/reliability.md)"
    per_command = Counter(c.command for c in CASES)
    assert set(per_command) == set(COMMANDS), per_command
    assert len(CASES) >= 60
    assert EXTENDED <= set(ids)
    active = Counter(c.command for c in CASES if c.id not in EXTENDED)
    assert set(active) == set(COMMANDS) and sum(active.values()) >= 60, active


def test_a_leading_bom_is_not_a_fault(tmp_path):
    # Editors on Windows write one; refusing it would be the bug. (A BOM inside the file is a bad row: see CASES.)
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prediction": "<think>a</think><answer>2</answer>", "answer": "2"}\n')
    result = run_limited(["verify", path, "--json"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["correct"] == 1
