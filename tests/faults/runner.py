"""Run `lmmr1` on a bad input and check the contract every fault must meet."""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
from pathlib import Path

from conftest import LMMR1

# A regression that expands a YAML alias bomb or decodes a pixel bomb must fail inside the test, not take the
# shared machine's memory: 4 GB of heap is far above what any bad-input run needs (the tiny model is ~2 MB).
MEMORY_LIMIT = 4 * 1024**3


def _limit_memory() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_DATA, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(
    args: list[str], cwd: Path | None = None, timeout: float = 120, **popen
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LMMR1, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ},
        preexec_fn=_limit_memory,
        **popen,
    )


# Runs `lmmr1` with a fresh file system mounted on the output location, in a private mount namespace (so the
# mount vanishes with the process, even if the test dies), then lists what the run left on it.
_MOUNTED = """
mount -t tmpfs -o "$MOUNT_OPTIONS" lmmr1-fault "$MOUNT_POINT" || exit 97
"$@"
code=$?
find "$MOUNT_POINT" -mindepth 1 > "$LISTING"
exit $code
"""


def run_on_mount(
    args: list[str], mount_point: Path, options: str, cwd: Path, timeout: float = 120
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Root gets a mount namespace; anyone else a user namespace too (`unshare -Urm`), where they are root."""
    listing = cwd / "listing.txt"
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-Urm"]
    env = {**os.environ, "MOUNT_OPTIONS": options, "MOUNT_POINT": str(mount_point), "LISTING": str(listing)}
    result = subprocess.run(
        [*unshare, "sh", "-c", _MOUNTED, "sh", LMMR1, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        preexec_fn=_limit_memory,
    )
    assert result.returncode != 97, f"cannot mount a tmpfs here: {result.stderr}"
    left = listing.read_text().split() if listing.is_file() else ["<no listing>"]
    return result, left


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under `root` (hidden ones too): kind, size, mtime and content hash of files."""
    entries: dict[str, tuple] = {}
    if not root.exists():
        return entries
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                entries[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                entries[rel] = ("dir",)
            else:
                stat = path.stat()
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                entries[rel] = ("file", stat.st_size, stat.st_mtime_ns, digest)
    return entries


def check_refusal(result: subprocess.CompletedProcess, expect: tuple[str, ...]) -> str:
    """The fault contract on stderr and the exit code; returns the error line."""
    detail = f"exit {result.returncode}\nstderr:\n{result.stderr[-3000:]}\nstdout:\n{result.stdout[-1000:]}"
    assert result.returncode not in (0, None), detail
    assert "Traceback" not in result.stderr, detail
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one stderr line\n{detail}"
    line = lines[0]
    assert line.startswith("error: "), detail
    missing = [text for text in expect if text not in line]
    assert not missing, f"error line does not name {missing}: {line}"
    return line


def describe_changes(before: dict, after: dict) -> str:
    created = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    return f"created {created}, removed {removed}, changed {changed}"
