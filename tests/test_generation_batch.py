"""How many transformers `generate` calls a rollout takes (issue 28 point 5): lmmr1 maps a rollout onto TRL's
generation_batch_size, and TRL 1.16 generates a process's whole share of it in one `generate` call, not one group
at a time. Measured on a real `lmmr1 train-fre` run, with transformers' `generate` wrapped to record each call."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import run_lmmr1

# Loaded at interpreter start-up in the training process: records the batch size of every `generate` call.
RECORDER = """
import os
import transformers.generation.utils as generation

_generate = generation.GenerationMixin.generate


def generate(self, *args, **kwargs):
    with open(os.environ["LMMR1_TEST_GENERATE_LOG"], "a") as log:
        log.write(f"{kwargs['input_ids'].shape[0] if 'input_ids' in kwargs else args[0].shape[0]}\\n")
    return _generate(self, *args, **kwargs)


generation.GenerationMixin.generate = generate
"""


def test_each_rollout_is_one_generate_call_of_all_its_completions(arith_train, tmp_path):
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(RECORDER)
    log = tmp_path / "generate.log"
    env = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path / "hook"), os.environ.get("PYTHONPATH")])),
        "LMMR1_TEST_GENERATE_LOG": str(log),
    }
    # tiny-fre: 4 prompts x 8 samples = 32 completions a rollout; 16 a step, so 4 steps are 2 rollouts.
    result = run_lmmr1("train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", tmp_path / "run",
                       "run.max_steps=4", "batch.samples_per_step=16", "batch.micro_batch_size=16", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert log.read_text().split() == ["32", "32"]


def test_a_call_holds_as_many_completions_as_free_memory_allows_in_whole_groups():
    from lmmr1_cli.generation_batch import generation_call_limit

    assert generation_call_limit(512, 16, 10, None) == 512  # memory unknown (CPU): one call
    assert (
        generation_call_limit(512, 16, 10, 2 * 10 * 100) == 96
    )  # half the free memory: 100 fit, 6 groups of 16
    assert generation_call_limit(512, 16, 10, 2 * 10 * 7) == 7  # not one group fits: as many as fit
    assert generation_call_limit(512, 16, 10, 0) == 1
    assert generation_call_limit(512, 16, 10, None, configured=64) == 64  # set by hand, memory aside


def test_the_3b_kv_cache_per_token_is_36_864_bytes():
    from transformers import AutoConfig

    from lmmr1_cli.generation_batch import kv_bytes_per_completion

    bench = Path(__file__).resolve().parent.parent / "bench" / "qwen2_5_vl_3b_config.json"
    config = AutoConfig.for_model(**json.loads(bench.read_text()))
    assert kv_bytes_per_completion(config, 1) - kv_bytes_per_completion(config, 0) == 36_864
    # fre-text on 8 GPUs: 512 completions a process of 4,096 + 256 tokens do not fit one H100 in one call
    assert 512 * kv_bytes_per_completion(config, 4096 + 256) > 80e9


def test_chunked_generation_sends_each_row_its_own_pictures(arith_train, tmp_path):
    from PIL import Image, ImageDraw

    from lmmr1_cli.config import load_train_config
    from lmmr1_cli.generation_batch import ChunkedGeneration
    from lmmr1_cli.train import build_trainer

    config = load_train_config("tiny-mgt", overrides=["run.use_cpu=true", "run.max_steps=1"])
    trainer = build_trainer(config, arith_train, tmp_path / "run")
    assert isinstance(trainer, ChunkedGeneration)  # the training trainer generates in such calls
    trainer.generation_config.do_sample = False  # greedy, so one call and several calls can be compared

    def picture(digit: int, size: int) -> Image.Image:
        image = Image.new("RGB", (size, size), "white")
        ImageDraw.Draw(image).text((size // 3, size // 3), str(digit), fill="black")
        return image

    prompts = []
    for row in range(
        6
    ):  # text rows and rows with pictures of two sizes (different patch counts), interleaved
        content = [{"type": "text", "text": f"What is the number in the picture plus {row}?"}]
        if row % 3:
            content.insert(0, {"type": "image", "image": picture(row, 56 * (row % 3))})
        prompts.append([{"role": "user", "content": content}])
    prompt_ids, images, fields = trainer._tokenize_prompts(prompts)
    trainer.model.eval()
    trainer.generation_limit = 6
    whole, _ = trainer._generate_single_turn(prompt_ids, images, fields, 2)
    assert trainer.generate_calls == [6]
    trainer.generation_limit = 4
    parts, _ = trainer._generate_single_turn(prompt_ids, images, fields, 2)
    assert trainer.generate_calls == [4, 2]
    assert parts == whole
