"""Eval throughput of the `hf` backend: batched generate vs one prompt at a time, same prompts, one run.

    .venv/bin/python bench/eval_bench.py            # 64 prompts (text + image), batch 16, 32 new tokens
    .venv/bin/python bench/eval_bench.py --quick    # smoke test: 16 prompts

Target (issue 6): batched >= 4x one-at-a-time at batch 16 on the tiny model. Both passes must produce the same
greedy tokens, or the speed-up is not a like-for-like comparison; the script checks that too.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def _prompts(root: Path, count: int):
    from lmmr1_cli.data.dataset import image_paths, load_rows
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import load_recipe
    from lmmr1_cli.evaluation.backends import Prompt
    from lmmr1_cli.prompts import build_conversation

    prompts = []
    # Three quarters text-only arithmetic, one quarter geometry with a diagram.
    for recipe, n in (("synthetic-arith", count - count // 4), ("synthetic-geo", count // 4)):
        out = root / recipe
        prepare_dataset(load_recipe(recipe), out, PrepareOptions(split="test", limit=n))
        for row in load_rows(out):
            paths = [str(p) for p in image_paths(out, row)]
            prompts.append(Prompt(build_conversation(row["problem"], len(paths)), paths))
    return prompts


def _run(backend, prompts, batch_size: int, settings) -> tuple[float, list]:
    start = time.perf_counter()
    tokens = []
    for i in range(0, len(prompts), batch_size):
        tokens += [gens[0].token_ids for gens in backend.generate(prompts[i : i + batch_size], settings)]
    return time.perf_counter() - start, tokens


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="16 prompts: a smoke test of the script")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument(
        "--repeats", type=int, default=2, help="timed passes per mode, alternating; best kept"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads; 0 keeps torch's default")
    args = parser.parse_args()
    count = 16 if args.quick else args.prompts

    import torch

    from lmmr1_cli.evaluation.backends import HFBackend, SamplingSettings

    if args.threads:
        # A 64-wide model gains nothing from 2 OpenMP threads, and on a shared machine they cost 10x (measured).
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        prompts = _prompts(Path(tmp), count)
        backend = HFBackend("tiny")
        settings = SamplingSettings(max_new_tokens=args.max_new_tokens)
        # Warm-up at both shapes: first calls pay for allocations, kernel selection and lazy imports.
        backend.generate(prompts[: args.batch_size], settings)
        backend.generate(prompts[:1], settings)
        single_s = batched_s = float("inf")
        # Alternate the modes and keep each one's best pass: the machine is shared, load comes and goes.
        for _ in range(1 if args.quick else args.repeats):
            seconds, single_tokens = _run(backend, prompts, 1, settings)
            single_s = min(single_s, seconds)
            seconds, batched_tokens = _run(backend, prompts, args.batch_size, settings)
            batched_s = min(batched_s, seconds)
    generated = sum(len(t) for t in single_tokens)
    result = {
        "prompts": len(prompts),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "generated_tokens": generated,
        "one_at_a_time_s": round(single_s, 2),
        "batched_s": round(batched_s, 2),
        "one_at_a_time_prompts_per_s": round(len(prompts) / single_s, 2),
        "batched_prompts_per_s": round(len(prompts) / batched_s, 2),
        "speedup": round(single_s / batched_s, 2),
        "same_tokens": single_tokens == batched_tokens,
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=2))
    if not result["same_tokens"]:
        raise SystemExit("batched and one-at-a-time greedy outputs differ")


if __name__ == "__main__":
    main()
