"""A plain user's GRPO script on bare TRL: the baseline `bench/train_bench.py` times `lmmr1 train-fre` against.

No lmmr1 import: the model and processor come from a directory with `from_pretrained`, the prompts are built from
the dataset's `rows.jsonl` by hand, and the rewards are the two functions such a user writes (a tag regex, and
math-verify on the `<answer>` span). The GRPOConfig arrives as JSON so that both sides run the identical config.

    .venv/bin/python bench/bare_trl_grpo.py --config grpo.json --model DIR --data DATASET_DIR --timings out.json
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import torch
from datasets import Dataset
from math_verify import parse, verify
from transformers import AutoModelForImageTextToText, AutoProcessor, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

FORMAT = re.compile(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", re.DOTALL)
ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
REWARD_SECONDS: list[float] = [0.0]  # time spent in the two rewards during the current step


def _text(completion) -> str:
    return completion if isinstance(completion, str) else completion[0]["content"]


def format_reward(completions, **kwargs) -> list[float]:
    start = time.perf_counter()
    scores = [1.0 if FORMAT.fullmatch(_text(c)) else 0.0 for c in completions]
    REWARD_SECONDS[0] += time.perf_counter() - start
    return scores


def accuracy_reward(completions, answer, **kwargs) -> list[float]:
    start = time.perf_counter()
    scores = []
    for completion, gold in zip(completions, answer, strict=True):
        match = ANSWER.search(_text(completion))
        scores.append(1.0 if match and verify(parse(f"${gold}$"), parse(match[1])) else 0.0)
    REWARD_SECONDS[0] += time.perf_counter() - start
    return scores


class StepTimer(TrainerCallback):
    """Wall time of each optimizer step, and the rewards' share of it."""

    def __init__(self):
        self.steps: list[dict] = []
        self._last = None

    def on_step_begin(self, args, state, control, **kwargs):
        if self._last is None:
            self._last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        now = time.perf_counter()
        self.steps.append({"seconds": now - self._last, "reward_seconds": REWARD_SECONDS[0]})
        REWARD_SECONDS[0] = 0.0
        self._last = now


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, required=True, help="GRPOConfig kwargs as JSON")
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", type=Path, required=True, help="a dataset dir with rows.jsonl (text only)")
    parser.add_argument("--system-prompt", default=None)
    parser.add_argument("--min-pixels", type=int, default=None)
    parser.add_argument("--max-pixels", type=int, default=None)
    parser.add_argument("--timings", type=Path, required=True)
    args = parser.parse_args()

    config = GRPOConfig(**json.loads(args.config.read_text()))
    torch.manual_seed(config.seed)
    processor = AutoProcessor.from_pretrained(args.model)
    if args.min_pixels or args.max_pixels:
        processor.image_processor.min_pixels = args.min_pixels
        processor.image_processor.max_pixels = args.max_pixels
    model = AutoModelForImageTextToText.from_pretrained(args.model, dtype=torch.float32)
    rows = [json.loads(line) for line in (args.data / "rows.jsonl").read_text().splitlines() if line]
    system = [{"role": "system", "content": [{"type": "text", "text": args.system_prompt}]}]
    dataset = Dataset.from_list(
        [
            {
                "prompt": (system if args.system_prompt else [])
                + [{"role": "user", "content": [{"type": "text", "text": row["problem"]}]}],
                "answer": row["answer"],
            }
            for row in rows
        ]
    )
    timer = StepTimer()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[format_reward, accuracy_reward],
        args=config,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=[timer],
    )
    trainer.train()
    args.timings.write_text(json.dumps({"steps": timer.steps}))


if __name__ == "__main__":
    main()
