"""The Sokoban stand-in for the paper's agent task (MageBench Sokoban-Global, Table 3): the model sees one rendered
level and plans every move at once; a plan is scored by whether it solves the level and by its gym-sokoban return.

MageBench's levels are not available here, so the levels are lmmr1's own (`sokoban-eval` data recipe: the
synthetic generator at a fixed seed, test split). The moves are played with the paper-fidelity rules of
`lmmr1_cli/verify/sokoban.py` (gym-sokoban 0.0.6 `SokobanEnv`: -0.1 a step, +1 a box onto a target, -1 off,
+10 when solved, at most 120 steps); the numbers are not comparable with Table 3.
"""

from __future__ import annotations

from lmmr1_cli.verify.extract import extract_answer
from lmmr1_cli.verify.sokoban import GymSokoban, parse_level, parse_moves, room_state

_ACTION = {"U": 1, "D": 2, "L": 3, "R": 4}  # gym-sokoban push actions (sokoban_verifier.py ACT_TO_INT)


def plan_return(completion: str, level_xsb: str) -> dict:
    """Play the plan in `completion` (its `<answer>` span, else its last `\\boxed{}`) on the level: the episode's
    cumulative gym-sokoban reward, whether every box ended on a target, and the moves played.

    >>> level = "#####\\n#@$.#\\n#####"
    >>> plan_return("<think>push</think><answer>Right</answer>", level)
    {'sokoban_return': 10.9, 'sokoban_solved': True, 'sokoban_moves': 1}
    """
    extraction = extract_answer(completion, boxed_fallback=True)
    moves = parse_moves(extraction.text) if extraction is not None else None
    if not moves:
        return {"sokoban_return": 0.0, "sokoban_solved": False, "sokoban_moves": 0}
    env = GymSokoban(room_state(parse_level(level_xsb)))
    total, played, done = 0.0, 0, False
    for move in moves:
        reward, done = env.step(_ACTION[move])
        total += reward
        played += 1
        if done:
            break
    return {
        "sokoban_return": round(total, 4),
        "sokoban_solved": env._all_boxes_on_target(),
        "sokoban_moves": played,
    }


def sokoban_summary(records: list[dict]) -> dict:
    """Solved rate and mean return over the records that were played (answer_type sokoban); {} if none."""
    played = [r for r in records if "sokoban_return" in r]
    if not played:
        return {}
    return {
        "solved_rate": sum(1 for r in played if r["sokoban_solved"]) / len(played),
        "mean_return": sum(r["sokoban_return"] for r in played) / len(played),
    }
