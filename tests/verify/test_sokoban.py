"""Sokoban: gym-sokoban's move rules, the official answer vocabulary, strict verdicts and the official reward."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmmr1_cli.verify import GoldParseError, parse_gold, verify
from lmmr1_cli.verify.sokoban import (
    GymSokoban,
    apply_moves,
    is_solved,
    moves_to_answer,
    paper_format,
    paper_score,
    parse_level,
    parse_moves,
    repeats_too_often,
    room_state,
)

# One box right of the player, goal right of the box.
LINE = "#####\n#@$.#\n#####"
# Player must go around: push the box up onto the goal.
AROUND = "\n".join(["#####", "#-.-#", "#-$-#", "#-@-#", "#####"])
TWO = "\n".join(["######", "#@$-.#", "#-$-.#", "#----#", "######"])
OFFICIAL = Path(__file__).parent / "data" / "sokoban_official.jsonl"

# strict mode: solved or not, under gym-sokoban's rules (a blocked move is a wasted step; play stops when solved).
SOKOBAN_CASES = [
    (LINE, "Right", True),
    (LINE, "right", True),
    (LINE, "R", True),
    (LINE, "RIGHT.", True),
    (LINE, "Right, Right", True),  # solved after the first move; the second is not played
    (LINE, "Left, Right", True),  # walking into the wall changes nothing
    (LINE, "Up, Down, Right", True),
    (LINE, "Left", False),
    (LINE, "hello", False),
    (AROUND, "Up", True),
    (AROUND, "Up, Up", True),
    (AROUND, "Left", False),
    (AROUND, "Left, Up, Right", False),
    (TWO, "Right, Right, Left, Left, Down, Right, Right", True),
    (TWO, "R, R, L, L, D, R, R", True),
    (TWO, "right right left left down right right", True),
    (TWO, "Right, Right, Right, Left, Left, Down, Right, Right", True),  # a blocked push in between
    (TWO, "Right, Right, Left, Left, Down, Right", False),
    (TWO, "Down, Right, Right", False),
]


@pytest.mark.parametrize(("level", "moves", "solved"), SOKOBAN_CASES)
def test_strict_sokoban_verdicts(level: str, moves: str, solved: bool) -> None:
    verdict = verify(f"<think>plan</think><answer>{moves}</answer>", level, "sokoban")
    assert verdict.correct is solved
    assert verdict.reason == ("correct" if solved else "wrong")


def test_walking_into_a_wall_or_pushing_a_blocked_box_is_a_no_op() -> None:
    level = parse_level("#######\n#@$$..#\n#######")
    assert apply_moves(level, "R") == level  # box against a box
    assert apply_moves(level, "UL") == level  # walls
    line = parse_level(LINE)
    assert apply_moves(line, "L") == line


def test_sokoban_rules_step_by_step() -> None:
    level = parse_level(TWO)
    halfway = apply_moves(level, parse_moves("Right, Right"))
    assert not is_solved(halfway) and (1, 4) in halfway.boxes
    assert is_solved(apply_moves(halfway, parse_moves("Left, Left, Down, Right, Right")))


def test_official_vocabulary_round_trips() -> None:
    assert parse_moves("Left, RIGHT, up ,down") == "LRUD"
    assert moves_to_answer("LRUD") == "Left, Right, Up, Down"
    assert parse_moves("Left, Jump") is None


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


# ---- paper mode: the official reward, by hand ---------------------------------------------------------------------
def _paper(level: str, answer: str, thinking: str = "plan") -> float:
    return paper_score(f"<think>{thinking}</think><answer>{answer}</answer>", parse_level(level)).total


def test_paper_reward_solved_in_one_push() -> None:
    # -0.1 step + 1 box on target + 10 solved; + 0.5 format + 0.05 x 1 action + 0.001 x 1 thinking word
    assert _paper(LINE, "Right") == pytest.approx(10.9 + 0.5 + 0.05 + 0.001)


def test_paper_reward_partial_progress_keeps_the_best_prefix() -> None:
    # TWO: the first box reaches its goal after 2 pushes (-0.2 + 1 = 0.8); three wasted steps later it is still
    # the best cumulative reward (0.5); the plan has 5 actions.
    score = paper_score(
        "<think>push the top box first</think><answer>Right, Right, Up, Up, Up</answer>", parse_level(TWO)
    )
    assert score.env_reward == pytest.approx(0.8)
    assert not score.solved
    assert score.total == pytest.approx(0.8 + 0.5 + 5 * 0.05 + 5 * 0.001)


def test_paper_reward_walls_cost_a_step_but_never_go_below_zero() -> None:
    assert paper_score("<think>x</think><answer>Left, Up</answer>", parse_level(LINE)).env_reward == 0.0
    assert _paper(LINE, "Left, Right") == pytest.approx(10.8 + 0.5 + 0.1 + 0.001)


def test_paper_reward_over_long_plans_are_penalised_quadratically() -> None:
    # Period 6, so no group of 1-5 moves repeats back to back more than twice (no repeat penalty); no progress.
    wander = ["Left", "Right", "Left", "Right", "Right", "Left"] * 9

    def bonus(n: int) -> float:
        answer = ", ".join(wander[:n])
        return paper_score(f"<think>x</think><answer>{answer}</answer>", parse_level(AROUND)).action_bonus

    assert bonus(19) == pytest.approx(19 * 0.05)
    assert bonus(20) == pytest.approx(1.0)
    assert bonus(50) == pytest.approx(1.0 - ((50 - 20) / 30) ** 2 * 0.2)
    assert bonus(54) == pytest.approx(1.0 - ((54 - 20) / 30) ** 2 * 0.2)


def test_paper_reward_repeats_cancel_the_action_bonus() -> None:
    eight = ", ".join(["Left"] * 8)
    assert repeats_too_often(eight, 7, 5) and not repeats_too_often(", ".join(["Left"] * 7), 7, 5)
    assert paper_score(f"<think>x</think><answer>{eight}</answer>", parse_level(LINE)).action_bonus == 0.0
    assert repeats_too_often(", ".join(["Left", "Up"] * 8), 7, 5)  # a 2-move group 8 times in a row


def test_paper_reward_thinking_words_count_up_to_two_hundred() -> None:
    few = paper_score("<think>a bb ccc</think><answer>Left</answer>", parse_level(LINE))
    assert few.thinking_words == 2 and few.thinking_bonus == pytest.approx(0.002)
    many = paper_score(
        "<think>" + " ".join(["word"] * 300) + "</think><answer>Left</answer>", parse_level(LINE)
    )
    assert many.thinking_bonus == pytest.approx(0.2)


def test_paper_format_needs_one_of_each_tag_and_only_action_words() -> None:
    assert paper_format("<think>x</think><answer> left ,UP</answer>")
    assert paper_format("<answer>Left</answer><think>tags in any order</think>")
    assert not paper_format("<think>x</think><answer>L, U</answer>")
    assert not paper_format("<think>x</think><answer>Left, Jump</answer>")
    assert not paper_format("<think>x</think><think>y</think><answer>Left</answer>")
    assert not paper_format("Left, Up")
    assert _paper(LINE, "L") == 0.0  # letters are strict mode's, not the paper's


def test_paper_plans_play_at_most_fifty_actions() -> None:
    wasted = ["Left"] * 3 + ["Up", "Down"] * 24  # 51 actions without progress, then the solving push
    score = paper_score(
        f"<think>x</think><answer>{', '.join(wasted + ['Right'])}</answer>", parse_level(LINE)
    )
    assert score.num_actions == 52 and not score.solved and score.env_reward == 0.0


def test_a_box_pushed_off_its_starting_goal_leaves_a_copy_as_in_the_official_environment() -> None:
    env = GymSokoban(room_state(parse_level("#######\n#@*-$.#\n#######")))
    env.step(4)  # push right: the box leaves its goal...
    env.step(3)  # ...and when the player steps back, room_fixed still holds a box on goal there
    assert env.room_state[1][2] == 3


def test_paper_mode_agrees_with_the_official_code_on_gym_sokoban_levels() -> None:
    """tests/verify/data/sokoban_official.jsonl: sokoban_verifier.py of TideDra/lmm-r1 (f917f18) run unmodified
    on gym-sokoban 0.0.6 by bench/official_reference.py: 30 levels (24 generated by gym-sokoban, 6 hand-made
    corners) x 17 responses (random plans, BFS solutions, repeats, bad formats)."""
    rows = [json.loads(line) for line in OFFICIAL.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 400 and sum(r.get("solved", False) for r in rows) >= 30
    for row in rows:
        level = parse_level(row["level"])
        score = paper_score(row["response"], level)
        where = f"{row['level']!r} {row['response'][:80]!r}"
        assert score.format_ok is row["format_ok"], where
        assert score.total == pytest.approx(row["total"], abs=1e-9), where
        if not row["format_ok"]:
            continue
        assert score.env_reward == pytest.approx(row["env_reward"], abs=1e-9), where
        assert score.action_bonus == pytest.approx(row["action_bonus"], abs=1e-9), where
        assert score.thinking_bonus == pytest.approx(row["thinking_bonus"], abs=1e-9), where
        assert (score.num_actions, score.thinking_words) == (row["num_actions"], row["thinking_words"]), where
        assert score.solved is row["solved"], where


def test_strict_rules_reach_the_same_room_as_gym_sokoban() -> None:
    """On walled levels without boxes or the player starting on a goal (the official environment's quirks:
    numpy's negative indices wrap around an open edge), lmmr1's own rules end in the room gym-sokoban ends in,
    after the same (at most 50) actions."""
    rows = [json.loads(line) for line in OFFICIAL.read_text(encoding="utf-8").splitlines()]
    checked = 0
    for row in rows:
        quirky = "*" in row["level"] or "+" in row["level"] or set(row["level"].split("\n")[0]) != {"#"}
        if not row["format_ok"] or quirky:
            continue
        moves = parse_moves(row["response"].split("<answer>")[1].split("</answer>")[0])
        final = apply_moves(parse_level(row["level"]), moves[:50])
        assert room_state(final) == row["final_room"], row["response"][:80]
        checked += 1
    assert checked >= 300
