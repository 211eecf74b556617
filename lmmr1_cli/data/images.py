"""Images, safely: open from bytes/PIL/paths under a root, reject bombs and corrupt files, optionally resize to
pixel bounds with the Qwen processor's own `smart_resize`, and encode once, named by content hash.

By default images keep their source resolution (the training/eval processor resizes them to its own bounds);
with `--max-pixels` (or a recipe's `max_pixels`) they are stored already resized, so the processor's resize is
the identity. Either way the image-token count measured here is what a processor at these bounds produces.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from lmmr1_cli.errors import DataError

# Qwen2-VL / Qwen2.5-VL image processor defaults (transformers `Qwen2VLImageProcessor.size`): 56*56 .. 28*28*1280.
DEFAULT_MIN_PIXELS = 56 * 56
DEFAULT_MAX_PIXELS = 28 * 28 * 1280
# A source image above this many pixels is refused before it is decoded (PIL's own bomb limit is ~89M).
MAX_SOURCE_PIXELS = 64_000_000


class ImageRejected(DataError):
    """One image cannot be used; `reason` is the drop reason recorded in the manifest."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # picklable across the --num-proc pool (the default would drop `reason`)
        return (type(self), (self.reason, str(self)))


class ImagePathEscapesRoot(ImageRejected):
    """A path points outside the image root (`..`, an absolute path elsewhere, a symlink out): the image is
    never opened; the row is dropped as `image_outside_root` (`--strict`: the first one fails the job)."""

    def __init__(self, message: str, reason: str = "image_outside_root") -> None:
        super().__init__(reason, message)

    def __reduce__(self):
        return (type(self), (str(self), self.reason))


@dataclass(frozen=True)
class PixelBounds:
    """`min_pixels`/`max_pixels` and the resize factor (patch size x merge size) of a Qwen-VL processor.

    `max_pixels=None` keeps images at their source resolution (prepare-data's default): nothing is resized
    when stored, and image tokens are counted as a processor without an upper bound would see the image.
    """

    min_pixels: int = DEFAULT_MIN_PIXELS
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    factor: int = 28

    @classmethod
    def from_processor(cls, processor: Any) -> PixelBounds:
        ip = processor.image_processor
        size = ip.size
        get = size.get if isinstance(size, dict) else lambda k: getattr(size, k, None)
        return cls(
            min_pixels=int(get("shortest_edge") or DEFAULT_MIN_PIXELS),
            max_pixels=int(get("longest_edge") or DEFAULT_MAX_PIXELS),
            factor=int(ip.patch_size * ip.merge_size),
        )

    def processed_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after the processor's `smart_resize` at these bounds (no upper bound: the source
        size, snapped to the factor); ValueError for absurd aspect ratios."""
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        upper = self.max_pixels if self.max_pixels is not None else 4 * MAX_SOURCE_PIXELS
        h, w = smart_resize(height, width, factor=self.factor, min_pixels=self.min_pixels, max_pixels=upper)
        return w, h

    def target_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) an image is stored at: the processed size, or the source size when unbounded."""
        processed = self.processed_size(width, height)
        return (width, height) if self.max_pixels is None else processed


@dataclass(frozen=True)
class StoredImage:
    """An encoded image ready to write as `images/<name>`."""

    name: str
    data: bytes
    width: int
    height: int
    processed_size: tuple[int, int] | None = None  # what the processor will make of it (token count)


def resolve_image_path(path: str, image_root: Path | None) -> Path:
    """The real path of `path` (optionally `file://`) under `image_root`; refuse anything that leaves the root."""
    if path.startswith("file://"):
        path = path[len("file://") :]
    if image_root is None:
        raise ImagePathEscapesRoot(
            f"image path {path!r} given but no image root (pass --image-root)", reason="image_no_root"
        )
    root = Path(image_root).resolve()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    # resolve() follows symlinks, so a link inside the root pointing outside is caught here too.
    real = candidate.resolve()
    if real != root and root not in real.parents:
        raise ImagePathEscapesRoot(f"image path {path!r} escapes the image root {root}")
    return real


def open_image(value: Any, image_root: Path | None = None) -> tuple[Image.Image, bytes | None, str | None]:
    """Decode one raw image value; returns (RGB image, original bytes if they are RGB, original format)."""
    raw: bytes | None = None
    if isinstance(value, Image.Image):
        image, fmt = value, value.format
    else:
        if isinstance(value, dict):
            if value.get("bytes"):
                raw = bytes(value["bytes"])
            elif value.get("path"):
                value = value["path"]
            else:
                raise ImageRejected("image_unreadable", "image dict has neither 'bytes' nor 'path'")
        if isinstance(value, (bytes, bytearray)):
            raw = bytes(value)
        elif isinstance(value, (str, Path)) and raw is None:
            real = resolve_image_path(str(value), image_root)
            if not real.is_file():
                raise ImageRejected("image_missing", f"image file {real} not found")
            raw = real.read_bytes()
        elif raw is None:
            raise ImageRejected("image_unreadable", f"unsupported image value of type {type(value).__name__}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(raw))
                fmt = image.format
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageRejected("image_unreadable", f"image cannot be decoded ({exc})") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected("image_too_large", f"image refused as a decompression bomb ({exc})") from None
    width, height = image.size
    # Checked from the header, before decoding pixels: a bomb never reaches memory.
    if width * height > MAX_SOURCE_PIXELS:
        raise ImageRejected("image_too_large", f"image is {width}x{height}, above {MAX_SOURCE_PIXELS} pixels")
    if image.mode != "RGB":
        raw = None  # the stored file must be the RGB the model sees, not the source's alpha/palette bytes
    try:
        image.load()
        image = _to_rgb(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageRejected("image_unreadable", f"image cannot be decoded ({exc})") from None
    return image, raw, fmt


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels would turn black under a plain convert; diagrams are usually drawn on white.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def store_image(value: Any, bounds: PixelBounds, image_root: Path | None = None) -> StoredImage:
    """Open, bound-check, resize to `bounds` and encode one image; the name is its content hash."""
    image, raw, fmt = open_image(value, image_root)
    try:
        processed = bounds.processed_size(*image.size)
        width, height = bounds.target_size(*image.size)
    except ValueError as exc:
        raise ImageRejected("image_bad_aspect", f"image {image.size[0]}x{image.size[1]}: {exc}") from None
    keep_original = raw is not None and (width, height) == image.size and fmt in ("PNG", "JPEG")
    if keep_original:
        data, ext = raw, "jpg" if fmt == "JPEG" else "png"
    else:
        if (width, height) != image.size:
            image = image.resize((width, height), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        if fmt == "JPEG":
            # Re-encoding a photo as PNG would multiply its size; quality 95 keeps it visually lossless.
            image.save(buf, format="JPEG", quality=95)
            ext = "jpg"
        else:
            image.save(buf, format="PNG")
            ext = "png"
        data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    return StoredImage(f"{digest[:24]}.{ext}", data, width, height, processed)
