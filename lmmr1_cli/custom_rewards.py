"""A custom reward named as `path/to/file.py:function` (EasyR1 style): the spec parsed, and checked by reading the
file, never running it.

Training imports the file on every rank after the model has loaded (rewards.load_reward_function); a typo in the
path or the function name must fail before that, once, in the parent process. Reading the file's syntax tree finds
both without executing a user's code twice (or importing what it imports, e.g. torch) on the login node.
"""

from __future__ import annotations

import ast
from pathlib import Path

from lmmr1_cli.errors import ConfigError

SPEC_KEY = "rewards.custom"


def parse_reward_spec(spec: str) -> tuple[Path, str]:
    """(file, function name) of `path/to/file.py:function`; ConfigError for anything else or a missing file."""
    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise ConfigError(f"{SPEC_KEY}: {spec!r} must be 'path/to/file.py:function_name'")
    path = Path(path_text).expanduser()
    if path.suffix != ".py":
        raise ConfigError(f"{SPEC_KEY}: reward function file {path_text!r} must be a .py file")
    if not path.is_file():
        raise ConfigError(
            f"{SPEC_KEY}: reward function file {path_text!r} does not exist "
            f"(relative paths resolve from {Path.cwd()})"
        )
    return path, name


def check_reward_spec(spec: str) -> None:
    """ConfigError when the file is missing, is not valid Python, or defines nothing called the function's name.

    A name the syntax tree cannot rule out (a `from x import *`, a `globals()` write) passes: the import at
    training time is then the judge.
    """
    path, name = parse_reward_spec(spec)
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError) as exc:
        detail = f"line {exc.lineno}: {exc.msg}" if isinstance(exc, SyntaxError) else str(exc)
        raise ConfigError(f"{SPEC_KEY}: {path} is not valid Python ({detail})") from None
    bindings = _top_level_bindings(tree)
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    if name in bindings or "*" in bindings or "globals" in called:
        if bindings.get(name) == "constant":
            raise ConfigError(f"{SPEC_KEY}: {name!r} in {path} is a constant, not a function")
        return
    functions = sorted(k for k, v in bindings.items() if v == "function" and not k.startswith("_"))
    known = f"; functions defined there: {', '.join(functions)}" if functions else ""
    raise ConfigError(f"{SPEC_KEY}: {path} has no function named {name!r}{known}")


def _top_level_bindings(tree: ast.Module) -> dict[str, str]:
    """Names the module binds when run (including inside top-level if/try blocks): 'function', 'constant' (a
    literal assigned) or 'other'; '*' for a star import."""
    bindings: dict[str, str] = {}
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            bindings[node.name] = "function"
        elif isinstance(node, ast.ClassDef):
            bindings[node.name] = "other"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bindings[alias.asname or alias.name.split(".")[0]] = "other"
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            kind = "constant" if isinstance(node.value, ast.Constant) else "other"
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        # A later rebinding to a non-literal wins over an earlier literal.
                        bindings[leaf.id] = kind if bindings.get(leaf.id) in (None, "constant") else "other"
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            pending += [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
            for handler in getattr(node, "handlers", []):
                pending += handler.body
    return bindings
