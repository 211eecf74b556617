"""The demo chain over seeds and CPU kernel settings, and the paper's FRE -> MGT vs Direct-RL ablation in miniature,
on the shipped tiny model (`make ablation`).

    .venv/bin/python bench/ablation.py -o ablation_out                       # seeds 0-4, both kernels, demo chain
    .venv/bin/python bench/ablation.py -o ablation_out --direct-rl --kernels native   # + Direct-RL arm

For each kernel setting and seed (the training seed; the tiny base model is the same shipped bytes everywhere): FRE
on the text task then MGT on the image task (`train-fre --recipe tiny-fre`, then `train-mgt --recipe tiny-mgt
--init`), and with `--direct-rl` Direct-RL on the image task from the base model for the same total number of
steps (`train-mgt --init tiny`). Then one greedy `lmmr1 eval` per kernel setting of the base model and every run on
the held-out splits of both tasks. `avx2` runs every command with PyTorch, oneDNN and MKL held to AVX2
(AVX2_ENV), which reproduces an AVX2 machine's numbers exactly on an AVX-512 one (issue 19); `native` uses the
machine's own kernels. Every step is the `lmmr1` command a user types; finished runs are kept, so re-running the
script resumes. Two runs go at once (`--jobs`), one torch thread each.

It writes ablation.json and ablation.md: per kernel and seed, each trained model's accuracy with its 95% Wilson CI
and its verdict against the base (learned: the CIs do not overlap; as `lmmr1 eval` prints), and per arm the
accuracy pooled over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent
TEXT, IMAGE = "synthetic-largest", "synthetic-largest-picture"
# What an AVX2 machine's PyTorch, oneDNN and MKL pick; measured to reproduce its numbers bit for bit.
AVX2_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "DNNL_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
KERNELS = {"native": {}, "avx2": AVX2_ENV}


def lmmr1(*args: object, kernel: str = "native") -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **KERNELS[kernel]}
    subprocess.run([str(BIN / "lmmr1"), *map(str, args)], check=True, stdout=subprocess.DEVNULL, env=env)


def prepare(out: Path, recipe: str, split: str, limit: int) -> Path:
    target = out / "data" / f"{recipe}-{split}"
    if not (target / "manifest.json").is_file():
        lmmr1("prepare-data", recipe, "--split", split, "--limit", limit, "-o", target, "--force")
    return target


def mix(out: Path, parts: list[str]) -> Path:
    """MGT's data: pictures plus some of FRE's text rows (`lmmr1 mix-data`), so MGT keeps rehearsing the text."""
    target = out / "data" / "mgt-train"
    if not (target / "manifest.json").is_file():
        lmmr1("mix-data", *parts, "-o", target, "--force")
    return target


def train(
    stage: str, data: Path, run: Path, steps: int, seed: int, init: str | None, kernel: str, *extra
) -> Path:
    if not (run / "summary.json").is_file():
        cmd = [f"train-{stage}", "--recipe", f"tiny-{stage}", "--data", data, "-o", run, "--force"]
        cmd += ["--init", init] if init else []
        save = f"run.save_every_rollouts={steps}"
        lmmr1(*cmd, f"run.max_steps={steps}", f"run.seed={seed}", save, *extra, kernel=kernel)
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


def _cell(r: dict) -> str:
    return f"{100 * r['accuracy']:.1f}% ({100 * r['ci95'][0]:.1f}-{100 * r['ci95'][1]:.1f})"


def seed_table(rows: list[dict]) -> str:
    """One row per kernel and seed: FRE on text, MGT on text and pictures, each with its verdict."""
    lines = [
        "| kernels | seed | FRE text | MGT text | MGT picture | all three learned |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [f"{_cell(r)} {verdict}" for r, verdict in row["checks"]]
        learned = all(verdict == "learned" for _, verdict in row["checks"])
        lines.append(
            f"| {row['kernel']} | {row['seed']} | {' | '.join(cells)} | {'yes' if learned else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def arm_table(arms: dict) -> str:
    lines = [f"| arm | steps | {TEXT} (text) | {IMAGE} (image) |", "|---|---|---|---|"]
    for name, arm in arms.items():
        cells = []
        for benchmark in ("text", "image"):
            r = arm[benchmark]
            seeds = ", ".join(f"{100 * a:.0f}" for a in r["per_seed"])
            cells.append(f"{_cell(r)} [{seeds}]")
        lines.append(f"| {name} | {arm['steps']} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def run_kernel(args, kernel: str, data: dict) -> dict[str, list[Path]]:
    """Train every seed's runs under one kernel setting, `args.jobs` at a time; returns the runs per arm."""
    root = args.out / kernel
    total = args.fre_steps + args.mgt_steps

    def chain(seed: int) -> list[Path]:
        fre = train("fre", data["text-train"], root / f"fre-s{seed}", args.fre_steps, seed, None, kernel)
        picture, extra = data["mgt-train"], args.mgt_overrides
        mgt = train("mgt", picture, root / f"mgt-s{seed}", args.mgt_steps, seed, str(fre), kernel, *extra)
        if not args.direct_rl:
            return [fre, mgt]
        direct = train("mgt", picture, root / f"direct-s{seed}", total, seed, "tiny", kernel, *extra)
        return [fre, mgt, direct]

    with ThreadPoolExecutor(args.jobs) as pool:
        per_seed = list(pool.map(chain, args.seeds))
    names = ["FRE (text)", "FRE -> MGT", "Direct-RL (image)"][: len(per_seed[0])]
    return {name: [runs[i] for runs in per_seed] for i, name in enumerate(names)}


