"""Training overhead: `lmmr1 train-fre` vs a bare TRL GRPOTrainer script, same config, model, data, rewards.

    .venv/bin/python bench/train_bench.py            # 3 alternating rounds x 30 steps per side
    .venv/bin/python bench/train_bench.py --json     # one JSON line: {"ratio": ..., ...}
    .venv/bin/python bench/train_bench.py --quick    # smoke test: 1 round x 6 steps

Both sides are subprocesses started the way a user starts them: `lmmr1 train-fre --recipe tiny-fre` and
`python bench/bare_trl_grpo.py`, which gets the GRPOConfig lmmr1 builds for the recipe (checked to round-trip
field for field), the same tiny model directory, the same `rows.jsonl` and the same system prompt, with a plain
user's rewards (a tag regex, math-verify on the `<answer>` span). Rounds alternate which side goes first, because
the machine is shared and its load drifts. Step time is the wall time between consecutive optimizer steps, the
first steps of each run (allocation, lazy imports) dropped; the verifier's share is the time inside the accuracy
reward (lmmr1's `verifier/seconds` metric) over the step time. Target (issue 13): ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RECIPE = "tiny-fre"
DATA_RECIPE = "synthetic-largest"
SKIP_STEPS = 3  # first steps of each run pay for allocation and lazy imports


def grpo_kwargs(run_dir: Path, steps: int) -> tuple[dict, object]:
    """The GRPOConfig kwargs lmmr1 builds for the recipe, as JSON-able values that rebuild the same config."""
    from trl import GRPOConfig

    from lmmr1_cli.config import load_train_config
    from lmmr1_cli.train import build_grpo_config

    config = load_train_config(
        RECIPE, overrides=[f"run.max_steps={steps}", f"run.save_every_rollouts={steps + 1}"]
    )
    grpo = build_grpo_config(config, run_dir, use_cpu=True)
    fields = {f.name for f in dataclasses.fields(grpo) if f.init}
    # generation_batch_size is derived from steps_per_generation in __post_init__; TRL refuses both at once.
    kwargs = {k: v for k, v in grpo.to_dict().items() if k in fields and k != "generation_batch_size"}
    kwargs = json.loads(json.dumps(kwargs))
    if GRPOConfig(**kwargs).to_dict() != grpo.to_dict():
        raise SystemExit("error: the bare script's GRPOConfig would differ from lmmr1's")
    return kwargs, config


def run_lmmr1(data: Path, out: Path, steps: int, env: dict) -> list[dict]:
    cmd = [
        str(BIN / "lmmr1"),
        "train-fre",
        "--recipe",
        RECIPE,
        "--data",
        str(data),
        "-o",
        str(out),
        "--force",
    ]
    cmd += [f"run.max_steps={steps}", f"run.save_every_rollouts={steps + 1}"]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line]
    return [
        {"seconds": row["seconds_per_step"], "reward_seconds": row.get("verifier/seconds")}
        for row in rows
        if "seconds_per_step" in row
    ]


def run_bare(config_json: Path, model: Path, data: Path, config, timings: Path, env: dict) -> list[dict]:
    from lmmr1_cli.prompts import resolve_system_prompt

    m = config.model
    cmd = [str(BIN / "python"), str(ROOT / "bench" / "bare_trl_grpo.py"), "--config", str(config_json)]
    cmd += ["--model", str(model), "--data", str(data), "--timings", str(timings)]
    cmd += [
        "--system-prompt",
        resolve_system_prompt(m.system_prompt) or "",
        "--min-pixels",
        str(m.min_pixels),
    ]
    cmd += ["--max-pixels", str(m.max_pixels)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return json.loads(timings.read_text())["steps"]


def summarize(steps: list[dict]) -> dict:
    seconds = [s["seconds"] for s in steps]
    rewards = [s["reward_seconds"] for s in steps if s.get("reward_seconds") is not None]
    share = (
        sum(rewards) / sum(s["seconds"] for s in steps if s.get("reward_seconds") is not None)
        if rewards
        else None
    )
    return {
        "median_step_seconds": round(statistics.median(seconds), 4),
        "steps_timed": len(seconds),
        "verifier_share": None if share is None else round(share, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per run")
    parser.add_argument("--quick", action="store_true", help="1 round x 6 steps: a smoke test of the script")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    args = parser.parse_args()
    rounds, steps = (1, 6) if args.quick else (args.rounds, args.steps)

    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import load_recipe
    from lmmr1_cli.tiny import tiny_model_dir

    # One torch thread per process, as `make demo` runs the tiny model (docs/benchmarks.md: fastest here).
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    timed = {"lmmr1": [], "trl": []}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="train-bench-") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        prepare_dataset(load_recipe(DATA_RECIPE), data, PrepareOptions(split="train", limit=256))
        kwargs, config = grpo_kwargs(tmp / "bare" / "checkpoints", steps)
        config_json = tmp / "grpo.json"
        config_json.write_text(json.dumps(kwargs))
        model = tiny_model_dir()
        for index in range(rounds):
            sides = ["lmmr1", "trl"] if index % 2 == 0 else ["trl", "lmmr1"]
            for side in sides:
                if side == "lmmr1":
                    got = run_lmmr1(data, tmp / "lmmr1", steps, env)
                else:
                    got = run_bare(config_json, model, data, config, tmp / "timings.json", env)
                timed[side] += got[SKIP_STEPS:] if len(got) > SKIP_STEPS else got
    result = {side: summarize(steps_) for side, steps_ in timed.items()}
    ratio = result["lmmr1"]["median_step_seconds"] / result["trl"]["median_step_seconds"]
    summary = {
        "ratio": round(ratio, 4),
        "lmmr1": result["lmmr1"],
        "trl": result["trl"],
        "rounds": rounds,
        "steps_per_run": steps,
        "recipe": RECIPE,
        "data": DATA_RECIPE,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(
        f"train-fre --recipe {RECIPE} on {DATA_RECIPE}: {rounds} alternating rounds x {steps} steps per side"
    )
    for side, label in (("lmmr1", "lmmr1 train-fre"), ("trl", "bare TRL script")):
        r = result[side]
        share = "n/a" if r["verifier_share"] is None else f"{100 * r['verifier_share']:.1f}%"
        print(
            f"  {label:16s} median step {r['median_step_seconds']:.3f} s over {r['steps_timed']} steps; "
            f"verifier/reward share {share}"
        )
    print(f"  ratio lmmr1 / TRL: {ratio:.3f} (target <= 1.05)")


if __name__ == "__main__":
    main()
