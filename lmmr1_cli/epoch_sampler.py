"""The training prompts' order as a function of (seed, epoch), so that a resumed run draws what the uninterrupted
one did.

TRL's `RepeatSampler` shuffles with one generator seeded once: epoch e's order is its (e+1)-th draw. A run resumed
in a later epoch builds a fresh sampler, so it drew epoch 1's order again, and the Trainer then skipped the first
batches of that order: within the epoch some prompts came twice and others never (measured: a 2-process run
SIGKILLed after step 2 of a 1-step-an-epoch mix, then resumed, trained step 3 on other prompts than the run that
was not stopped; tests/test_engines.py). Here the generator is brought to epoch e's state (reseeded, e draws
replayed) before each pass, so an uninterrupted run keeps TRL's exact order and a resumed one rejoins it. The
Trainer gives the epoch through accelerate's `set_epoch` before each pass, on every rank.
"""

from __future__ import annotations

import torch
from trl.trainer.utils import RepeatSampler


class EpochSeededRepeatSampler(RepeatSampler):
    """TRL's RepeatSampler (same groups, repeats and dropped tail) whose shuffle depends on the epoch, not on how
    many passes this instance has made."""

    epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        if self.shuffle and self.seed is not None:
            self.generator.manual_seed(self.seed)
            for _ in range(self.epoch):  # the earlier epochs' draws: a permutation of the rows each
                torch.randperm(self.num_samples, generator=self.generator)
        return super().__iter__()
