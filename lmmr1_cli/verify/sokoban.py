"""Sokoban rules as plain functions (the data generator imports them to check its levels).

Levels are XSB text: `#` wall, ` ` or `-` floor, `@` player, `+` player on goal, `$` box, `*` box on goal,
`.` goal. Moves are `U D L R` letters (any case, any separators) or the words up/down/left/right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmmr1_cli.verify.verdicts import GoldParseError

MAX_MOVES = 10_000  # a longer "solution" is treated as no answer rather than simulated
DIRECTIONS = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
_WORDS = re.compile(r"\b(up|down|left|right)\b", re.IGNORECASE)
_LETTERS_ONLY = re.compile(r"[UDLRudlr\s,;.\-→>|\[\]()'\"]*")


@dataclass(frozen=True)
class Level:
    walls: frozenset[tuple[int, int]]
    goals: frozenset[tuple[int, int]]
    boxes: frozenset[tuple[int, int]]
    player: tuple[int, int]


class IllegalMove(ValueError):
    """A move walks into a wall or pushes a box into a wall or another box."""

    def __init__(self, index: int, move: str) -> None:
        super().__init__(f"move {index + 1} ({move}) is illegal")
        self.index = index
        self.move = move


def parse_level(text: str) -> Level:
    """Parse an XSB level; raises GoldParseError unless it has one player and as many goals as boxes (≥ 1)."""
    walls, goals, boxes, players = set(), set(), set(), []
    for r, row in enumerate(text.split("\n")):
        for c, ch in enumerate(row.rstrip("\r")):
            pos = (r, c)
            if ch == "#":
                walls.add(pos)
            elif ch in "@+":
                players.append(pos)
            if ch in ".+*":
                goals.add(pos)
            if ch in "$*":
                boxes.add(pos)
            if ch not in "#@+$*. -_":
                raise GoldParseError(f"sokoban level has an unknown tile {ch!r} at row {r + 1}")
    if len(players) != 1:
        raise GoldParseError(f"sokoban level needs exactly one player, found {len(players)}")
    if not boxes or len(boxes) != len(goals):
        raise GoldParseError(
            f"sokoban level needs as many goals as boxes (≥1): {len(boxes)} boxes, {len(goals)} goals"
        )
    return Level(frozenset(walls), frozenset(goals), frozenset(boxes), players[0])


def parse_moves(answer: str) -> str | None:
    """Normalize a move sequence to `UDLR` letters; None if the text is not a move sequence.

    >>> parse_moves("up, up, Left")
    'UUL'
    >>> parse_moves("R R d")
    'RRD'
    """
    words = _WORDS.findall(answer)
    if words:
        rest = _WORDS.sub("", answer)
        if re.search(r"[A-Za-z0-9]", rest):
            return None
        moves = "".join(word[0].upper() for word in words)
    elif _LETTERS_ONLY.fullmatch(answer):
        moves = "".join(ch for ch in answer.upper() if ch in DIRECTIONS)
    else:
        return None
    return moves if 0 < len(moves) <= MAX_MOVES else None


def apply_moves(level: Level, moves: str) -> Level:
    """Play `moves` (UDLR letters); raises IllegalMove at the first illegal one."""
    boxes = set(level.boxes)
    player = level.player
    for index, move in enumerate(moves):
        dr, dc = DIRECTIONS[move]
        target = (player[0] + dr, player[1] + dc)
        if target in level.walls:
            raise IllegalMove(index, move)
        if target in boxes:
            beyond = (target[0] + dr, target[1] + dc)
            if beyond in level.walls or beyond in boxes:
                raise IllegalMove(index, move)
            boxes.remove(target)
            boxes.add(beyond)
        player = target
    return Level(level.walls, level.goals, frozenset(boxes), player)


def is_solved(level: Level) -> bool:
    """Every box is on a goal."""
    return level.boxes == level.goals