def evaluate(args, kernel: str, runs: dict[str, list[Path]], data: dict) -> dict:
    results_dir = args.out / kernel / "results"
    models = ["tiny"] + [str(run) for arm_runs in runs.values() for run in arm_runs]
    eval_args = [a for m in models for a in ("--model", m)]
    eval_args += ["--benchmark", data["text-test"], "--benchmark", data["image-test"], "--max-new-tokens", 32]
    lmmr1("eval", *eval_args, "-o", results_dir, "--force", kernel=kernel)
    return json.loads((results_dir / "summary.json").read_text())["results"]


def main() -> None:
    from lmmr1_cli.evaluation.comparison import verdict

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-o", "--out", type=Path, default=Path("ablation_out"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--kernels", nargs="+", choices=list(KERNELS), default=list(KERNELS))
    parser.add_argument("--direct-rl", action="store_true", help="add the Direct-RL arm (FRE + MGT steps)")
    parser.add_argument("--fre-steps", type=int, default=120)
    parser.add_argument("--mgt-steps", type=int, default=80)
    parser.add_argument(
        "--mgt-overrides",
        nargs="*",
        default=[],
        help="key=value overrides of the MGT and Direct-RL runs (make ablation: the demo's MGT_OVERRIDES)",
    )
    parser.add_argument("--train-rows", type=int, default=256)
    parser.add_argument(
        "--mgt-text-rows",
        type=int,
        default=0,
        help="text rows mixed into MGT's (and Direct-RL's) training rows in place of as many pictures (make "
        "ablation: the demo's MGT_TEXT_ROWS)",
    )
    parser.add_argument("--test-rows", type=int, default=128)
    parser.add_argument("--jobs", type=int, default=2, help="training runs at once (one torch thread each)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    args = parser.parse_args()
    started = time.perf_counter()

    data = {}
    for key, recipe in (("text", TEXT), ("image", IMAGE)):
        data[f"{key}-train"] = prepare(args.out, recipe, "train", args.train_rows)
        data[f"{key}-test"] = prepare(args.out, recipe, "test", args.test_rows)
    data["mgt-train"] = data["image-train"]
    if args.mgt_text_rows:
        pictures = f"{data['image-train']}:{args.train_rows - args.mgt_text_rows}"
        data["mgt-train"] = mix(args.out, [pictures, f"{data['text-train']}:{args.mgt_text_rows}"])
    text, image = data["text-test"].name, data["image-test"].name
    rows, arms = [], {}
    for kernel in args.kernels:
        runs = run_kernel(args, kernel, data)
        results = evaluate(args, kernel, runs, data)
        labels = list(results)  # eval's labels, in --model order: the base first, then the runs in arm order
        base = results[labels[0]]
        fre_labels, mgt_labels = (
            labels[1 + i * len(args.seeds) : 1 + (i + 1) * len(args.seeds)] for i in (0, 1)
        )
        for seed, fre, mgt in zip(args.seeds, fre_labels, mgt_labels, strict=True):
            checks = [(results[fre][text], base[text]), (results[mgt][text], base[text])]
            checks.append((results[mgt][image], base[image]))
            rows.append({
                "kernel": kernel,
                "seed": seed,
                "checks": [(r, verdict(b, r)) for r, b in checks],
            })  # fmt: skip
        names = {"text": text, "image": image}
        arms[f"{kernel}: base (tiny)"] = {
            "steps": 0,
            **{k: pooled(results, labels[:1], b) for k, b in names.items()},
        }
        start = 1
        for arm, arm_runs in runs.items():
            arm_labels = labels[start : start + len(arm_runs)]
            start += len(arm_runs)
            steps = {"FRE (text)": args.fre_steps}.get(arm, args.fre_steps + args.mgt_steps)
            arms[f"{kernel}: {arm}"] = {
                "steps": steps,
                **{k: pooled(results, arm_labels, b) for k, b in names.items()},
            }
    summary = {
        "seeds": args.seeds,
        "kernels": args.kernels,
        "fre_steps": args.fre_steps,
        "mgt_steps": args.mgt_steps,
        "mgt_text_rows": args.mgt_text_rows,
        "mgt_overrides": args.mgt_overrides,
        "test_rows": args.test_rows,
        "per_seed": rows,
        "arms": arms,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    (args.out / "ablation.json").write_text(json.dumps(summary, indent=2))
    tables = seed_table(rows) + "\n" + arm_table(arms)
    (args.out / "ablation.md").write_text(tables)
    print(json.dumps(summary) if args.json else tables, end="" if not args.json else "\n")


if __name__ == "__main__":
    main()
