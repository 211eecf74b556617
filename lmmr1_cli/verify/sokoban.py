"""Sokoban as the paper plays it: gym-sokoban's move rules, the official action vocabulary and reward.

Levels are XSB text: `#` wall, ` ` or `-` floor, `@` player, `+` player on goal, `$` box, `*` box on goal,
`.` goal. Moves follow gym-sokoban 0.0.6 (`SokobanEnv._push`/`_move`): a move into a wall, or a push of a box into
a wall or another box, leaves the state as it is (a wasted step, not an illegal move); the game ends as soon as
every box is on a goal, and later moves are not played.

Two scores:
- `strict` (lmmr1's own): solved or not (`apply_moves` + `is_solved`); moves as `Left, Right, Up, Down` words or
  `U D L R` letters, any case, any separators.
- `paper` (`paper_score`): `sokoban_verifier.py` of TideDra/lmm-r1 at f917f18, reproduced exactly (see its
  docstring for the formula), played on gym-sokoban's room encoding with the same arithmetic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lmmr1_cli.verify.verdicts import GoldParseError

MAX_MOVES = 10_000  # a longer "solution" is treated as no answer rather than simulated
DIRECTIONS = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
# The official answer vocabulary (train_sokoban.sh prompt; sokoban_verifier.py ACT_TO_INT), case-insensitive.
ACTION_WORDS = {"up": "U", "down": "D", "left": "L", "right": "R"}
WORD_OF = {letter: word.capitalize() for word, letter in ACTION_WORDS.items()}
_WORDS = re.compile(r"\b(up|down|left|right)\b", re.IGNORECASE)
_LETTERS_ONLY = re.compile(r"[UDLRudlr\s,;.\-→>|\[\]()'\"]*")

# sokoban_verifier.py: EOS tokens it strips (three, not math's four), the plan cap and the reward terms.
SOKOBAN_END_OF_SEQUENCE_TOKENS = ("<|im_end|>", "<｜end▁of▁sentence｜>", "<|endoftext|>")
PAPER_MAX_ACTIONS = 50  # `for act in acts[:50]`
ACTION_BONUS = 0.05  # per action, up to ACTION_BONUS_CAP actions
ACTION_BONUS_CAP = 20
THINKING_BONUS = 0.001  # per reasoning word longer than one character, up to THINKING_BONUS_CAP words
THINKING_BONUS_CAP = 200
# gym-sokoban 0.0.6 SokobanEnv rewards (DirectLoadSokobanEnv sets the step penalty to -0.1 again).
STEP_PENALTY = -0.1
BOX_ON_TARGET = 1
BOX_OFF_TARGET = -1
FINISHED = 10


@dataclass(frozen=True)
class Level:
    walls: frozenset[tuple[int, int]]
    goals: frozenset[tuple[int, int]]
    boxes: frozenset[tuple[int, int]]
    player: tuple[int, int]


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

    >>> parse_moves("Up, up, Left")
    'UUL'
    >>> parse_moves("R R d")
    'RRD'
    """
    words = _WORDS.findall(answer)
    if words:
        rest = _WORDS.sub("", answer)
        if re.search(r"[A-Za-z0-9]", rest):
            return None
        moves = "".join(ACTION_WORDS[word.lower()] for word in words)
    elif _LETTERS_ONLY.fullmatch(answer):
        moves = "".join(ch for ch in answer.upper() if ch in DIRECTIONS)
    else:
        return None
    return moves if 0 < len(moves) <= MAX_MOVES else None


def moves_to_answer(moves: str) -> str:
    """`UDLR` letters as the official answer text.

    >>> moves_to_answer("RRD")
    'Right, Right, Down'
    """
    return ", ".join(WORD_OF[m] for m in moves)


def apply_moves(level: Level, moves: str) -> Level:
    """Play `moves` (UDLR letters) under gym-sokoban's rules; blocked moves change nothing, and play stops
    once every box is on a goal."""
    boxes = set(level.boxes)
    player = level.player
    for move in moves:
        if boxes == level.goals:
            break
        dr, dc = DIRECTIONS[move]
        target = (player[0] + dr, player[1] + dc)
        if target in level.walls:
            continue
        if target in boxes:
            beyond = (target[0] + dr, target[1] + dc)
            if beyond in level.walls or beyond in boxes:
                continue
            boxes.remove(target)
            boxes.add(beyond)
        player = target
    return Level(level.walls, level.goals, frozenset(boxes), player)


def is_solved(level: Level) -> bool:
    """Every box is on a goal."""
    return level.boxes == level.goals


