"""Every write lmmr1 makes that a reader could see half-done goes through here: temp path in the same dir, then rename.

A killed process leaves either the old file/dir or the new one, never a mix; temp names start with a dot and carry
the writer's pid so `remove_stale_partials` can clear what a dead writer left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str, *, mode: int | None = None) -> Path:
    """Write `text` to `path` via a temp file beside it, then rename (readers see old or new, never half)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, data: Any, *, sort_keys: bool = False) -> Path:
    """`data` as indented JSON (non-JSON values via str), written atomically."""
    text = json.dumps(data, indent=2, default=str, sort_keys=sort_keys, ensure_ascii=False) + "\n"
    return write_text_atomic(path, text)


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> Path:
    """One JSON object per line, written atomically."""
    return write_text_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def staging_dir_for(target: Path) -> Path:
    """A fresh, empty temp dir beside `target` (same filesystem, so the final rename is atomic)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-{os.getpid()}-", dir=target.parent))


def replace_dir(staging: Path, target: Path) -> Path:
    """Move a complete `staging` dir to `target`; an existing `target` is kept aside until the move succeeded."""
    staging, target = Path(staging), Path(target)
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target


def publish_dir(staging: Path, target: Path) -> Path:
    """Move a complete `staging` dir to `target` unless another writer already put one there (first one wins:
    for caches, where every writer builds the same thing and readers may be using the existing copy)."""
    try:
        os.replace(staging, target)
    except OSError:
        if not Path(target).is_dir():
            raise
    return target


@contextlib.contextmanager
def atomic_dir(target: Path, *, keep_existing: bool = False) -> Iterator[Path]:
    """Yield a staging dir; on normal exit it replaces `target` (or, with `keep_existing`, is dropped when
    `target` already exists), on any error it is removed and `target` kept."""
    staging = staging_dir_for(target)
    try:
        yield staging
        (publish_dir if keep_existing else replace_dir)(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def remove_stale_partials(target: Path) -> None:
    """Remove `.NAME.partial-PID-*` / `.NAME.old-PID` siblings of `target` whose writer process is gone.

    A `.old-PID` beside a missing `target` is a previous output whose replacement was killed between the two
    renames of `replace_dir`: it is put back, not deleted.
    """
    target = Path(target)
    if not target.parent.is_dir():
        return
    for path in target.parent.glob(f".{target.name}.*"):
        parts = path.name[len(target.name) + 2 :].split("-")
        if len(parts) < 2 or parts[0] not in ("partial", "old") or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            if parts[0] == "old" and not target.exists():
                os.replace(path, target)
            elif path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        except PermissionError:
            pass
