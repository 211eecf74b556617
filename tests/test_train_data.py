"""`lmmr1_cli/train_data.py`: what training checks of a dataset dir before any model loads, on data made by the
real `lmmr1 prepare-data`."""

from __future__ import annotations

import shutil

import pytest
from conftest import run_lmmr1

from lmmr1_cli.config import load_train_config
from lmmr1_cli.data.dataset import load_rows
from lmmr1_cli.errors import ConfigError, DataError
from lmmr1_cli.train_data import check_training_data


@pytest.fixture(scope="module")
def small_images(tmp_path_factory):
    """synthetic-geo stored at --max-pixels 6272, below tiny-mgt's model.max_pixels (12544)."""
    out = tmp_path_factory.mktemp("small") / "geo"
    result = run_lmmr1("prepare-data", "synthetic-geo", "--limit", "4", "--max-pixels", "6272", "-o", out)
    assert result.returncode == 0, result.stderr
    return out


def test_images_stored_below_the_recipe_bounds_are_refused_with_the_fix(small_images):
    with pytest.raises(ConfigError) as error:
        check_training_data(small_images, load_train_config("tiny-mgt"))
    message = str(error.value)
    assert "max_pixels 6272" in message and "model.max_pixels 12544" in message
    assert "--max-pixels 12544" in message and "model.max_pixels=6272" in message
    # At the data's own size (or below it) training goes ahead.
    check_training_data(small_images, load_train_config("tiny-mgt", overrides=["model.max_pixels=6272"]))


def test_text_only_data_has_no_pixel_bounds_to_meet(arith_train):
    check_training_data(arith_train, load_train_config("mgt-geo"))  # max_pixels 1,003,520; no images


def test_an_image_deleted_after_prepare_data_is_named(geo_train, tmp_path):
    data = tmp_path / "geo"
    shutil.copytree(geo_train, data)
    rows = load_rows(data)
    gone = data / rows[2]["images"][0]
    gone.unlink()
    with pytest.raises(DataError) as error:
        check_training_data(data, load_train_config("tiny-mgt"))
    assert str(gone) in str(error.value) and "row 3" in str(error.value)
