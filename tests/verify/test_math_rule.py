"""Math answers, one parametrized table per answer form (tables in cases.py)."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import verify
from tests.verify.cases import MATH_TABLES


def _cases():
    for form, table in MATH_TABLES.items():
        for gold, answer, expected in table:
            yield pytest.param(gold, answer, expected, id=f"{form}:{gold}|{answer}")


@pytest.mark.parametrize(("gold", "answer", "expected"), list(_cases()))
def test_math_answer_forms(gold: str, answer: str, expected: bool) -> None:
    verdict = verify(f"<think>working it out</think>\n<answer>{answer}</answer>", gold, "math")
    assert verdict.correct is expected, verdict
    assert verdict.reason == ("correct" if expected else "wrong")


def test_math_tables_hold_enough_negatives() -> None:
    rows = [row for table in MATH_TABLES.values() for row in table]
    assert sum(not expected for _, _, expected in rows) >= len(rows) / 3
