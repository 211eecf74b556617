"""Synthetic counting: the gold is the number of squares drawn, read from the picture only."""

from __future__ import annotations

import numpy as np

from lmmr1_cli.data.synthetic.counting import CELL, GRID, MAX_COUNT, SIZE, draw_squares, generate


def _filled_cells(image) -> int:
    ink = np.asarray(image.convert("L")) < 128
    return sum(
        ink[r * CELL : (r + 1) * CELL, c * CELL : (c + 1) * CELL].any()
        for r in range(GRID)
        for c in range(GRID)
    )


def test_gold_is_the_number_of_squares_in_the_picture():
    for row in generate("train", 40):
        assert row["images"][0].size == (SIZE, SIZE)
        assert _filled_cells(row["images"][0]) == int(row["answer"])
        assert 1 <= int(row["answer"]) <= MAX_COUNT


def test_squares_are_drawn_in_the_named_cells():
    assert _filled_cells(draw_squares([0, 5, 15])) == 3


def test_train_and_test_share_no_picture():
    train = {row["images"][0].tobytes() for row in generate("train", 150)}
    assert not train & {row["images"][0].tobytes() for row in generate("test", 60)}
