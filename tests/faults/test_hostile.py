"""Hostile content never runs: no remote code without the flag, safe YAML, weights-only loading, custom rewards only
from an explicit `file.py:function`, and prompts/model outputs never reach eval/exec/sympify outside the verifier."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from faults.fault_cases import Workspace, remote_code_model, write_jsonl
from faults.runner import check_refusal, run_limited

PACKAGE = Path(__file__).resolve().parents[2] / "lmmr1_cli"
# The only place a user's Python file may be imported: the explicit `path.py:function` custom reward loader.
EXEC_MODULE_ALLOWED = {("rewards.py", "load_reward_function")}
# Symbolic parsing of answers happens only inside the verifier, whose checks run in killable worker processes.
SYMBOLIC_ALLOWED_DIR = "verify"


def _calls(tree: ast.AST):
    """(call node, dotted name, enclosing function name) for every call in a module."""
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        scope = node
        while scope in parents and not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            scope = parents[scope]
        yield node, name, getattr(scope, "name", "<module>")


def _keyword(call: ast.Call, name: str):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_true(node) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def find_unsafe_calls(package: Path = PACKAGE) -> list[str]:
    """Calls that could run attacker-controlled code or data, as `file:line: reason`."""
    problems = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for call, name, scope in _calls(tree):
            where = f"{rel}:{call.lineno}"
            last = name.rsplit(".", 1)[-1]
            if name in ("eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec"):
                problems.append(f"{where}: {name}()")
            elif name in (
                "pickle.load",
                "pickle.loads",
                "cPickle.load",
                "dill.load",
                "joblib.load",
                "marshal.loads",
            ):
                problems.append(f"{where}: {name}() unpickles arbitrary objects")
            elif last == "load" and name.startswith("torch") and not _is_true(_keyword(call, "weights_only")):
                problems.append(f"{where}: {name}() without weights_only=True")
            elif name in (
                "yaml.load",
                "yaml.load_all",
                "yaml.unsafe_load",
                "yaml.full_load",
                "yaml.unsafe_load_all",
            ):
                problems.append(f"{where}: {name}() (use yaml.safe_load)")
            elif _is_true(_keyword(call, "trust_remote_code")):
                problems.append(f"{where}: trust_remote_code=True hard-coded")
            elif _is_true(_keyword(call, "shell")):
                problems.append(f"{where}: shell=True")
            elif last == "exec_module" and (path.name, scope) not in EXEC_MODULE_ALLOWED:
                problems.append(f"{where}: imports a file outside the custom-reward loader")
            elif last in ("sympify", "parse_expr", "parse_latex") and rel.parts[0] != SYMBOLIC_ALLOWED_DIR:
                problems.append(f"{where}: {name}() outside the verifier sandbox")
    return problems


def test_package_has_no_code_execution_or_unsafe_loading_sinks():
    assert find_unsafe_calls() == []


def test_the_sink_scan_catches_each_pattern(tmp_path):
    # The scan must be able to fail: a package holding each forbidden call yields one finding per line.
    bad = tmp_path / "pkg"
    (bad / "verify").mkdir(parents=True)
    (bad / "bad.py").write_text(
        "import pickle, torch, yaml, subprocess, sympy\n"
        "eval('1')\n"
        "exec('x = 1')\n"
        "pickle.load(open('f', 'rb'))\n"
        "torch.load('w.pt')\n"
        "torch.load('w.pt', weights_only=False)\n"
        "yaml.load('a: 1', Loader=yaml.Loader)\n"
        "f(trust_remote_code=True)\n"
        "subprocess.run('ls', shell=True)\n"
        "sympy.sympify('1+1')\n"
        "spec.loader.exec_module(m)\n"
    )
    (bad / "verify" / "ok.py").write_text(
        "import sympy, torch\nsympy.sympify('1')\ntorch.load('w', weights_only=True)\n"
    )
    found = find_unsafe_calls(bad)
    assert [f.split(":")[1] for f in found] == [str(n) for n in range(2, 12)], found


@pytest.fixture
def workspace(tmp_path, arith_train, geo_train, tiny_dir) -> Workspace:
    return Workspace(tmp_path, arith_train, geo_train, tiny_dir)


def test_model_asking_for_remote_code_is_refused_by_train_without_the_flag(workspace):
    model = remote_code_model(workspace)
    result = run_limited(
        [
            "train-fre",
            "--recipe",
            "tiny-fre",
            "--data",
            workspace.data,
            "-o",
            workspace.out,
            "--model",
            model,
        ],
        cwd=workspace.root,
    )
    line = check_refusal(result, (str(model),))
    assert "custom code" in line or "trust_remote_code" in line, line
    assert not workspace.marker.exists()


HOSTILE_ANSWERS = [
    "__import__('os').system('touch {marker}')",
    "\\boxed{{__import__('os').system('touch {marker}')}}",
    "eval(\"open('{marker}', 'w')\")",
    "exec(compile('open(\\'{marker}\\', \\'w\\')', 's', 'exec'))",
    "lambda: open('{marker}', 'w')",
]


def test_model_outputs_and_gold_answers_are_never_executed(workspace):
    marker = workspace.marker
    rows = []
    for text in HOSTILE_ANSWERS:
        code = text.format(marker=marker)
        rows.append({"prediction": f"<think>x</think><answer>{code}</answer>", "answer": "2"})
        rows.append({"prediction": "<think>x</think><answer>2</answer>", "answer": code})
    path = write_jsonl(workspace.inp / "hostile.jsonl", rows)
    result = run_limited(["verify", path, "--json", "--timeout", "2"], cwd=workspace.root)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == len(rows) and summary["correct"] == 0
    assert not marker.exists(), "a prediction or gold answer was executed"


def test_prompts_with_code_are_data_not_commands(workspace):
    # prepare-data parses gold answers (the verifier's parse); a problem text is only ever tokenized.
    marker = workspace.marker
    code = f"__import__('os').system('touch {marker}')"
    rows = [{"problem": code, "answer": "2"}, {"problem": "What is 1 + 1?", "answer": code}]
    source = write_jsonl(workspace.inp / "rows.jsonl", rows)
    result = run_limited(["prepare-data", source, "-o", workspace.out, "--json"], cwd=workspace.root)
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["counts"]["kept"] >= 1
    assert not marker.exists()