# ---- paper mode: sokoban_verifier.py on gym-sokoban's room encoding ---------------------------------------------
# gym-sokoban cell codes: 0 wall, 1 floor, 2 target, 3 box on target, 4 box, 5 player.
WALL, FLOOR, TARGET, BOX_ON_GOAL, BOX, PLAYER = range(6)
_PUSH_TO_INT = {"up": 1, "down": 2, "left": 3, "right": 4}  # sokoban_verifier.py ACT_TO_INT (push actions)
_CHANGE = {0: (-1, 0), 1: (1, 0), 2: (0, -1), 3: (0, 1)}  # gym-sokoban CHANGE_COORDINATES


def room_state(level: Level) -> list[list[int]]:
    """The level as the official `.npy` files hold it (gym-sokoban's `room_state`). A player standing on a goal
    is saved as 5, so the goal under it is lost, as it is in the official files."""
    cells = level.walls | level.goals | level.boxes | {level.player}
    height = max(r for r, _ in cells) + 1
    width = max(c for _, c in cells) + 1
    room = [[FLOOR] * width for _ in range(height)]
    for r, c in level.walls:
        room[r][c] = WALL
    for r, c in level.goals:
        room[r][c] = TARGET
    for r, c in level.boxes:
        room[r][c] = BOX_ON_GOAL if (r, c) in level.goals else BOX
    room[level.player[0]][level.player[1]] = PLAYER
    return room


class GymSokoban:
    """gym-sokoban 0.0.6 `SokobanEnv` as `sokoban_verifier.DirectLoadSokobanEnv` sets it up from a saved level,
    step rule and reward arithmetic kept line for line (quirks included: boxes that start on a target stay in
    `room_fixed`, so pushing one off leaves a copy behind; such levels are not generated by lmmr1)."""

    def __init__(self, state: list[list[int]]) -> None:
        self.num_boxes = sum(row.count(BOX) for row in state)
        self.room_state = [list(row) for row in state]
        self.room_fixed = [list(row) for row in state]
        self.player = next((r, c) for r, row in enumerate(state) for c, v in enumerate(row) if v == PLAYER)
        for row in self.room_fixed:
            for c, value in enumerate(row):
                if value == BOX:
                    row[c] = FLOOR
        self.room_fixed[self.player[0]][self.player[1]] = FLOOR
        self.boxes_on_target = 0
        self.num_env_steps = 0
        self.max_steps = 120

    def _inside(self, r: int, c: int) -> bool:
        return r < len(self.room_state) and c < len(self.room_state[0])  # numpy wraps negative indices too

    def step(self, action: int) -> tuple[float, bool]:
        """One push action (1 up, 2 down, 3 left, 4 right): (reward of the step, done)."""
        self.num_env_steps += 1
        self._push(action)
        reward = self._calc_reward()
        return reward, self._all_boxes_on_target() or self.max_steps == self.num_env_steps

    def _push(self, action: int) -> None:
        dr, dc = _CHANGE[(action - 1) % 4]
        new = (self.player[0] + dr, self.player[1] + dc)
        new_box = (new[0] + dr, new[1] + dc)
        if not self._inside(*new_box):
            return  # gym-sokoban: no push and no move when the box would leave the grid
        if self.room_state[new[0]][new[1]] in (BOX_ON_GOAL, BOX) and self.room_state[new_box[0]][
            new_box[1]
        ] in (FLOOR, TARGET):
            self._walk(new)
            fixed = self.room_fixed[new_box[0]][new_box[1]]
            self.room_state[new_box[0]][new_box[1]] = BOX_ON_GOAL if fixed == TARGET else BOX
        elif self.room_state[new[0]][new[1]] in (FLOOR, TARGET):
            self._walk(new)

    def _walk(self, new: tuple[int, int]) -> None:
        old = self.player
        self.player = new
        self.room_state[new[0]][new[1]] = PLAYER
        self.room_state[old[0]][old[1]] = self.room_fixed[old[0]][old[1]]

    def _uncovered_targets(self) -> int:
        return sum(
            state == TARGET or (fixed == TARGET and state == PLAYER)
            for row_s, row_f in zip(self.room_state, self.room_fixed, strict=True)
            for state, fixed in zip(row_s, row_f, strict=True)
        )

    def _all_boxes_on_target(self) -> bool:
        return self._uncovered_targets() == 0

    def _calc_reward(self) -> float:
        reward = STEP_PENALTY
        on_target = self.num_boxes - self._uncovered_targets()
        if on_target > self.boxes_on_target:
            reward += BOX_ON_TARGET
        elif on_target < self.boxes_on_target:
            reward += BOX_OFF_TARGET
        if self._all_boxes_on_target():
            reward += FINISHED
        self.boxes_on_target = on_target
        return reward


