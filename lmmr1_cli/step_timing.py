"""Where a GRPO step's time goes: generation, verification, optimization, logged per step into metrics.jsonl.

`verifier/seconds` (rewards.py) is the accuracy reward's wall time per call (per rollout; per sampling round
with rollout.dynamic_sampling, where TRL averages the rounds). `StepTiming`, mixed into the
trainer, adds the other two through TRL's own metrics (so they are averaged and logged like every TRL metric):
- `generation/seconds`: time in TRL's `_generate` (HF `generate` or vLLM alike; with vLLM it includes the weight
  push that precedes generation) since the previous optimizer step, so several sampling rounds of one rollout
  (rollout.dynamic_sampling) add up; logged on the steps that generate (with steps_per_generation > 1 a rollout
  feeds several steps);
- `optimizer/seconds`: per optimizer step, the loss forward and backward of every accumulation step (a rollout
  generated and scored inside that step is not counted) plus `optimizer.step()` itself.
`lmmr1 report` stacks the three (report_plots.plot_step_time), so a user sees which part is the bottleneck.
Cost: a few `perf_counter` calls per step. On a GPU each clock reading first waits for the queued kernels
(`torch.cuda.synchronize`): CUDA runs asynchronously, so an unsynchronised clock charges the optimizer's queued
work to whatever part reads the clock next (generation's column, in practice).
"""

from __future__ import annotations

import time

GENERATION_SECONDS = "generation/seconds"
VERIFIER_SECONDS = "verifier/seconds"
OPTIMIZER_SECONDS = "optimizer/seconds"
STEP_PARTS = (
    (GENERATION_SECONDS, "generation"),
    (VERIFIER_SECONDS, "verifier"),
    (OPTIMIZER_SECONDS, "optimizer (forward, backward, step)"),
)


def synced_clock() -> float:
    """`time.perf_counter()` once the GPU has finished the work queued so far (no wait on a CPU)."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


class StepTiming:
    """Mixin for TRL's GRPOTrainer (put it before GRPOTrainer in the bases): times generation and optimization."""

    _rollout_seconds = 0.0  # generation + scoring inside the current training_step (not optimizer time)
    _learn_seconds = 0.0  # optimizer time accumulated since the last optimizer step
    _generation_seconds = 0.0  # training-mode generation since the last optimizer step
    _step_started: float | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_callback(_optimizer_clock(self))

    def _generate(self, prompts):
        start = synced_clock()
        try:
            return super()._generate(prompts)
        finally:
            if self.model.training:
                self._generation_seconds += synced_clock() - start
            else:
                self._metrics["eval"][GENERATION_SECONDS].append(synced_clock() - start)

    def _generate_and_score_completions(self, inputs):
        start = synced_clock()
        try:
            return super()._generate_and_score_completions(inputs)
        finally:
            self._rollout_seconds += synced_clock() - start

    def training_step(self, *args, **kwargs):
        self._rollout_seconds = 0.0
        start = synced_clock()
        try:
            return super().training_step(*args, **kwargs)
        finally:
            self._learn_seconds += synced_clock() - start - self._rollout_seconds


def _optimizer_clock(trainer: StepTiming):
    """A callback that adds `optimizer.step()` to the accumulated forward/backward time and logs the total, and
    the step's generation time."""
    from transformers import TrainerCallback

    class OptimizerClock(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            trainer._step_started = synced_clock()

        def on_optimizer_step(self, args, state, control, **kwargs):
            if trainer._step_started is not None:
                trainer._learn_seconds += synced_clock() - trainer._step_started
            trainer._metrics["train"][OPTIMIZER_SECONDS].append(trainer._learn_seconds)
            if trainer._generation_seconds:
                trainer._metrics["train"][GENERATION_SECONDS].append(trainer._generation_seconds)
            trainer._learn_seconds, trainer._step_started, trainer._generation_seconds = 0.0, None, 0.0

    return OptimizerClock()
