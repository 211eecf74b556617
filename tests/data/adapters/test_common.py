"""Shared adapter conversions: foreign image paths, option detection, choice golds, placeholders."""

from __future__ import annotations

import pytest

from lmmr1_cli.data.adapters.common import (
    answer_text,
    choice_text_to_letter,
    detect_options,
    image_list,
    rebase_path,
)
from lmmr1_cli.data.images import ImagePathEscapesRoot, PixelBounds, store_image
from lmmr1_cli.data.schema import strip_placeholders
from lmmr1_cli.data.validate import RowDropped


def test_rebase_path_keeps_the_part_from_the_anchor():
    assert rebase_path("file:///apdcephfs/x/mathv60k_img/a/b.jpg", "mathv60k_img/") == "mathv60k_img/a/b.jpg"
    assert rebase_path("other/c.jpg", "mathv60k_img/") == "other/c.jpg"
    assert rebase_path("/abs/c.jpg", None) == "/abs/c.jpg"


def test_a_rebased_path_still_cannot_leave_the_root(tmp_path):
    path = rebase_path("/cluster/mathv60k_img/../../secret.png", "mathv60k_img/")
    with pytest.raises(ImagePathEscapesRoot):
        store_image(path, PixelBounds(), tmp_path)


def test_lettered_options_in_the_problem_are_detected_only_with_a_letter_gold():
    problem = "Which is bigger?\nChoices:\n(A) 3\n(B) 5"
    assert detect_options(problem, "B") == ["3", "5"]
    assert detect_options(problem, "(B)") == ["3", "5"]
    assert detect_options(problem, "5") is None
    assert detect_options("No options here.", "A") is None


def test_choice_text_gold_becomes_its_letter():
    assert choice_text_to_letter("7", ["3", "7", "5"]) == "B"
    assert choice_text_to_letter("c", ["3", "7", "5"]) == "C"
    with pytest.raises(RowDropped) as info:
        choice_text_to_letter("9", ["3", "7"])
    assert info.value.reason == "gold_unparseable"


def test_answer_lists_and_empty_answers():
    assert answer_text(["$5$"], "final_answer") == "$5$"
    assert answer_text(3, "answer") == "3"
    with pytest.raises(RowDropped):
        answer_text(" ", "answer")


def test_empty_image_structs_are_not_images():
    assert image_list({"bytes": None, "path": None}) == []
    assert image_list(None) == []
    assert image_list(["a.png", "b.png"]) == ["a.png", "b.png"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<image>Find x.", ("Find x.", 1)),
        ("<image>\n<image>\nCompare them.", ("Compare them.", 2)),
        ("<|vision_start|><|image_pad|><|vision_end|>What is it?", ("What is it?", 1)),
        ("No image.", ("No image.", 0)),
    ],
)
def test_placeholders_are_stripped_and_counted(text, expected):
    assert strip_placeholders(text) == expected
