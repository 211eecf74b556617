"""Small Sokoban levels rendered as images, solvable by construction (reverse play from the solved state) and
checked with a BFS solver; the gold is the level in XSB text, which the verifier replays predicted moves on.

As the paper plays it (TideDra/lmm-r1 `examples/scripts/lmm_r1/train_sokoban.sh`): the answer is a comma-separated
sequence of Left, Right, Up, Down; the picture shows a green player, yellow boxes and red-dot targets, which the
official prompt names. Levels never start with the player or a box on a goal: the official `.npy` encoding loses a
goal under the player, and its environment leaves a copy of a box that starts on a goal when it is pushed away.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator

from PIL import Image, ImageDraw

from lmmr1_cli.data.synthetic import generate_split

NAME = "synthetic-sokoban"
TILE = 16
MAX_SOLUTION = 30  # longer optimal solutions are too hard for the demo's tiny models
MAX_SEARCH_STATES = 200_000
MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
# The official task text (train_sokoban.sh, dataset example): system message, then the user's text after the image.
SYSTEM_PROMPT = (
    "You're going to play a game of Sokoban, where the goal is to manipulate the green character to push the "
    "yellow box into the target area (an area with a red dot in the center). \nGenerate all actions from the "
    "initial frame to the end at once."
)
PROBLEM = (
    "You should first thinks about the reasoning process in the mind and then provides the user with the answer, "
    "the answer is a long sequence of Left, Right, Up, Down, separated by ','. The reasoning process and answer "
    "are enclosed within <think> </think> and <answer> </answer> tags, respectively, e.g., <think> To ... "
    "</think><answer> Left, Right, ... </answer>, which means your output should start with <think> and end with "
    "</answer>."
)

Cell = tuple[int, int]


def to_xsb(
    height: int, width: int, walls: set[Cell], goals: set[Cell], boxes: frozenset[Cell], player: Cell
) -> str:
    lines = []
    for r in range(height):
        line = ""
        for c in range(width):
            p = (r, c)
            if p in walls:
                line += "#"
            elif p == player:
                line += "+" if p in goals else "@"
            elif p in boxes:
                line += "*" if p in goals else "$"
            else:
                line += "." if p in goals else " "
        lines.append(line.rstrip())
    return "\n".join(lines)


def solve(walls: set[Cell], goals: set[Cell], boxes: frozenset[Cell], player: Cell) -> str | None:
    """A shortest move string (BFS over player+boxes states), or None if unsolvable within the search budget."""
    start = (player, boxes)
    parents: dict = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        pos, bx = state
        if bx <= goals:
            moves = []
            while parents[state] is not None:
                state, move = parents[state]
                moves.append(move)
            return "".join(reversed(moves))
        for move, (dr, dc) in MOVES.items():
            nxt = (pos[0] + dr, pos[1] + dc)
            if nxt in walls:
                continue
            nbx = bx
            if nxt in bx:
                beyond = (nxt[0] + dr, nxt[1] + dc)
                if beyond in walls or beyond in bx:
                    continue
                nbx = (bx - {nxt}) | {beyond}
            new = (nxt, nbx)
            if new not in parents:
                parents[new] = (state, move)
                if len(parents) > MAX_SEARCH_STATES:
                    return None
                queue.append(new)
    return None


def _room(rng: random.Random) -> tuple[int, int, set[Cell], list[Cell]]:
    height, width = rng.randint(6, 8), rng.randint(6, 8)
    walls = {
        (r, c) for r in range(height) for c in range(width) if r in (0, height - 1) or c in (0, width - 1)
    }
    inner = [(r, c) for r in range(1, height - 1) for c in range(1, width - 1)]
    for cell in rng.sample(inner, k=len(inner) // 8):
        walls.add(cell)
    floor = [p for p in inner if p not in walls]
    # Keep only the floor connected to the first cell, so every placed object is reachable.
    seen, todo = {floor[0]}, [floor[0]]
    while todo:
        r, c = todo.pop()
        for dr, dc in MOVES.values():
            n = (r + dr, c + dc)
            if n not in walls and n not in seen:
                seen.add(n)
                todo.append(n)
    walls |= set(floor) - seen
    return height, width, walls, sorted(seen)


def _reverse_play(rng: random.Random, walls: set[Cell], boxes: set[Cell], player: Cell, steps: int) -> Cell:
    """Random pulls from the solved state; every pull is undone by a push, so the result stays solvable."""
    for _ in range(steps):
        dr, dc = rng.choice(list(MOVES.values()))
        nxt = (player[0] + dr, player[1] + dc)
        if nxt in walls or nxt in boxes:
            continue
        behind = (player[0] - dr, player[1] - dc)
        if behind in boxes and rng.random() < 0.7:
            boxes.remove(behind)
            boxes.add(player)
        player = nxt
    return player


def render(height: int, width: int, walls: set[Cell], goals: set[Cell], boxes: frozenset[Cell], player: Cell):
    image = Image.new("RGB", (width * TILE, height * TILE), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    for r in range(height):
        for c in range(width):
            x, y = c * TILE, r * TILE
            p = (r, c)
            if p in walls:
                draw.rectangle([x, y, x + TILE - 1, y + TILE - 1], fill=(90, 90, 90))
                continue
            if p in goals:
                draw.ellipse([x + 5, y + 5, x + TILE - 6, y + TILE - 6], fill=(210, 40, 40))
            if p in boxes:
                draw.rectangle(
                    [x + 2, y + 2, x + TILE - 3, y + TILE - 3], fill=(230, 200, 40), outline=(120, 90, 20)
                )
                if p in goals:  # the red dot stays visible on a box that covers its target
                    draw.ellipse([x + 6, y + 6, x + TILE - 7, y + TILE - 7], fill=(210, 40, 40))
            if p == player:
                draw.ellipse([x + 3, y + 3, x + TILE - 4, y + TILE - 4], fill=(40, 170, 60))
    return image


def _candidate(rng: random.Random) -> tuple[str, dict]:
    while True:
        height, width, walls, floor = _room(rng)
        n_boxes = rng.choice((1, 1, 2))
        if len(floor) < n_boxes + 4:
            continue
        goals = set(rng.sample(floor, n_boxes))
        boxes = set(goals)
        player = rng.choice([p for p in floor if p not in boxes])
        player = _reverse_play(rng, walls, boxes, player, steps=rng.randint(10, 60))
        frozen = frozenset(boxes)
        if frozen & goals or player in goals:  # see the module docstring: official quirks
            continue
        solution = solve(walls, goals, frozen, player)
        if solution is None or len(solution) > MAX_SOLUTION:
            continue
        xsb = to_xsb(height, width, walls, goals, frozen, player)
        _check_with_verifier(xsb, solution)
        image = render(height, width, walls, goals, frozen, player)
        row = {
            "system": SYSTEM_PROMPT,  # as in the official dataset's message; `model.system_prompt: auto` uses it
            "problem": PROBLEM,
            "images": [image],
            "answer": xsb,
            "answer_type": "sokoban",
            "choices": None,
        }
        return xsb, row


def _check_with_verifier(xsb: str, solution: str) -> None:
    """The verifier's rules must agree that our solution solves the level (two implementations, one truth), and
    so must the official reward's environment within its 50-action budget."""
    from lmmr1_cli.verify.sokoban import apply_moves, is_solved, moves_to_answer, paper_score, parse_level

    level = parse_level(xsb)
    answer = f"<think>plan</think><answer>{moves_to_answer(solution)}</answer>"
    if not is_solved(apply_moves(level, solution)) or not paper_score(answer, level).solved:
        raise AssertionError(f"BFS solution {solution} does not solve level:\n{xsb}")


def generate(split: str = "train", limit: int = 200, seed: int = 0) -> Iterator[dict]:
    """Source rows of `split`: one rendered level each, gold = XSB text; train and test never share a level."""
    return generate_split(_candidate, NAME, split, limit, seed)
