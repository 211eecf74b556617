"""The training prompts' order depends on (seed, epoch) only (lmmr1_cli/epoch_sampler.py): a sampler built afresh
for epoch e, as a resumed run builds it, gives what TRL's sampler gave on its (e+1)-th pass."""

from __future__ import annotations

from trl.trainer.utils import RepeatSampler

from lmmr1_cli.epoch_sampler import EpochSeededRepeatSampler

SHAPE = {
    "data_source": list(range(10)),
    "mini_repeat_count": 2,
    "batch_size": 3,
    "repeat_count": 2,
    "seed": 7,
}


def test_a_fresh_sampler_at_epoch_e_draws_the_uninterrupted_runs_epoch_e():
    trl = RepeatSampler(**SHAPE)
    uninterrupted = [list(trl) for _ in range(4)]  # TRL: one generator, one draw a pass
    assert len({tuple(order) for order in uninterrupted}) > 1  # the epochs' orders differ
    for epoch, order in enumerate(uninterrupted):
        resumed = EpochSeededRepeatSampler(**SHAPE)  # what a run resumed in this epoch builds
        resumed.set_epoch(epoch)
        assert list(resumed) == order
    # TRL's own sampler, built afresh, repeats epoch 0's order whatever the epoch: what resumes drew before.
    assert list(RepeatSampler(**SHAPE)) == uninterrupted[0] != uninterrupted[2]


def test_unshuffled_data_keeps_its_order():
    sampler = EpochSeededRepeatSampler(**SHAPE, shuffle=False)
    sampler.set_epoch(3)
    assert list(sampler) == list(RepeatSampler(**SHAPE, shuffle=False))
