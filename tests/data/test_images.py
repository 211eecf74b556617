"""Images: root confinement, bombs and corrupt files, smart_resize bounds, content-hash names."""

from __future__ import annotations

import io
import os

import pytest
from data_fixtures import png_bytes
from PIL import Image
from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

from lmmr1_cli.data import images
from lmmr1_cli.data.images import ImagePathEscapesRoot, ImageRejected, PixelBounds, store_image


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    r.mkdir()
    (r / "ok.png").write_bytes(png_bytes())
    (tmp_path / "outside.png").write_bytes(png_bytes())
    return r


def test_relative_and_file_url_paths_inside_the_root_load(root):
    bounds = PixelBounds()
    assert store_image("ok.png", bounds, root).name == store_image(f"file://{root}/ok.png", bounds, root).name


@pytest.mark.parametrize("path", ["../outside.png", "sub/../../outside.png", "ABS"])
def test_paths_escaping_the_root_are_refused(root, path):
    path = str(root.parent / "outside.png") if path == "ABS" else path
    with pytest.raises(ImagePathEscapesRoot, match="escapes"):
        store_image(path, PixelBounds(), root)


def test_symlink_out_of_the_root_is_refused(root):
    os.symlink(root.parent / "outside.png", root / "link.png")
    with pytest.raises(ImagePathEscapesRoot):
        store_image("link.png", PixelBounds(), root)


def test_path_without_root_is_refused():
    with pytest.raises(ImagePathEscapesRoot, match="image root"):
        store_image("ok.png", PixelBounds(), None)


def test_corrupt_bytes_are_rejected_with_a_reason():
    with pytest.raises(ImageRejected) as info:
        store_image(b"\x89PNG\r\n\x1a\nnot really", PixelBounds())
    assert info.value.reason == "image_unreadable"


def test_truncated_png_is_rejected():
    data = png_bytes(300, 300)
    with pytest.raises(ImageRejected) as info:
        store_image(data[: len(data) // 2], PixelBounds())
    assert info.value.reason == "image_unreadable"


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    # A real bomb: tiny file, huge declared size. The limit is lowered so the test file stays small.
    monkeypatch.setattr(images, "MAX_SOURCE_PIXELS", 100 * 100)
    buf = io.BytesIO()
    Image.new("1", (400, 400)).save(buf, format="PNG")
    with pytest.raises(ImageRejected) as info:
        store_image(buf.getvalue(), PixelBounds())
    assert info.value.reason == "image_too_large"


def test_pil_bomb_limit_is_reported_as_too_large(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50 * 50)
    with pytest.raises(ImageRejected) as info:
        store_image(png_bytes(200, 200), PixelBounds())
    assert info.value.reason == "image_too_large"


@pytest.mark.parametrize("size", [(500, 333), (30, 30), (2000, 100)])
def test_images_are_resized_with_the_processors_smart_resize(size):
    bounds = PixelBounds(min_pixels=56 * 56, max_pixels=28 * 28 * 64)
    stored = store_image(png_bytes(*size), bounds)
    h, w = smart_resize(
        size[1], size[0], factor=28, min_pixels=bounds.min_pixels, max_pixels=bounds.max_pixels
    )
    assert (stored.width, stored.height) == (w, h)
    assert Image.open(io.BytesIO(stored.data)).size == (w, h)


def test_absurd_aspect_ratio_is_rejected():
    with pytest.raises(ImageRejected) as info:
        store_image(png_bytes(2010, 10), PixelBounds())
    assert info.value.reason == "image_bad_aspect"


def test_same_pixels_give_the_same_name_and_rgba_is_flattened_on_white():
    rgba = Image.new("RGBA", (56, 56), (0, 0, 0, 0))
    buf = io.BytesIO()
    rgba.save(buf, format="PNG")
    stored = store_image(buf.getvalue(), PixelBounds())
    assert Image.open(io.BytesIO(stored.data)).getpixel((0, 0)) == (255, 255, 255)
    assert stored.name == store_image(buf.getvalue(), PixelBounds()).name
    assert stored.name.endswith(".png") and len(stored.name) == 24 + 4


def test_jpeg_stays_jpeg():
    buf = io.BytesIO()
    Image.new("RGB", (100, 80), (10, 200, 10)).save(buf, format="JPEG")
    assert store_image(buf.getvalue(), PixelBounds()).name.endswith(".jpg")
