"""TRL's GRPOTrainer, able to train on batches that mix text-only and image rows (LMM-R1's VerMulti does).

TRL 1.16 handles a batch where every row has an image, or none does. In a mixed batch two things break:
- `_tokenize_prompts` marks a row without images as `None`, and the processor then refuses the list
  (`TypeError: only a single or a list of entries is supported but got type=<class 'NoneType'>`);
- a forward chunk holding only text rows gets empty `pixel_values`/`image_grid_thw`, on which Qwen2.5-VL's vision
  tower fails (`torch.cat(): expected a non-empty list of Tensors`).
The subclass fixes both and leaves every other path (all-image and all-text batches) to TRL unchanged.
With `use_vllm` it also carries the rollout guard of vllm_checks.py (fixes and checks for generation through vLLM).
Imports TRL at module level: import it inside a function, after the cheap checks.
"""

from __future__ import annotations

import torch
from trl import GRPOTrainer

from lmmr1_cli.generation_batch import ChunkedGeneration
from lmmr1_cli.step_timing import StepTiming

# Inputs indexed by row (sliced like input_ids) and by image (sliced by the rows' image counts).
_ROW_KEYS = ("token_type_ids", "mm_token_type_ids")
_IMAGE_KEYS = ("image_grid_thw", "image_sizes")


