"""Keep every rank's vision tower in step when a rank's batch holds no pictures.

In a multi-process run on data that mixes pictures and text (VerMulti, `lmmr1 mix-data`), one rank's batch can
be text only while another's has pictures. Qwen2.5-VL then runs its vision tower on one rank and not the other,
and every engine depends on all ranks running the same modules:
- DDP waits for gradients of the tower's parameters that one rank never produces (measured: both ranks blocked in a
  collective, no step logged in 600 s);
- ZeRO-3 and FSDP gather each module's parameters as a collective when it runs (measured under ZeRO-3: `gloo ...
  Received data size doesn't match expected size` after step 1; ZeRO-2 hung).
So on a rank whose forward has no pictures, the tower runs on one tiny blank picture and its output joins the
graph multiplied by zero: the rank takes part in every gather and reduction, and its gradient contribution is
exactly zero (verl and EasyR1 do the same for Qwen2-VL). The extra cost is one vision forward over a handful of
patches per forward pass.

Only forwards over whole sequences take part (prompt and completion: the loss and log-prob passes, and the
prefill of generation); a decoding step (one token per row) never runs the tower on any rank.
"""

from __future__ import annotations

import torch

# GenerationMixin's step that encodes pictures before the prefill (transformers >= 5.2x; absent in 5.19).
PRE_ENCODE = "_prepare_multimodal_encoder_kwargs_for_generation"


class VisionTowerSync:
    """Forward hooks on a vision-language model: `model` is the trainer's model (PEFT-wrapped or not)."""

    def __init__(self, model):
        self.tower = find_vision_tower(model)
        self.language_embeddings = model.get_input_embeddings()
        self.dummy_forwards = 0  # how many forwards ran the blank picture (tests and summary read it)
        self._pending = False
        # The model class whose forward takes pixel_values: PEFT's generate calls it directly, not the wrapper.
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        self._prefill_synced = False  # generate already ran the tower for the coming prefill
        self._handles = [
            inner.register_forward_pre_hook(self._before_forward, with_kwargs=True),
            # Ahead of the engines' own hooks (prepend), so the tower runs before the language model's parameters
            # are gathered, as it does for real pictures.
            find_language_model(model, self.language_embeddings).register_forward_pre_hook(
                self._before_language_model, with_kwargs=True, prepend=True
            ),
        ]
        if hasattr(inner, PRE_ENCODE):
            self._wrap_pre_encode(inner)

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()

    def _wrap_pre_encode(self, inner) -> None:
        """transformers >= 5.2x encodes a generation's pictures before the prefill forward, outside it; a rank
        without pictures must run its blank picture at that same point, not inside the forward."""
        encode = getattr(inner, PRE_ENCODE)

        def encode_or_blank(model_kwargs, *args, **kwargs):
            model_kwargs = encode(model_kwargs, *args, **kwargs)
            encoded = model_kwargs.get("mm_encoder_outputs") or {}

            if not any(value is not None for value in encoded.values()):
                self.dummy_forwards += 1
                self._blank_picture_features(self.language_embeddings.weight.device)
            self._prefill_synced = True
            return model_kwargs

        setattr(inner, PRE_ENCODE, encode_or_blank)

    def _before_forward(self, module, args, kwargs):
        input_ids = kwargs.get("input_ids", args[0] if args else None)
        whole_sequence = input_ids is not None and input_ids.dim() == 2 and input_ids.size(1) > 1
        synced, self._prefill_synced = (
            self._prefill_synced and whole_sequence,
            self._prefill_synced and not whole_sequence,
        )
        self._pending = whole_sequence and not synced and kwargs.get("pixel_values") is None
        return None

    def _before_language_model(self, module, args, kwargs):
        # The blank picture joins the embeddings here, where real image features join them (after the embedding
        # lookup, before the decoder): ZeRO-3 and FSDP gather parameters in forward and in backward in the order
        # modules run, and that order must be the same on every rank. (Added at the embedding's output instead, the
        # backward reached the embedding before the tower; DeepSpeed: "disagreement on list length".)
        if not self._pending or kwargs.get("inputs_embeds") is None:
            return None
        self._pending = False
        self.dummy_forwards += 1
        embeddings = kwargs["inputs_embeds"]
        blank = self._blank_picture_features(embeddings.device).to(embeddings.dtype)
        return args, {**kwargs, "inputs_embeds": embeddings + 0.0 * blank}

    def _blank_picture_features(self, device) -> torch.Tensor:
        """The tower's output on the smallest picture it accepts (one merged token), reduced to a scalar."""
        config = self.tower.config
        merge = getattr(config, "spatial_merge_size", 2)
        channels = getattr(config, "in_channels", None) or getattr(config, "in_chans", 3)
        patch_dim = channels * getattr(config, "temporal_patch_size", 2) * config.patch_size**2
        grid = torch.tensor([[1, merge, merge]], device=device)
        pixels = torch.zeros(merge * merge, patch_dim, device=device, dtype=self.tower.dtype)
        output = self.tower(pixels, grid_thw=grid)
        # Only the output real pictures use (the merged tokens: transformers >= 5.2x's pooler_output, a plain tensor
        # before): a second output would add a second backward pass through the tower under ZeRO-3's bookkeeping.
        features = output if torch.is_tensor(output) else output.pooler_output
        return features.float().mean()


def vision_sync_callback(trainer):
    """Installs the hooks when training starts, once the engines have wrapped the policy and the reference model,
    on the modules they really run."""
    from transformers import TrainerCallback

    class InstallVisionSync(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if trainer.vision_sync is None:
                trainer.vision_sync = VisionTowerSync(trainer.accelerator.unwrap_model(trainer.model_wrapped))
            reference = getattr(trainer, "ref_model", None)
            if reference is not None and trainer.reference_vision_sync is None:
                # The KL term's reference model runs the same forwards, and under ZeRO-3/FSDP its gathers are
                # collectives too (measured: the mismatch came from its forward on a text-only rank).
                trainer.reference_vision_sync = VisionTowerSync(getattr(reference, "module", reference))

    return InstallVisionSync()


def find_language_model(model, embeddings):
    """The module that takes the merged embeddings (`inputs_embeds`) and runs the decoder: the one owning
    `embeddings` as `embed_tokens`."""
    for module in model.modules():
        if getattr(module, "embed_tokens", None) is embeddings:
            return module
    raise ValueError("vision_sync: no module owns the input embeddings as embed_tokens")


def find_vision_tower(model):
    """The `visual` module of a Qwen2-VL-style model, wherever wrappers (PEFT, FSDP) put it."""
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] == "visual":
            return module
    return None


def needs_vision_sync(model, dataset, num_processes: int) -> bool:
    """A run needs the hooks when several ranks train a model with a vision tower on data with pictures."""
    return num_processes > 1 and "images" in dataset.column_names and find_vision_tower(model) is not None
