"""Run the official LMM-R1 reward code, unmodified, to produce the expected values lmmr1's `paper` mode is tested on.

The official files (TideDra/lmm-r1 at f917f18, `openrlhf/models/remote_rm/{math,sokoban}_verifier.py`) are imported
from a checkout, in a separate virtualenv with the versions the release used, because they do not install next to
lmmr1's dependencies: the release pins math-verify 0.5.2 (lmmr1 uses 0.9), and gym-sokoban 0.0.6 imports
`pkg_resources`, which setuptools >= 81 no longer ships, and needs the unmaintained `gym`.

    python -m venv /tmp/ref-math && /tmp/ref-math/bin/pip install math-verify==0.5.2 flask loguru
    /tmp/ref-math/bin/python bench/official_reference.py math --official PATH/TO/lmm-r1
        # checks tests/verify/paper_cases.py against the official server; exit 1 on any disagreement

    python -m venv /tmp/ref-gym && /tmp/ref-gym/bin/pip install gym-sokoban flask levenshtein "setuptools<81"
    /tmp/ref-gym/bin/python bench/official_reference.py sokoban --official PATH/TO/lmm-r1 \
        --out tests/verify/data/sokoban_official.jsonl
        # gym-sokoban levels x generated plans -> the official reward and final room of each (the test fixture)

The script imports nothing from lmmr1, so it runs in those virtualenvs as is.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"


def load_official(checkout: Path, name: str):
    path = checkout / "openrlhf" / "models" / "remote_rm" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"official_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Both servers set these two globals in their `__main__` block (`--prompt-template chatml`).
    module.format_pattern = r"^<think>(?:(?!</think>).)*</think><answer>(?:(?!</answer>).)*</answer>\Z"
    module.response_prefix = r"<\|im_start\|>assistant\n"
    return module


def official_math(module, response: str, gold: str) -> tuple[bool, float]:
    """What `math_verifier.get_reward` computes for one (response, label): (format verdict, accuracy reward)."""
    answer = gold if gold.startswith("$") else "$" + gold + "$"
    q = PROMPT + response
    content = module.get_response_from_query(q) or q
    return bool(module.verify_format(content)), module.verify_math(content, answer)


def check_math(checkout: Path) -> int:
    sys.path.insert(0, str(ROOT / "tests" / "verify"))
    from paper_cases import PAPER_CASES

    module = load_official(checkout, "math_verifier")
    bad = 0
    for index, (response, gold, fmt, acc) in enumerate(PAPER_CASES):
        got_fmt, got_acc = official_math(module, response, gold)
        if (got_fmt, got_acc) != (fmt, float(acc)):
            bad += 1
            print(
                f"case {index}: table says ({fmt}, {acc}), official ({got_fmt}, {got_acc}): {response!r} {gold!r}"
            )
    print(f"{len(PAPER_CASES) - bad}/{len(PAPER_CASES)} cases agree with the official math_verifier.py")
    return 1 if bad else 0


# ---- sokoban -----------------------------------------------------------------------------------------------------
TILE = {0: "#", 1: " ", 2: ".", 3: "*", 4: "$"}
MOVES = {"Up": (-1, 0), "Down": (1, 0), "Left": (0, -1), "Right": (0, 1)}


def to_xsb(room_fixed, room_state) -> str:
    lines = []
    for r, row in enumerate(room_state):
        line = ""
        for c, value in enumerate(row):
            if value == 5:
                line += "+" if room_fixed[r][c] == 2 else "@"
            else:
                line += TILE[int(value)]
        lines.append(line)
    return "\n".join(lines)


# Hand-made levels for the environment's corners: a box that starts on a goal (pushing it off leaves a copy in
# `room_fixed`), the player starting on a goal (the .npy loses that goal), a box pushed against the grid edge.
HAND_MADE = [
    "#####\n#@$.#\n#####",
    "######\n#@*$.#\n######",
    "#######\n#@ *  #\n#  $. #\n#######",
    "#####\n#+$ #\n# $.#\n#####",
    "#####\n#.$@#\n#####",
    " $@.\n####",
]


def from_xsb(text: str):
    lines = text.split("\n")
    width = max(len(line) for line in lines)
    fixed, state = [], []
    for line in lines:
        row_f, row_s = [], []
        for ch in line.ljust(width, "#"):
            row_f.append({"#": 0, ".": 2, "*": 2, "+": 2}.get(ch, 1))
            row_s.append({"#": 0, " ": 1, ".": 2, "*": 3, "$": 4, "@": 5, "+": 5}[ch])
        fixed.append(row_f)
        state.append(row_s)
    return fixed, state


def bfs_plan(room_fixed, room_state, limit: int = 100_000) -> list[str] | None:
    walls = {(r, c) for r, row in enumerate(room_fixed) for c, v in enumerate(row) if v == 0}
    goals = {(r, c) for r, row in enumerate(room_fixed) for c, v in enumerate(row) if v == 2}
    goals |= {(r, c) for r, row in enumerate(room_state) for c, v in enumerate(row) if v == 3}
    boxes = frozenset((r, c) for r, row in enumerate(room_state) for c, v in enumerate(row) if v in (3, 4))
    player = next((r, c) for r, row in enumerate(room_state) for c, v in enumerate(row) if v == 5)
    start = (player, boxes)
    parent = {start: None}
    queue = deque([start])
    while queue and len(parent) < limit:
        state = queue.popleft()
        pos, bx = state
        if bx <= goals:
            plan = []
            while parent[state] is not None:
                state, move = parent[state]
                plan.append(move)
            return plan[::-1]
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
            if (nxt, nbx) not in parent:
                parent[(nxt, nbx)] = (state, move)
                queue.append((nxt, nbx))
    return None


def spell(rng: random.Random, moves: list[str]) -> str:
    styles = [str, str.lower, str.upper]
    seps = [", ", ",", " , ", ",\n"]
    style, sep = rng.choice(styles), rng.choice(seps)
    return sep.join(style(m) for m in moves)


def thinking(rng: random.Random) -> str:
    words = ["box", "is", "a", "to", "I", "up", "x", "go"]
    text = " ".join(rng.choice(words) for _ in range(rng.choice([0, 3, 40, 199, 200, 230])))
    return text.replace(" go ", "\ngo ") if rng.random() < 0.3 else text


def responses(rng: random.Random, plan: list[str] | None) -> list[str]:
    out = []
    for _ in range(6):
        moves = [rng.choice(list(MOVES)) for _ in range(rng.choice([1, 5, 19, 20, 21, 35, 60]))]
        out.append(f"<think>{thinking(rng)}</think><answer>{spell(rng, moves)}</answer>")
    if plan:
        out.append(f"<think>{thinking(rng)}</think><answer>{spell(rng, plan)}</answer><|im_end|>")
        out.append(f"<think>{thinking(rng)}</think><answer>{spell(rng, plan + ['Left', 'Up'])}</answer>")
        out.append(f"<think>{thinking(rng)}</think><answer>{spell(rng, plan[:-1])}</answer>")
    out += [
        "<think>go</think><answer>" + ", ".join(["Left"] * 8) + "</answer>",  # a repeat
        "<think>go</think><answer>" + ", ".join(["Left", "Right"] * 8) + "</answer>",
        "<think>go</think><answer>Left, Jump</answer>",  # not an action
        "<think>go</think><think>again</think><answer>Left</answer>",
        "<answer>Up</answer><think>tags in the other order</think>",
        "<think>go</think>\n<answer> Up , DOWN </answer>\n",
        "Left, Up",
        "<think>go</think><answer></answer>",
    ]
    return out


def make_sokoban(checkout: Path, out: Path, levels: int, seed: int) -> int:
    import multiprocessing as mp

    import numpy as np
    from gym_sokoban.envs.sokoban_env import SokobanEnv

    module = load_official(checkout, "sokoban_verifier")
    rng = random.Random(seed)
    np.random.seed(seed)
    rows = []
    tmp = out.parent / ".official_levels"
    tmp.mkdir(parents=True, exist_ok=True)
    for index in range(levels + len(HAND_MADE)):
        if index < len(HAND_MADE):
            room_fixed, room_state = from_xsb(HAND_MADE[index])
        else:
            env = SokobanEnv(dim_room=(7, 7), num_boxes=rng.choice([1, 2, 3]))
            room_fixed, room_state = env.room_fixed.tolist(), env.room_state.tolist()
        level_path = tmp / f"level_{index}.npy"
        np.save(level_path, np.array(room_state))  # what examples/data/gen_sokoban_tasks.py saves
        plan = bfs_plan(room_fixed, room_state)
        for response in responses(rng, plan):
            q = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n" + response
            content = module.get_response_from_query(q) or q
            details = module.verify_format(content)
            xsb = HAND_MADE[index] if index < len(HAND_MADE) else to_xsb(room_fixed, room_state)
            row = {"level": xsb, "response": response, "format_ok": all(details)}
            if all(details):
                inbox, outbox = mp.Queue(), mp.Queue()
                inbox.put(("t", content, str(level_path), ""))
                inbox.put(None)
                module.verify_sokoban(inbox, outbox)
                _, best, action, think, n_actions, n_words = outbox.get()
                env2 = module.create_env_direct(str(level_path))
                for act in [
                    a.strip().lower() for a in content.split("<answer>")[1].split("</answer>")[0].split(",")
                ][:50]:
                    _, step_reward, done, _ = env2.step(module.ACT_TO_INT[act])
                    if done or step_reward > 3:
                        break
                row.update(
                    total=best + 1.0 * 0.5 + action + think,
                    env_reward=best,
                    action_bonus=action,
                    thinking_bonus=think,
                    num_actions=n_actions,
                    thinking_words=n_words,
                    solved=bool(env2._check_if_all_boxes_on_target()),
                    final_room=env2.room_state.tolist(),
                )
            else:
                row.update(total=0.0)
            rows.append(row)
    with out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    for path in tmp.iterdir():
        path.unlink()
    tmp.rmdir()
    print(f"wrote {len(rows)} official Sokoban scores over {levels} gym-sokoban levels to {out}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["math", "sokoban"])
    parser.add_argument("--official", type=Path, required=True, help="checkout of TideDra/lmm-r1 (f917f18)")
    parser.add_argument("--out", type=Path, default=ROOT / "tests/verify/data/sokoban_official.jsonl")
    parser.add_argument(
        "--levels", type=int, default=24, help="gym-sokoban levels, besides the hand-made ones"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.kind == "math":
        return check_math(args.official)
    return make_sokoban(args.official, args.out, args.levels, args.seed)


if __name__ == "__main__":
    sys.exit(main())