class MixedModalGRPOTrainer(StepTiming, ChunkedGeneration, GRPOTrainer):
    """GRPOTrainer whose batches may mix rows with and without images. `StepTiming` (step_timing.py) logs
    generation and optimizer seconds beside `verifier/seconds`."""

    rollout_guard = None
    dynamic_sampler = None  # dynamic_sampling.py, with rollout.dynamic_sampling
    vision_sync = None  # vision_sync.py, on several ranks with pictures in the data
    reference_vision_sync = None  # the same for the KL term's reference model

    def __init__(self, *args, rollout_config=None, **kwargs):
        training_args = kwargs["args"]
        if training_args.use_vllm:
            from lmmr1_cli.vllm_engine import prepare_engine

            prepare_engine(cpu=training_args.use_cpu)  # before TRL builds the engine
        super().__init__(*args, **kwargs)
        if training_args.use_vllm and rollout_config is not None:
            from lmmr1_cli.vllm_checks import RolloutGuard

            self.rollout_guard = RolloutGuard(
                self, rollout_config.vllm_logp_gap_tolerance, rollout_config.vllm_sync_check_every
            )
        from lmmr1_cli.engines import keep_generation_in_step
        from lmmr1_cli.vision_sync import needs_vision_sync, vision_sync_callback

        keep_generation_in_step(self.model, self.accelerator)
        if rollout_config is not None:
            self.generation_limit = rollout_config.completions_per_generate  # generation_batch.py

        if needs_vision_sync(self.model, self.train_dataset, self.accelerator.num_processes):
            # A rank whose batch has no pictures still runs the vision tower (vision_sync.py), else ranks diverge.
            self.add_callback(vision_sync_callback(self))
            # TRL gathers the rollout's pictures for its logs only on ranks that have some (`if images is not
            # None and self.log_multimodal: gather_object(images)`): a text-only rank skips that collective and
            # the ranks block in different ones (measured: DDP, 2 ranks, one in gather_object, one in forward).
            self.log_multimodal = False
        if rollout_config is not None and rollout_config.dynamic_sampling:
            from lmmr1_cli.dynamic_sampling import DynamicSampler

            self.dynamic_sampler = DynamicSampler(
                self, rollout_config.max_sampling_rounds, training_args.seed
            )

    def _get_train_sampler(self, dataset=None):
        """TRL's sampler, with each epoch's order seeded by (seed, epoch) so a resumed run draws the same prompts
        (epoch_sampler.py)."""
        from lmmr1_cli.epoch_sampler import EpochSeededRepeatSampler

        sampler = super()._get_train_sampler(dataset)
        return EpochSeededRepeatSampler(
            data_source=sampler.data_source,
            mini_repeat_count=sampler.mini_repeat_count,
            batch_size=sampler.batch_size,
            repeat_count=sampler.repeat_count,
            shuffle=sampler.shuffle,
            seed=sampler.seed,
        )

    def vision_sync_summary(self) -> dict | None:
        """Blank-picture forwards per rank (vision_sync.py), for summary.json. Whether the hooks exist is the same
        on every rank (same data, same process count), so either all ranks gather or none does."""
        if self.accelerator.num_processes == 1 or self.vision_sync is None:
            return None
        return {"blank_picture_forwards_per_rank": self._per_rank(self.vision_sync.dummy_forwards)}

    def verifier_workers_per_rank(self) -> list[int]:
        """Each rank's verifier pool size (verify/pool.py: the node's CPUs shared by its ranks), for summary.json."""
        from lmmr1_cli.verify.pool import default_size

        return self._per_rank(default_size())

    def _per_rank(self, value: int) -> list[int]:
        """`value` from every rank, in rank order (a collective on several ranks: every rank calls it)."""
        local = torch.tensor([value], device=self.accelerator.device)
        if self.accelerator.num_processes == 1:
            return local.tolist()
        return self.accelerator.gather(local).tolist()

    def generation_summary(self) -> dict:
        """How rollouts were generated, for summary.json."""
        if self.rollout_guard is not None:
            return self.rollout_guard.summary()
        return {"backend": "vllm" if self.use_vllm else "transformers"}

    def _generate_and_score_completions(self, inputs):
        if self.dynamic_sampler is not None and self.model.training:
            # Groups whose rewards all tie are dropped and more prompts sampled (dynamic_sampling.py).
            return self.dynamic_sampler.rollout(self._checked_rollout, inputs)
        return self._checked_rollout(inputs)

    def _checked_rollout(self, inputs):
        """TRL's rollout (one round of it under dynamic sampling), checked by the vLLM guard when there is one."""
        output = super()._generate_and_score_completions(inputs)
        if self.rollout_guard is not None and self.model.training:
            self.rollout_guard.after_rollout()  # raises before this rollout reaches the optimizer
        return output

    def _generate(self, prompts):
        outputs = list(super()._generate(prompts))
        # (prompt_ids, completion_ids, tool_mask, completions, logprobs, extra_fields, images, tool_images)
        images = outputs[6]
        if images is not None:
            # The processor takes [] for a row without images, not None.
            outputs[6] = [row_images or [] for row_images in images]
        return tuple(outputs)

    def _get_per_token_logps_and_entropies(
        self, model, input_ids, attention_mask, logits_to_keep, batch_size=None, **kwargs
    ):
        parent = super()._get_per_token_logps_and_entropies
        num_images = kwargs.get("num_images")
        grid = kwargs.get("image_grid_thw")
        batch_size = batch_size or input_ids.size(0)
        chunks = [
            (s, min(s + batch_size, input_ids.size(0))) for s in range(0, input_ids.size(0), batch_size)
        ]
        text_only_chunk = num_images is not None and any(sum(num_images[s:e]) == 0 for s, e in chunks)
        if kwargs.get("pixel_values") is None or grid is None or not text_only_chunk:
            return parent(model, input_ids, attention_mask, logits_to_keep, batch_size, **kwargs)
        # TRL's own chunks, one call each; a chunk without images gets no vision inputs at all.
        rows_per_image = grid.prod(dim=-1).tolist()
        first_image = [0, *torch.tensor(num_images).cumsum(0).tolist()]
        logps, entropies, aux_losses = [], [], []
        for start, end in chunks:
            lo, hi = first_image[start], first_image[end]
            chunk = {key: value for key, value in kwargs.items() if value is not None}
            for key in _ROW_KEYS:
                if key in chunk:
                    chunk[key] = chunk[key][start:end]
            if lo == hi:
                for key in ("pixel_values", "num_images", *_IMAGE_KEYS):
                    chunk.pop(key, None)
            else:
                pixel_lo, pixel_hi = sum(rows_per_image[:lo]), sum(rows_per_image[:hi])
                chunk["pixel_values"] = chunk["pixel_values"][pixel_lo:pixel_hi]
                chunk["num_images"] = num_images[start:end]
                for key in _IMAGE_KEYS:
                    if key in chunk:
                        chunk[key] = chunk[key][lo:hi]
            out = parent(
                model, input_ids[start:end], attention_mask[start:end], logits_to_keep, end - start, **chunk
            )
            logps.append(out[0])
            if out[1] is not None:
                entropies.append(out[1])
            if out[2] is not None:
                aux_losses.append(out[2])
        return (
            torch.cat(logps, dim=0),
            torch.cat(entropies, dim=0) if entropies else None,
            torch.stack(aux_losses).mean() if aux_losses else None,
        )
