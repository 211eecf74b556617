"""What training requires of a prepared dataset dir, checked before any model loads (cheap: no torch).

- Every image a row names is still there (an image deleted after prepare-data would otherwise fail mid-run).
- Images were not stored smaller than the recipe trains on: prepare-data records the bounds it stored images at
  in manifest.json (`pixel_bounds`; `max_pixels: null` is source resolution), and a recipe whose
  `model.max_pixels` is above the stored bound would silently train on shrunken images.
"""

from __future__ import annotations

from pathlib import Path

from lmmr1_cli.config import TrainConfig
from lmmr1_cli.data.dataset import ROWS_FILE, image_paths, load_manifest, load_rows
from lmmr1_cli.errors import ConfigError, DataError


def check_pixel_bounds(data_dir: Path, manifest: dict, config: TrainConfig) -> None:
    """ConfigError when the data's images were stored below the recipe's `model.max_pixels`."""
    stored = (manifest.get("pixel_bounds") or {}).get("max_pixels")
    wanted = config.model.max_pixels
    has_images = int((manifest.get("counts") or {}).get("images") or 0) > 0
    if not has_images or stored is None or wanted is None or stored >= wanted:
        return
    raise ConfigError(
        f"{data_dir}: images were stored at max_pixels {stored} (manifest.json pixel_bounds), below this "
        f"recipe's model.max_pixels {wanted}; re-run prepare-data without --max-pixels (source resolution) or "
        f"with --max-pixels {wanted}, or train at the data's size with model.max_pixels={stored}"
    )


def check_images_present(data_dir: Path, rows: list[dict]) -> None:
    """DataError naming the first row (1-based, in rows.jsonl) whose image file is gone."""
    for number, row in enumerate(rows, start=1):
        for path in image_paths(data_dir, row):
            if not path.is_file():
                raise DataError(
                    f"{Path(data_dir) / ROWS_FILE} row {number} (id {row.get('id')!r}): image {path} is missing; "
                    f"re-run `lmmr1 prepare-data` for {data_dir}"
                )


def check_training_data(data_dir: Path, config: TrainConfig) -> None:
    """Both checks above, on the rows training will read."""
    data_dir = Path(data_dir)
    check_pixel_bounds(data_dir, load_manifest(data_dir), config)
    check_images_present(data_dir, load_rows(data_dir, limit=config.run.limit_train_rows))
