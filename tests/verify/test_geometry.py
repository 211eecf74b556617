"""Geometry: math plus degrees, radians and unit leniency."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import verify
from tests.verify.cases import GEOMETRY


@pytest.mark.parametrize(("gold", "answer", "expected"), GEOMETRY, ids=[f"{g}|{a}" for g, a, _ in GEOMETRY])
def test_geometry_answers(gold: str, answer: str, expected: bool) -> None:
    verdict = verify(f"<think>angles</think><answer>{answer}</answer>", gold, "geometry")
    assert verdict.correct is expected, verdict


def test_radians_are_not_degrees_outside_geometry() -> None:
    assert not verify("<answer>\\frac{\\pi}{3}</answer>", "60^\\circ", "math").correct
