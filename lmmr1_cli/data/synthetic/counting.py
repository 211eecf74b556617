"""How many squares are in the picture? Filled squares in cells of a 4 x 4 grid (an image task for MGT).

Each square fills one 28-pixel cell, which is one merged vision token of the tiny model at 112 x 112 pixels, so
"is this cell filled" is a plain linear feature of the patch embedding; the count is uniform over 1..6.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from PIL import Image, ImageDraw

from lmmr1_cli.data.synthetic import generate_split

NAME = "synthetic-count"
CELL = 28
GRID = 4
SIZE = CELL * GRID
MAX_COUNT = 6
QUESTION = "How many squares are in the picture?"


def draw_squares(cells: list[int]) -> Image.Image:
    """A white picture with a dark square (4-pixel margin) in each numbered cell (row-major, 0..15)."""
    image = Image.new("RGB", (SIZE, SIZE), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for cell in cells:
        x, y = (cell % GRID) * CELL, (cell // GRID) * CELL
        draw.rectangle([x + 4, y + 4, x + CELL - 5, y + CELL - 5], fill=(30, 60, 200))
    return image


def _candidate(rng: random.Random) -> tuple[str, dict]:
    count = rng.randint(1, MAX_COUNT)
    cells = sorted(rng.sample(range(GRID * GRID), count))
    row = {
        "problem": QUESTION,
        "images": [draw_squares(cells)],
        "answer": str(count),
        "answer_type": "math",
        "choices": None,
    }
    return ",".join(map(str, cells)), row


def generate(split: str = "train", limit: int = 200, seed: int = 0) -> Iterator[dict]:
    """Source rows of `split`; train and test never share a picture."""
    return generate_split(_candidate, NAME, split, limit, seed)
