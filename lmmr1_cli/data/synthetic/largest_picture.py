"""The largest of three digits drawn in a picture (the MGT demo set): the same skill as `largest`, read by eye.

The question text names no number, so the answer can only come from the image: three digits drawn large in three
cells of one row of a 4 x 4 grid of 28-pixel cells. 112 x 112 pixels is one merged vision token per cell at the
tiny recipes' `max_pixels` (12,544), and Qwen's `smart_resize` leaves it alone. FRE on the text task teaches "answer
with the largest digit you were shown"; this task asks the vision tower to show it digits (docs/ablation.md).
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from PIL import Image, ImageDraw, ImageFont

from lmmr1_cli.data.synthetic.largest import balanced_rows

NAME = "synthetic-largest-picture"
CELL = 28  # Qwen2.5-VL: 14-pixel patches merged 2 x 2, so one merged vision token sees one cell.
GRID = 4
SIZE = CELL * GRID
QUESTION = "What is the largest number in the picture?"


def _font() -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=24)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font still draws digits.
        return ImageFont.load_default()


def draw_digits(cells: dict[tuple[int, int], int]) -> Image.Image:
    """A white SIZE x SIZE picture with each digit drawn black and centred in its (row, column) cell."""
    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for (row, col), digit in cells.items():
        centre = (col * CELL + CELL / 2, row * CELL + CELL / 2)
        draw.text(centre, str(digit), fill=(0, 0, 0), font=_font(), anchor="mm")
    return image


def _make(rng: random.Random, digits: list[int]) -> tuple[str, dict]:
    row_index = rng.randrange(GRID)
    columns = sorted(rng.sample(range(GRID), len(digits)))
    cells = {(row_index, col): digit for col, digit in zip(columns, digits, strict=True)}
    row = {
        "problem": QUESTION,
        "images": [draw_digits(cells)],
        "answer": str(max(digits)),
        "answer_type": "math",
        "choices": None,
    }
    return ";".join(f"{r},{c}={d}" for (r, c), d in sorted(cells.items())), row


def generate(split: str = "train", limit: int = 200, seed: int = 0) -> Iterator[dict]:
    """Source rows of `split`, one 112 x 112 picture each; the test digit sets are those `largest` holds out."""
    return balanced_rows(_make, NAME, split, limit, seed)
