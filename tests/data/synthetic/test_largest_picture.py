"""Synthetic "largest number in the picture": the digits are in the pixels only, and the split matches `largest`."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
from conftest import run_lmmr1

from lmmr1_cli.data.synthetic.largest import digit_sets
from lmmr1_cli.data.synthetic.largest_picture import CELL, SIZE, draw_digits, generate


def test_question_names_no_number_and_the_picture_is_one_token_per_cell():
    for row in generate("train", 30):
        assert not re.search(r"\d", row["problem"])
        assert len(row["images"]) == 1 and row["images"][0].size == (SIZE, SIZE)
        assert SIZE * SIZE == 12544  # the tiny recipes' max_pixels: smart_resize keeps it as is


def test_each_digit_is_drawn_inside_its_own_cell():
    ink = np.asarray(draw_digits({(1, 0): 8, (1, 2): 3}).convert("L")) < 128
    rows, cols = ink.nonzero()
    assert rows.min() >= CELL and rows.max() < 2 * CELL
    assert ink[:, :CELL].any() and ink[:, 2 * CELL : 3 * CELL].any()
    assert not ink[:, CELL : 2 * CELL].any() and not ink[:, 3 * CELL :].any()


def test_different_digits_draw_different_pictures():
    pictures = {d: draw_digits({(0, 0): d}).tobytes() for d in range(10)}
    assert len(set(pictures.values())) == 10


def test_answers_are_balanced_and_test_pictures_are_held_out():
    test = list(generate("test", 70))
    counts = Counter(row["answer"] for row in test)
    assert set(counts) == {str(d) for d in range(3, 10)} and max(counts.values()) == 10
    train = {row["images"][0].tobytes() for row in generate("train", 200)}
    assert not train & {row["images"][0].tobytes() for row in test}
    assert len(digit_sets("test")[9]) >= 1


def test_demo_task_recipes_prepare_through_the_cli_as_the_readme_shows(tmp_path):
    """`lmmr1 prepare-data synthetic-largest-picture --split test ...` as README's demo section types it."""
    for recipe, images in (
        ("synthetic-largest-picture", 6),
        ("synthetic-word-sums", 0),
        ("synthetic-largest", 0),
    ):
        out = tmp_path / recipe
        result = run_lmmr1("prepare-data", recipe, "--split", "test", "--limit", "6", "-o", out)
        assert result.returncode == 0, result.stderr
        assert recipe in result.stdout  # the human summary names the recipe
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["counts"]["kept"] == 6 and manifest["counts"]["images"] == images
