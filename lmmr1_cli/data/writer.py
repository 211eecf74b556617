"""Atomic dataset dir writer: everything goes to a hidden sibling temp dir that is renamed into place at the end.

A killed run leaves only a `.NAME.partial-PID-*` dir, which the next run removes (atomic.remove_stale_partials);
the output itself is either absent, the old dataset, or the complete new one.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from lmmr1_cli.atomic import remove_stale_partials, replace_dir, staging_dir_for, write_json_atomic
from lmmr1_cli.data.dataset import MANIFEST_FILE, ROWS_FILE
from lmmr1_cli.data.images import StoredImage
from lmmr1_cli.errors import OutputExistsError

IMAGES_DIR = "images"


def check_output(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not force:
        raise OutputExistsError(f"{out_dir} exists; pass --force to replace it")


class DatasetWriter:
    """Collects rows and images in a temp dir; `commit(manifest)` renames it to `out_dir`."""

    def __init__(self, out_dir: Path, force: bool = False) -> None:
        self.out_dir = Path(out_dir)
        check_output(self.out_dir, force)
        remove_stale_partials(self.out_dir)
        self.tmp_dir = staging_dir_for(self.out_dir)
        (self.tmp_dir / IMAGES_DIR).mkdir()
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

    def copy_image(self, path: Path) -> str:
        """`add_image` for an image another dataset dir already stored (named by its content hash): copied once."""
        if path.name not in self.image_names:
            shutil.copyfile(path, self.tmp_dir / IMAGES_DIR / path.name)
            self.image_names.add(path.name)
        return f"{IMAGES_DIR}/{path.name}"

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
        write_json_atomic(self.tmp_dir / MANIFEST_FILE, manifest, sort_keys=True)
        check_output(self.out_dir, self.force)
        # The old dataset stays in place until the new one is complete: never a half-replaced output.
        return replace_dir(self.tmp_dir, self.out_dir)

    def abort(self) -> None:
        self._rows.close()
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
