"""The lock: the exact package versions `make setup` and `make setup-vllm` install, read by `lmmr1 doctor`.

The lock is two pip constraints files shipped inside the package (so `lmmr1 doctor` finds them after a wheel
install too): `constraints/venv.txt` for .venv and `constraints/venv-vllm.txt` for .venv-vllm, written by
`make lock` (scripts/lock.sh) from a fresh resolve in a throwaway venv. Each opens with a header line recording a
hash of pyproject.toml's dependency tables, so a test notices a dependency change the lock was not refreshed for.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from lmmr1_cli.errors import Lmmr1Error

LOCK_DIR = Path(__file__).resolve().parent / "constraints"
LOCKS = {"venv": LOCK_DIR / "venv.txt", "venv-vllm": LOCK_DIR / "venv-vllm.txt"}
HASH_PREFIX = "# pyproject-dependencies-sha256: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


class LockError(Lmmr1Error):
    """A lock file is missing or unreadable."""


def canonical_name(name: str) -> str:
    """PEP 503 normalisation: `Jinja2`, `jinja2` and `typing_extensions`/`typing-extensions` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_tables(pyproject: Path) -> dict:
    """The parts of pyproject.toml a resolve depends on: requires-python, dependencies and the extras."""
    import tomllib  # Python >= 3.11; only `make lock` and the lock test call this

    project = tomllib.loads(pyproject.read_text())["project"]
    return {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }


def dependency_hash(pyproject: Path) -> str:
    """sha256 of the dependency tables as canonical JSON: comments and formatting do not change it."""
    text = json.dumps(dependency_tables(pyproject), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def recorded_hash(lock: Path) -> str | None:
    """The dependency hash a lock file's header records (None when it has none)."""
    for line in _read(lock).splitlines():
        if line.startswith(HASH_PREFIX):
            return line[len(HASH_PREFIX) :].strip()
    return None


def read_pins(lock: Path) -> dict[str, str]:
    """{canonical package name: exact version} from a constraints file."""
    pins = {}
    for line in _read(lock).splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonical_name(match.group(1))] = match.group(2)
    return pins


def _read(lock: Path) -> str:
    try:
        return lock.read_text()
    except OSError as exc:
        raise LockError(
            f"{lock}: cannot read the lock ({exc.strerror}); run `make lock` in a checkout"
        ) from exc
