"""The batch front door: item shapes, gold parsing for prepare-data, and never raising for bad items."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import (
    GoldParseError,
    ParsedGold,
    Verdict,
    VerifyItem,
    parse_gold,
    parse_golds,
    verify_batch,
    verify_batch_with_stats,
)


def test_items_may_be_dataclasses_tuples_or_dicts() -> None:
    items = [
        VerifyItem("<answer>2</answer>", "2"),
        ("<answer>B</answer>", "B", "choice", ["x", "y"]),
        {"prediction": "<answer>\\boxed{x+1}</answer>", "gold": "1+x", "answer_type": None},
    ]
    assert [v.correct for v in verify_batch(items)] == [True, True, True]


def test_bad_items_become_verdicts_not_exceptions() -> None:
    verdicts = verify_batch([("<answer>1</answer>",), (None, "1"), ("<answer>1</answer>", "1", "poetry")])
    assert [v.reason for v in verdicts] == ["error", "no_answer", "gold_unparseable"]


def test_parse_gold_reads_wrapped_golds() -> None:
    assert parse_gold("$\\boxed{60}$").number.value == 60
    assert parse_gold("$x=3$").core == "x=3"
    assert parse_gold("(B)", "choice", ["a", "b"]).letter == "B"


@pytest.mark.parametrize(
    ("gold", "answer_type"), [("", "math"), ("\\frac{", "math"), ("1", "nope"), ("#", "sokoban")]
)
def test_unparseable_golds_raise(gold: str, answer_type: str) -> None:
    with pytest.raises(GoldParseError):
        parse_gold(gold, answer_type)


def test_parse_golds_returns_the_error_per_row() -> None:
    results = parse_golds([("x+1", "math"), ("\\frac{", "math"), ("7", "math", None), ("Q", "choice", ["a"])])
    assert [type(r) for r in results] == [ParsedGold, GoldParseError, ParsedGold, GoldParseError]


def test_empty_batch() -> None:
    assert verify_batch([]) == []


def test_verdict_is_frozen() -> None:
    with pytest.raises(AttributeError):
        Verdict(True, "1", "correct").correct = False


def test_stats_say_where_each_verdict_came_from() -> None:
    symbolic = ("<answer>\\boxed{y+7}</answer>", "7+y")  # needs sympy; a group repeats it
    items = [symbolic] * 4 + [("<answer>3</answer>", "3")]
    verdicts, stats = verify_batch_with_stats(items)
    assert [v.correct for v in verdicts] == [True] * 5
    assert (stats.items, stats.in_process, stats.worker_items, stats.worker_checks) == (5, 1, 4, 1)
    assert len(stats.check_seconds) == 5
    _, again = verify_batch_with_stats(items)
    assert (again.cached, again.worker_items, again.worker_checks) == (4, 0, 0)
