"""Sokoban: move parsing, the rules (walls, pushes), and the verdicts built on them."""

from __future__ import annotations

import pytest

from lmmr1_cli.verify import GoldParseError, parse_gold, verify
from lmmr1_cli.verify.sokoban import IllegalMove, apply_moves, is_solved, parse_level, parse_moves

# One box right of the player, goal right of the box.
LINE = "#####\n#@$.#\n#####"
# Player must go around: push the box up onto the goal.
AROUND = "\n".join(["#####", "#-.-#", "#-$-#", "#-@-#", "#####"])
TWO = "\n".join(["######", "#@$-.#", "#-$-.#", "#----#", "######"])

SOKOBAN_CASES = [
    (LINE, "R", True, "correct"),
    (LINE, "r", True, "correct"),
    (LINE, "right", True, "correct"),
    (LINE, "Right.", True, "correct"),
    (LINE, "RR", False, "illegal_move"),
    (LINE, "L", False, "illegal_move"),
    (LINE, "U", False, "illegal_move"),
    (LINE, "D", False, "illegal_move"),
    (LINE, "hello", False, "wrong"),
    (AROUND, "U", True, "correct"),
    (AROUND, "up", True, "correct"),
    (AROUND, "UU", False, "illegal_move"),
    (AROUND, "L", False, "wrong"),
    (AROUND, "LUR", False, "wrong"),
    (TWO, "RRLLDRR", True, "correct"),
    (TWO, "R, R, L, L, D, R, R", True, "correct"),
    (TWO, "right right left left down right right", True, "correct"),
    (TWO, "RRLLDR", False, "wrong"),
    (TWO, "RRR", False, "illegal_move"),
    (TWO, "RRLLDRRR", False, "illegal_move"),
    (TWO, "DRR", False, "wrong"),
]


@pytest.mark.parametrize(("level", "moves", "solved", "reason"), SOKOBAN_CASES)
def test_sokoban_verdicts(level: str, moves: str, solved: bool, reason: str) -> None:
    verdict = verify(f"<think>plan</think><answer>{moves}</answer>", level, "sokoban")
    assert (verdict.correct, verdict.reason) == (solved, reason)


def test_sokoban_rules_step_by_step() -> None:
    level = parse_level(TWO)
    halfway = apply_moves(level, parse_moves("R R"))
    assert not is_solved(halfway) and (1, 4) in halfway.boxes
    assert is_solved(apply_moves(halfway, parse_moves("L L D R R")))


def test_push_into_box_is_illegal() -> None:
    level = parse_level("#######\n#@$$..#\n#######")
    with pytest.raises(IllegalMove):
        apply_moves(level, "R")


def test_level_with_two_players_is_not_a_gold() -> None:
    with pytest.raises(GoldParseError):
        parse_gold("#####\n#@@$.#\n#####", "sokoban")


def test_level_with_more_boxes_than_goals_is_not_a_gold() -> None:
    with pytest.raises(GoldParseError):
        parse_gold("######\n#@$$.#\n######", "sokoban")


def test_box_on_goal_and_player_on_goal_tiles() -> None:
    assert parse_level("#####\n#+$-#\n#####").player == (1, 1)
    assert not is_solved(parse_level("#####\n#+$-#\n#####"))
    assert is_solved(parse_level("####\n#@*#\n####"))
