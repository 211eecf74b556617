"""How many completions one transformers `generate` call may hold, and a trainer mixin that keeps to it.

TRL 1.16 (`GRPOTrainer._generate_single_turn`, transformers path) generates a process's whole generation batch in
one `generate` call, and lmmr1 makes that batch the whole rollout (batching.py): the fewest calls there can be,
which is what decoding wants (a step reads the weights once for every sequence in the batch). The price is memory:
the call holds the KV cache of every completion at once. For Qwen2.5-VL-3B a token costs 36 layers x 2 (K, V) x 2 KV
heads x 128 x 2 bytes = 36,864 bytes, so the paper's fre-text on 8 GPUs (512 completions a process, up to
4,096 + prompt tokens each) would need ~82 GB in one call. `ChunkedGeneration` splits such a call into as few
calls as fit: `generation_call_limit` completions each, read from free GPU memory when the call is made.

vLLM schedules by memory itself, so the vLLM path is left alone.
"""

from __future__ import annotations

# Of the GPU memory free when generation starts, the share the KV cache may take: the rest is left for the
# activations of the forward passes and the allocator's fragmentation.
KV_SHARE_OF_FREE_MEMORY = 0.5


def kv_bytes_per_completion(model_config, sequence_len: int, dtype_bytes: int = 2) -> int:
    """KV-cache bytes one sequence of `sequence_len` tokens holds (all layers, keys and values), plus its row of
    float32 logits at the sampling position."""
    text = getattr(model_config, "text_config", model_config)
    heads = text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    kv_heads = getattr(text, "num_key_value_heads", None) or heads
    return 2 * text.num_hidden_layers * kv_heads * head_dim * dtype_bytes * sequence_len + 4 * text.vocab_size


def generation_call_limit(
    completions: int, group_size: int, bytes_per_completion: int, free_bytes: int | None, configured: int = 0
) -> int:
    """Completions per `generate` call: `configured` when it is set (> 0), else as many as the free memory holds
    (all of them when the free memory is unknown, as on a CPU), in whole groups where at least one group fits."""
    if configured > 0:
        return min(configured, completions)
    if free_bytes is None:
        return completions
    fit = int(free_bytes * KV_SHARE_OF_FREE_MEMORY) // max(bytes_per_completion, 1)
    if fit >= group_size:
        fit -= fit % group_size
    return max(1, min(fit, completions))


def split_rows(prompt_ids: list, images: list | None, fields: dict, start: int, stop: int) -> dict | None:
    """The multimodal fields of rows [start, stop) of a batch TRL tokenized at once, or None when a field's layout
    is not one this knows (then the batch is generated in one call, as TRL would).

    Grid models (Qwen2-VL, Qwen2.5-VL) flatten images: `image_grid_thw` has a row per image and `pixel_values` a row
    per patch (t x h x w of its image); per-prompt fields have a row per prompt."""
    rows = len(prompt_ids)
    counts = [len(row_images or []) for row_images in images] if images is not None else [0] * rows
    first_image, last_image = sum(counts[:start]), sum(counts[:stop])
    grid = fields.get("image_grid_thw")
    patches = [int(g.prod()) for g in grid] if grid is not None else []
    out = {}
    for key, value in fields.items():
        if key == "image_grid_thw":
            out[key] = value[first_image:last_image]
        elif key == "pixel_values" and grid is not None:
            out[key] = value[sum(patches[:first_image]) : sum(patches[:last_image])]
        elif hasattr(value, "__len__") and len(value) == rows:
            out[key] = value[start:stop]
        else:
            return None
    return out


class ChunkedGeneration:
    """Mixin for TRL's GRPOTrainer (before GRPOTrainer in the bases): transformers generation in calls of at most
    `generation_call_limit` completions. Set `generation_limit` (0: from free GPU memory) after construction."""

    generation_limit = 0
    generate_calls: list[int]  # completions per call of the latest rollout, for logs and tests

    def _generate_single_turn(
        self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False
    ):
        parent = super()._generate_single_turn
        if self.use_vllm or getattr(self, "use_transformers_continuous_batching", False):
            return parent(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
        limit = generation_call_limit(
            len(prompt_ids),
            num_generations,
            kv_bytes_per_completion(
                self.model.config, max(map(len, prompt_ids)) + self.max_completion_length
            ),
            _free_gpu_bytes(),
            self.generation_limit,
        )
        limit = self._same_on_every_rank(limit)
        parts = [(start, min(start + limit, len(prompt_ids))) for start in range(0, len(prompt_ids), limit)]
        fields = [split_rows(prompt_ids, images, multimodal_fields, a, b) for a, b in parts]
        if len(parts) == 1 or any(part is None for part in fields):
            self.generate_calls = [len(prompt_ids)]
            return parent(prompt_ids, images, multimodal_fields, num_generations, has_tool_images)
        completion_ids, logprobs = [], None  # the transformers path returns no logprobs
        for (a, b), part_fields in zip(parts, fields, strict=True):
            part_images = images[a:b] if images is not None else None
            ids, _ = parent(prompt_ids[a:b], part_images, part_fields, num_generations, has_tool_images)
            completion_ids.extend(ids)
        self.generate_calls = [b - a for a, b in parts]
        return completion_ids, logprobs

    def _same_on_every_rank(self, limit: int) -> int:
        """The smallest rank's limit on every rank: under ZeRO-3/FSDP each generate call's forwards are collectives,
        so all ranks must make the same number of calls, and each GPU's free memory (hence its own limit) differs."""
        accelerator = self.accelerator
        if accelerator.num_processes == 1 or _free_gpu_bytes() is None:
            return limit  # a CPU limit is the whole batch on every rank (or the configured value, the same everywhere)
        import torch

        return int(accelerator.reduce(torch.tensor([limit], device=accelerator.device), reduction="min")[0])


def _free_gpu_bytes() -> int | None:
    import torch

    if not torch.cuda.is_available():
        return None
    free, _total = torch.cuda.mem_get_info()
    return free
