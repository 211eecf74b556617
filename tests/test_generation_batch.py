"""How many transformers `generate` calls a rollout takes (issue 28 point 5): lmmr1 maps a rollout onto TRL's
generation_batch_size, and TRL 1.16 generates a process's whole share of it in one `generate` call, not one group
at a time. Measured on a real `lmmr1 train-fre` run, with transformers' `generate` wrapped to record each call."""

from __future__ import annotations

import os

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
