"""Synthetic Sokoban: every level is solvable (BFS solution replayed by the verifier's rules), gold is XSB."""

from __future__ import annotations

from lmmr1_cli.data.synthetic.sokoban import MAX_SOLUTION, PROBLEM, solve, to_xsb
from lmmr1_cli.data.synthetic.sokoban import generate as generate_levels
from lmmr1_cli.verify import verify
from lmmr1_cli.verify.paper_batch import verify_paper_batch
from lmmr1_cli.verify.sokoban import apply_moves, is_solved, moves_to_answer, paper_score, parse_level
from lmmr1_cli.verify.verdicts import VerifyItem


def _solution(xsb: str) -> str:
    level = parse_level(xsb)
    return solve(set(level.walls), set(level.goals), frozenset(level.boxes), level.player)


def test_every_generated_level_is_solvable_and_not_already_solved():
    for row in generate_levels("train", 12):
        level = parse_level(row["answer"])
        assert not is_solved(level)
        moves = _solution(row["answer"])
        assert moves and len(moves) <= MAX_SOLUTION
        assert is_solved(apply_moves(level, moves))
        assert verify(f"<think>push</think><answer>{moves}</answer>", row["answer"], "sokoban").correct


def test_levels_are_played_the_official_way_and_score_the_official_reward():
    """The answer the prompt asks for (Left, Right, Up, Down, comma-separated) solves each level in both modes;
    gym-sokoban's reward for a solution ends at 10 + 1 per box - 0.1 per step, and the best prefix is no less."""
    assert "Left, Right, Up, Down, separated by ','" in PROBLEM
    rows = list(generate_levels("train", 8))
    answers = []
    for row in rows:
        assert "+" not in row["answer"] and "*" not in row["answer"]  # no official-encoding quirks
        moves = _solution(row["answer"])
        answer = f"<think>push it</think><answer>{moves_to_answer(moves)}</answer>"
        assert verify(answer, row["answer"], "sokoban").correct
        level = parse_level(row["answer"])
        score = paper_score(answer, level)
        assert score.solved and score.env_reward >= 10 + len(level.boxes) - 0.1 * len(moves) - 1e-9
        answers.append(VerifyItem(answer, row["answer"], "sokoban"))
    verdicts = verify_paper_batch(answers)
    assert all(v.correct and v.format_ok and v.accuracy > 7 for v in verdicts)


def test_bfs_finds_the_shortest_solution_and_reports_unsolvable():
    walls = {(r, c) for r in range(3) for c in range(5) if r != 1 or c in (0, 4)}
    assert solve(walls, {(1, 3)}, frozenset({(1, 2)}), (1, 1)) == "R"
    assert solve(walls, {(1, 1)}, frozenset({(1, 2)}), (1, 3)) == "L"
    # A box in a corridor's dead end can never be pulled back.
    assert solve(walls, {(1, 1)}, frozenset({(1, 3)}), (1, 1)) is None
    assert to_xsb(3, 5, walls, {(1, 3)}, frozenset({(1, 2)}), (1, 1)) == "#####\n#@$.#\n#####"


def test_levels_are_deterministic_and_disjoint():
    assert [r["answer"] for r in generate_levels("train", 5)] == [
        r["answer"] for r in generate_levels("train", 5)
    ]
    train = {r["answer"] for r in generate_levels("train", 40)}
    assert not train & {r["answer"] for r in generate_levels("test", 15)}