@dataclass(frozen=True)
class SokobanScore:
    """The official reward's parts for one response; `total` is what the official server returns."""

    format_ok: bool
    solved: bool
    env_reward: float  # best cumulative gym-sokoban reward over the first 50 actions (≥ 0)
    action_bonus: float
    thinking_bonus: float
    num_actions: int
    thinking_words: int
    actions_text: str | None

    @property
    def accuracy(self) -> float:
        """The official total minus its 0.5 x format part (0 when the format fails, as officially)."""
        if not self.format_ok:
            return 0.0
        return self.env_reward + self.action_bonus + self.thinking_bonus

    @property
    def total(self) -> float:
        if not self.format_ok:
            return 0.0
        return self.env_reward + 0.5 + self.action_bonus + self.thinking_bonus


def clean_response(response: str) -> str:
    """sokoban_verifier.py `get_response_from_query`: its three end-of-sequence tokens removed, then stripped."""
    for token in SOKOBAN_END_OF_SEQUENCE_TOKENS:
        response = response.replace(token, "")
    return response.strip()


def paper_format(response: str) -> bool:
    """sokoban_verifier.py `verify_format` on a response: one of each tag (in any order) and every comma-separated
    item of the answer one of left/right/up/down (any case). Unlike the math rule, no regex on the layout."""
    response = clean_response(response)
    actions_ok = False
    try:
        acts = [a.strip().lower() for a in response.split("<answer>")[1].split("</answer>")[0].split(",")]
        actions_ok = all(a in _PUSH_TO_INT for a in acts)
    except IndexError:
        pass
    return all(response.count(tag) == 1 for tag in ("</think>", "</answer>", "<think>", "<answer>")) and (
        actions_ok
    )


def paper_score(response: str, level: Level) -> SokobanScore:
    """The official Sokoban reward (sokoban_verifier.py), term by term:

    0 when the format fails; else `best + 0.5 + actions + thinking`, where `best` is the highest cumulative
    gym-sokoban reward (-0.1 a step, +1 a box onto a target, -1 off, +10 solved) over the first 50 actions,
    never below 0; `actions` is 0.05 x n for n < 20 actions, else 1.0 - 0.2 x ((n - 20) / 30)^2, and at most
    `min(0, actions - 0.2)` when the answer repeats a 1- to 5-word group more than 7 times in a row; `thinking`
    is 0.001 per space-separated reasoning word longer than one character, up to 200 words.
    """
    output = clean_response(response)
    if not paper_format(output):
        return SokobanScore(False, False, 0.0, 0.0, 0.0, 0, 0, None)
    acts_text = output.split("<answer>")[1].split("</answer>")[0].strip()
    acts = [a.strip().lower() for a in acts_text.split(",")]
    n = len(acts)
    if n < ACTION_BONUS_CAP:
        action_bonus = 0.0 + n * ACTION_BONUS
    else:
        action_bonus = 0.0 + (ACTION_BONUS_CAP * ACTION_BONUS - ((n - ACTION_BONUS_CAP) / 30) ** 2 * 0.2)
    analyze = output.split("<think>")[1].split("</think>")[0].strip()
    words = [w for w in analyze.split(" ") if len(w) > 1]
    thinking_bonus = 0.0 + min(len(words), THINKING_BONUS_CAP) * THINKING_BONUS
    if repeats_too_often(acts_text, 7, 5):
        action_bonus = min(0, action_bonus - 0.2)
    env = GymSokoban(room_state(level))
    reward = best = 0.0
    solved = False
    for act in acts[:PAPER_MAX_ACTIONS]:
        step_reward, done = env.step(_PUSH_TO_INT[act])
        reward += step_reward
        best = max(best, reward)
        solved = solved or env._all_boxes_on_target()
        if done or step_reward > 3:
            break
    return SokobanScore(True, solved, best, action_bonus, thinking_bonus, n, len(words), acts_text)


def repeats_too_often(text: str, n: int, max_k: int) -> bool:
    """sokoban_verifier.py `check_repeated_substrings`: does some k-word group (k ≤ max_k) occur more than n
    times back to back? Words are `\\b\\w[\\w']*\\b`, lower-cased."""
    words = re.findall(r"\b\w[\w']*\b", text.lower())
    seen: dict[int, dict[tuple, tuple[int, int]]] = {k: {} for k in range(1, max_k + 1)}
    for i in range(len(words)):
        for k in range(1, max_k + 1):
            if i < k - 1:
                continue
            start = i - k + 1
            gram = tuple(words[start : start + k])
            last = seen[k].get(gram)
            count = last[1] + 1 if last is not None and last[0] == start - k else 1
            seen[k][gram] = (start, count)
            if count > n:
                return True
    return False
