"""The paper's FRE -> MGT vs Direct-RL ablation, in miniature, on the embedded tiny model (`make ablation`).

    .venv/bin/python bench/ablation.py -o ablation_out                 # 3 seeds, writes ablation_out/ablation.md
    .venv/bin/python bench/ablation.py -o ablation_out --seeds 0 1 2 3 4 --fre-steps 150 --mgt-steps 100

For each seed (the training seed; the tiny base model is the same): FRE on the text task then MGT on the image task
(`train-fre --recipe tiny-fre`, then `train-mgt --recipe tiny-mgt --init`), against Direct-RL on the image task
from the base model for the same total number of steps (`train-mgt --init tiny`). Then one greedy `lmmr1 eval` of
the base model and every run on the held-out splits of both tasks. Every step is the `lmmr1` command a user
types; finished runs are kept, so re-running the script resumes. Accuracy per arm is pooled over seeds (all
answers of all seeds; 95% Wilson CI) and listed per seed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TEXT, IMAGE = "synthetic-largest", "synthetic-largest-picture"


def lmmr1(*args: object) -> None:
    subprocess.run([str(BIN / "lmmr1"), *map(str, args)], check=True, stdout=subprocess.DEVNULL)


def prepare(out: Path, recipe: str, split: str, limit: int) -> Path:
    target = out / "data" / f"{recipe}-{split}"
    if not (target / "manifest.json").is_file():
        lmmr1("prepare-data", recipe, "--split", split, "--limit", limit, "-o", target, "--force")
    return target


def train(stage: str, recipe: str, data: Path, run: Path, steps: int, seed: int, init: str | None) -> Path:
    if not (run / "summary.json").is_file():
        cmd = [f"train-{stage}", "--recipe", recipe, "--data", data, "-o", run, "--force"]
        cmd += ["--init", init] if init else []
        lmmr1(*cmd, f"run.max_steps={steps}", f"run.seed={seed}", f"run.save_every_rollouts={steps}")
    return run


def pooled(results: dict, labels: list[str], benchmark: str) -> dict:
    from lmmr1_cli.evaluation.scoring import wilson_interval

    per_seed = [results[label][benchmark] for label in labels]
    correct = sum(r["correct"] for r in per_seed)
    total = sum(r["generations"] for r in per_seed)
    low, high = wilson_interval(correct, total)
    return {
        "accuracy": correct / total,
        "ci95": [low, high],
        "per_seed": [r["accuracy"] for r in per_seed],
        "answers": total,
    }


def table(summary: dict) -> str:
    arms = summary["arms"]
    lines = [
        f"| arm | steps | {TEXT} (text) | {IMAGE} (image) |",
        "|---|---|---|---|",
    ]
    for name, arm in arms.items():
        cells = []
        for benchmark in ("text", "image"):
            r = arm[benchmark]
            seeds = ", ".join(f"{100 * a:.0f}" for a in r["per_seed"])
            cells.append(
                f"{100 * r['accuracy']:.1f}% ({100 * r['ci95'][0]:.1f}-{100 * r['ci95'][1]:.1f}) [{seeds}]"
            )
        lines.append(f"| {name} | {arm['steps']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-o", "--out", type=Path, default=Path("ablation_out"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fre-steps", type=int, default=120)
    parser.add_argument("--mgt-steps", type=int, default=80)
    parser.add_argument("--train-rows", type=int, default=256)
    parser.add_argument("--test-rows", type=int, default=128)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    args = parser.parse_args()
    out: Path = args.out
    started = time.perf_counter()

    text_train, image_train = (prepare(out, r, "train", args.train_rows) for r in (TEXT, IMAGE))
    text_test, image_test = (prepare(out, r, "test", args.test_rows) for r in (TEXT, IMAGE))
    total = args.fre_steps + args.mgt_steps
    runs = {"FRE (text)": [], "FRE -> MGT": [], "Direct-RL (image)": []}
    for seed in args.seeds:
        fre = train("fre", "tiny-fre", text_train, out / f"runs/fre-s{seed}", args.fre_steps, seed, None)
        mgt = train("mgt", "tiny-mgt", image_train, out / f"runs/mgt-s{seed}", args.mgt_steps, seed, str(fre))
        direct = train("mgt", "tiny-mgt", image_train, out / f"runs/direct-s{seed}", total, seed, "tiny")
        for arm, run in zip(runs, (fre, mgt, direct), strict=True):
            runs[arm].append(run)

    results_dir = out / "results"
    models = ["tiny"] + [str(run) for arm_runs in runs.values() for run in arm_runs]
    eval_args = [a for m in models for a in ("--model", m)]
    eval_args += ["--benchmark", text_test, "--benchmark", image_test, "--max-new-tokens", 32]
    lmmr1("eval", *eval_args, "-o", results_dir)
    results = json.loads((results_dir / "summary.json").read_text())["results"]
    labels = list(results)  # eval's labels, in --model order: the base first, then the runs in arm order
    names = {"text": text_test.name, "image": image_test.name}
    arms = {"base (tiny)": {"steps": 0, **{k: pooled(results, labels[:1], b) for k, b in names.items()}}}
    start = 1
    for arm, arm_runs in runs.items():
        arm_labels = labels[start : start + len(arm_runs)]
        start += len(arm_runs)
        steps = {"FRE (text)": args.fre_steps}.get(arm, total)
        arms[arm] = {"steps": steps, **{k: pooled(results, arm_labels, b) for k, b in names.items()}}
    summary = {
        "seeds": args.seeds,
        "fre_steps": args.fre_steps,
        "mgt_steps": args.mgt_steps,
        "test_rows": args.test_rows,
        "arms": arms,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "ablation.json").write_text(json.dumps(summary, indent=2))
    (out / "ablation.md").write_text(table(summary))
    print(json.dumps(summary) if args.json else table(summary), end="" if not args.json else "\n")


if __name__ == "__main__":
    main()
