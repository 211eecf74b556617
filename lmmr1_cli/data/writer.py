"""Atomic dataset dir writer: everything goes to a hidden sibling temp dir that is renamed into place at the end.

A killed run leaves only a `.NAME.partial-PID` dir, which the next run removes; the output itself is either
absent, the old dataset, or the complete new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from lmmr1_cli.data.dataset import MANIFEST_FILE, ROWS_FILE
from lmmr1_cli.data.images import StoredImage
from lmmr1_cli.errors import OutputExistsError

IMAGES_DIR = "images"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(out_dir: Path) -> list[Path]:
    """Delete temp dirs left by killed runs writing `out_dir` (their process is gone)."""
    removed = []
    for path in out_dir.parent.glob(f".{out_dir.name}.partial-*"):
        pid = path.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _pid_alive(int(pid)) and int(pid) != os.getpid():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def check_output(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not force:
        raise OutputExistsError(f"{out_dir} exists; pass --force to replace it")


class DatasetWriter:
    """Collects rows and images in a temp dir; `commit(manifest)` renames it to `out_dir`."""

    def __init__(self, out_dir: Path, force: bool = False) -> None:
        self.out_dir = Path(out_dir)
        check_output(self.out_dir, force)
        self.out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.out_dir)
        self.tmp_dir = self.out_dir.parent / f".{self.out_dir.name}.partial-{os.getpid()}"
        (self.tmp_dir / IMAGES_DIR).mkdir(parents=True)
        self._rows = (self.tmp_dir / ROWS_FILE).open("w", encoding="utf-8")
        self._rows_hash = hashlib.sha256()
        self.image_names: set[str] = set()
        self.num_rows = 0
        self.force = force

    def add_image(self, image: StoredImage) -> str:
        """Write an image once (by content hash); returns its path relative to the dataset dir."""
        if image.name not in self.image_names:
            (self.tmp_dir / IMAGES_DIR / image.name).write_bytes(image.data)
            self.image_names.add(image.name)
        return f"{IMAGES_DIR}/{image.name}"

    def add_row(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False) + "\n"
        self._rows.write(line)
        self._rows_hash.update(line.encode("utf-8"))
        self.num_rows += 1

    def content_hash(self) -> str:
        """sha256 over the rows file and the (content-addressed) image names: equal hash, equal dataset."""
        h = hashlib.sha256(self._rows_hash.digest())
        for name in sorted(self.image_names):
            h.update(name.encode() + b"\n")
        return h.hexdigest()

    def commit(self, manifest: dict[str, Any]) -> Path:
        self._rows.close()
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (self.tmp_dir / MANIFEST_FILE).write_text(text, encoding="utf-8")
        check_output(self.out_dir, self.force)
        if self.out_dir.exists():
            # Move the old dataset aside first so there is never a moment with a half-replaced output.
            trash = self.out_dir.parent / f".{self.out_dir.name}.old-{os.getpid()}"
            os.replace(self.out_dir, trash)
            os.replace(self.tmp_dir, self.out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(self.tmp_dir, self.out_dir)
        return self.out_dir

    def abort(self) -> None:
        self._rows.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
