"""Every flag an error message names exists on the command that printed it (issue 29 point 4): advice to pass a
flag the command does not have (`train-fre --init`) sends the user from one error to the next.

Two checks: every mistake below is made as a user makes it and the `--flags` in its one `error:` line are looked
up in that command's own options; and every error message in the package's source (the string parts of each
`...Error(...)` it builds) names only flags some lmmr1 command has, or the few other tools' flags it quotes.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import typer
from conftest import run_lmmr1

from lmmr1_cli.cli import app

PACKAGE = Path(__file__).resolve().parents[2] / "lmmr1_cli"
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9]|-o\b)")
# Flags of other tools that messages quote in full commands (`pip install --force-reinstall ...`).
OTHER_TOOLS = {"--force-reinstall"}


def command_flags() -> dict[str, set[str]]:
    group = typer.main.get_command(app)
    return {
        name: {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        for name, command in group.commands.items()
    }


def _fake_run(
    root: Path, *, checkpoint: int | None = None, finished: bool = False, lineage: bool = True
) -> Path:
    """A run dir's files as training leaves them (the messages read only which files exist)."""
    root.mkdir(parents=True)
    if lineage:
        (root / "run.json").write_text("{}")
    if checkpoint is not None:
        ckpt = root / "checkpoints" / f"checkpoint-{checkpoint}"
        ckpt.mkdir(parents=True)
        (ckpt / "trainer_state.json").write_text(json.dumps({"global_step": checkpoint}))
    if finished:
        (root / "final").mkdir()
        (root / "summary.json").write_text(
            json.dumps({"steps": checkpoint or 2, "final_model": str(root / "final")})
        )
    return root


def _mistakes(tmp: Path, arith: Path, geo: Path, trained: Path) -> list[tuple[str, list]]:
    (tmp / "junk").mkdir()
    (tmp / "junk" / "notes.txt").write_text("x")
    fre = ["train-fre", "--recipe", "tiny-fre", "--data", arith]
    mgt = ["train-mgt", "--recipe", "tiny-mgt", "--init", "tiny", "--data", geo]
    return [
        ("train-fre", [*fre, "-o", tmp / "junk"]),
        ("train-fre", [*fre, "-o", _fake_run(tmp / "unfinished", checkpoint=2)]),
        ("train-fre", [*fre, "-o", _fake_run(tmp / "finished", checkpoint=2, finished=True)]),
        ("train-fre", [*fre, "-o", _fake_run(tmp / "stopped")]),
        ("train-fre", [*fre, "-o", tmp / "stopped", "--resume"]),
        ("train-fre", [*fre, "-o", tmp / "nothing", "--resume"]),
        (
            "train-fre",
            [*fre, "-o", trained, "--resume"],
        ),  # other data than the run's: start a new run from it
        ("train-fre", [*fre, "-o", tmp / "r1", "--eval-data", tmp / "no-such-dir"]),
        ("train-fre", [*fre, "-o", tmp / "r2", "--num-processes", "3"]),
        ("train-fre", [*fre, "-o", tmp / "r3", "eval.best_metric=eval/x/accuracy"]),
        ("train-mgt", [*mgt, "-o", tmp / "junk"]),
        ("train-mgt", [*mgt, "-o", _fake_run(tmp / "mgt-unfinished", checkpoint=1)]),
        ("train-mgt", [*mgt, "-o", tmp / "nothing", "--resume"]),
        ("prepare-data", ["prepare-data", "synthetic-geo", "--max-pixels", "100", "-o", tmp / "p1"]),
        ("prepare-data", ["prepare-data", "synthetic-geo", "--min-pixels", "900", "--max-pixels", "800"]),
        ("prepare-data", ["prepare-data", "synthetic-arith"]),
        ("prepare-data", ["prepare-data", "synthetic-arith", "-o", tmp / "junk"]),
        ("mix-data", ["mix-data", arith]),
        (
            "eval",
            ["eval", "--model", "tiny", "--benchmark", arith, "--judge-url", "http://x", "-o", tmp / "e1"],
        ),
        ("eval", ["eval", "--model", "runs/fre@bst", "--benchmark", arith, "-o", tmp / "e2"]),
        ("eval", ["eval", "--model", "tiny", "--benchmark", arith, "--max-pixels", "10", "-o", tmp / "e3"]),
        ("report", ["report", tmp / "unfinished", "-o", tmp / "junk"]),
        ("export", ["export", tmp / "no-such-run", "-o", tmp / "x1"]),
    ]


def test_every_flag_an_error_names_exists_on_that_command(
    arith_train, geo_train, trained_run, tmp_path, light_env
):
    flags = command_flags()
    seen = set()
    for command, args in _mistakes(tmp_path, arith_train, geo_train, trained_run):
        result = run_lmmr1(*args, env=light_env, timeout=120)
        assert result.returncode != 0, (args, result.stdout)
        error = next(line for line in result.stderr.splitlines() if line.startswith("error:"))
        named = set(FLAG.findall(error))
        missing = named - flags[command]
        assert not missing, f"`lmmr1 {command}` has no {sorted(missing)}, yet says: {error}"
        seen |= named
    # The messages of issue 29 point 4 were among those checked (the flags that keep or replace a run).
    assert {"--resume", "--force", "-o", "--model", "--max-pixels"} <= seen


def _error_texts(tree: ast.AST):
    """(line, text) of every string constant inside a `...Error(...)` call (f-strings' literal parts too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.endswith("Error"):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                        yield node.lineno, sub.value


def test_every_flag_in_the_package_error_messages_is_an_lmmr1_flag():
    known = set().union(*command_flags().values()) | OTHER_TOOLS
    unknown = [
        f"{path.relative_to(PACKAGE)}:{line}: {flag}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, text in _error_texts(ast.parse(path.read_text(encoding="utf-8")))
        for flag in FLAG.findall(text)
        if flag not in known
    ]
    assert unknown == []


@pytest.mark.parametrize("stage, option", [("fre", "--model"), ("mgt", "--init")])
def test_the_new_run_advice_of_a_refused_resume_uses_the_stage_commands_option(stage, option):
    flags = command_flags()[f"train-{stage}"]
    from lmmr1_cli.lineage import _new_run_from

    advice = _new_run_from(stage, Path("runs/x"))
    assert option in advice and set(FLAG.findall(advice)) <= flags
