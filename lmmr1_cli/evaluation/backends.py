"""Generation backends: `hf` (batched `generate`, left padding, images through the processor) and `vllm`
(offline `LLM` with multimodal inputs, in vllm_engine.py with the rest of lmmr1's vLLM code). Both take the same
prompts and return the same `Generation`s."""

from __future__ import annotations

from lmmr1_cli.errors import ConfigError, ModelError
from lmmr1_cli.evaluation.generation import (
    Generation,
    Prompt,
    SamplingSettings,
    flatten_text,
    is_vision_model,
    open_images,
)
from lmmr1_cli.modeling import load_model, load_processor, resolve_model

__all__ = ["BACKENDS", "Generation", "HFBackend", "Prompt", "SamplingSettings", "make_backend"]

BACKENDS = ("hf", "vllm")


class HFBackend:
    """transformers `generate` over left-padded batches; the model and processor stay loaded between calls."""

    name = "hf"

    def __init__(self, model_ref: str, dtype: str | None = None, min_pixels=None, max_pixels=None):
        source = resolve_model(model_ref)
        self.resolved = source.location
        if is_vision_model(source):  # a LoRA run loads with its adapter merged, exactly what export writes
            processor = load_processor(model_ref, min_pixels, max_pixels)
            self._attach(load_model(model_ref, dtype), processor, processor.tokenizer)
        else:
            tokenizer, model = _load_text_model(self.resolved, dtype)
            self._attach(model, None, tokenizer)

    @classmethod
    def from_loaded(cls, model, processor) -> HFBackend:
        """Wrap a model already in memory (export compares it with its reloaded copy)."""
        backend = cls.__new__(cls)
        backend.resolved = str(getattr(model, "name_or_path", ""))
        tokenizer = getattr(processor, "tokenizer", processor)
        backend._attach(model, processor if tokenizer is not processor else None, tokenizer)
        return backend

    def _attach(self, model, processor, tokenizer) -> None:
        self.model, self.processor, self.tokenizer = model, processor, tokenizer
        self.vision = processor is not None
        # Decoder-only batches must be padded on the left, or new tokens follow padding.
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.eos_ids = _eos_ids(self.model, self.tokenizer)

    def chat_text(self, prompt: Prompt) -> str:
        template_owner = self.processor or self.tokenizer
        messages = prompt.messages if self.vision else flatten_text(prompt.messages)
        return template_owner.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def generate(self, prompts: list[Prompt], settings: SamplingSettings) -> list[list[Generation]]:
        import torch

        texts = [self.chat_text(p) for p in prompts]
        paths = [path for p in prompts for path in p.images]
        if paths and not self.vision:
            raise ConfigError("this benchmark has images but the model is text-only")
        if self.vision:
            images = open_images(paths) if paths else None
            inputs = self.processor(text=texts, images=images, padding=True, return_tensors="pt")
        else:
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        kwargs = {"max_new_tokens": settings.max_new_tokens, "num_return_sequences": settings.samples}
        if settings.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            torch.manual_seed(settings.seed)
            kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=None)
        if settings.repetition_penalty != 1.0:
            kwargs["repetition_penalty"] = settings.repetition_penalty
        with torch.inference_mode():
            output = self.model.generate(
                **inputs, **kwargs, pad_token_id=self.tokenizer.pad_token_id, eos_token_id=self.eos_ids
            )
        new_tokens = output[:, inputs["input_ids"].shape[1] :].tolist()
        generations = [self._generation(ids) for ids in new_tokens]
        k = settings.samples
        return [generations[i * k : (i + 1) * k] for i in range(len(prompts))]

    def _generation(self, ids: list[int]) -> Generation:
        end = next((i + 1 for i, t in enumerate(ids) if t in self.eos_ids), len(ids))
        ids = ids[:end]
        return Generation(self.tokenizer.decode(ids, skip_special_tokens=True), len(ids), tuple(ids))


def _load_text_model(resolved: str, dtype: str | None):
    """A text-only causal LM (for text benchmarks and the vLLM comparison on CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(resolved)
        model = AutoModelForCausalLM.from_pretrained(
            resolved, dtype=getattr(torch, dtype) if dtype else "auto"
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load text model {resolved}: {exc}") from exc
    model.eval()
    return tokenizer, model


def _eos_ids(model, tokenizer) -> list[int]:
    eos = getattr(model.generation_config, "eos_token_id", None)
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return sorted(ids)


def make_backend(name: str, model_ref: str, dtype: str | None = None, min_pixels=None, max_pixels=None):
    if name == "hf":
        return HFBackend(model_ref, dtype, min_pixels, max_pixels)
    if name == "vllm":
        from lmmr1_cli.vllm_engine import VLLMBackend

        return VLLMBackend(model_ref, dtype, min_pixels, max_pixels)
    raise ConfigError(f"backend {name!r} unknown; expected one of {BACKENDS}")
