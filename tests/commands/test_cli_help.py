"""`lmmr1 --help` and each command's help, as a user reads them: the pipeline order, an example per command, shared
options worded once, and shared defaults read from lmmr1_cli/defaults.py."""

from __future__ import annotations

import re

import pytest
from conftest import run_lmmr1

from lmmr1_cli import defaults

PIPELINE = [
    "prepare-data",
    "mix-data",
    "train-fre",
    "train-mgt",
    "eval",
    "export",
    "report",
    "verify",
    "tiny",
    "doctor",
]
WIDE = {"COLUMNS": "200", "TERM": "dumb"}  # one help line per option, no wrapping


def _help(*command: str) -> str:
    result = run_lmmr1(*command, "--help", env=WIDE)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _option_line(text: str, option: str) -> str:
    # Option rows sit in the boxed panels; the examples below them mention options too.
    pattern = re.compile(rf"^│.*\s{re.escape(option)}\s")
    lines = [line for line in text.splitlines() if pattern.match(line)]
    assert len(lines) == 1, f"{option}: {lines}"
    return re.sub(r"[│\s]+", " ", lines[0]).strip()


def test_root_help_lists_the_commands_in_pipeline_order():
    text = _help()
    listed = [m.group(1) for line in text.splitlines() if (m := re.match(r"^│ ([a-z][a-z-]+)\s{2,}\S", line))]
    assert listed == PIPELINE


@pytest.mark.parametrize("command", PIPELINE)
def test_every_command_has_an_example_and_the_shared_json_option(command):
    text = _help(command)
    assert "Examples:" in text and f"lmmr1 {command} " in text
    assert "Print the result as JSON on stdout instead of tables." in text


def test_shared_options_read_the_same_in_every_command():
    force = {c: _option_line(_help(c), "--force") for c in ("train-fre", "train-mgt", "export", "report")}
    assert len(set(force.values())) == 1, force
    train = {c: _help(c) for c in ("train-fre", "train-mgt")}
    for option in ("--data", "--config", "--resume", "--dry-run", "--num-processes", "--emit-sbatch"):
        assert _option_line(train["train-fre"], option) == _option_line(train["train-mgt"], option)


def test_shared_defaults_in_help_come_from_defaults_py():
    eval_help = _help("eval")
    # eval's budget is the protocol's (evaluation/protocols.py); lmmr1's own is the shared default
    assert f"{defaults.EVAL_MAX_NEW_TOKENS} under lmmr1" in _option_line(eval_help, "--max-new-tokens")
    assert f"[default: {defaults.EVAL_BATCH_SIZE}]" in _option_line(eval_help, "--batch-size")
    assert f"[default: {defaults.VERIFY_TIMEOUT_SECONDS}]" in _option_line(_help("verify"), "--timeout")
    prepare_help = _help("prepare-data")
    assert f"[default: {defaults.PREPARE_MAX_PROMPT_TOKENS}]" in _option_line(
        prepare_help, "--max-prompt-tokens"
    )
