"""Synthetic geometry: exact golds the verifier reads, one small image, disjoint splits."""

from __future__ import annotations

import math
import re

import pytest

from lmmr1_cli.data.synthetic.geometry import SIZE, generate, surd
from lmmr1_cli.verify import parse_gold, verify


@pytest.mark.parametrize(
    ("n", "expected"), [(50, "5\\sqrt{2}"), (25, "5"), (7, "\\sqrt{7}"), (72, "6\\sqrt{2}")]
)
def test_surd_simplifies(n, expected):
    assert surd(n) == expected


def test_surd_value_is_exact():
    for n in range(1, 300):
        s = surd(n)
        m = re.fullmatch(r"(\d*)(?:\\sqrt\{(\d+)\})?", s)
        value = int(m[1] or 1) * math.sqrt(int(m[2] or 1))
        assert math.isclose(value, math.sqrt(n)), (n, s)


def test_rows_have_one_small_image_and_a_parseable_gold():
    for row in generate("train", 40):
        assert len(row["images"]) == 1 and row["images"][0].size == (SIZE, SIZE)
        parse_gold(row["answer"], "geometry")


def test_degree_gold_accepts_a_correct_answer():
    row = next(r for r in generate("train", 60) if r["answer"].endswith("^\\circ"))
    value = row["answer"].split("^")[0]
    assert verify(f"<think>t</think><answer>{value}°</answer>", row["answer"], "geometry").correct


def test_deterministic_and_disjoint():
    first = [(r["answer"], r["images"][0].tobytes()) for r in generate("train", 20)]
    assert first == [(r["answer"], r["images"][0].tobytes()) for r in generate("train", 20)]
    train = {r["images"][0].tobytes() for r in generate("train", 150)}
    test = {r["images"][0].tobytes() for r in generate("test", 60)}
    assert not train & test
