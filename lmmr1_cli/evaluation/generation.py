"""What every generation backend shares: the prompt, sampling settings and generation types, and the helpers
that turn prompts into a backend's inputs (backends.py: hf; vllm_engine.py: vllm)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from lmmr1_cli.defaults import EVAL_MAX_NEW_TOKENS
from lmmr1_cli.modeling import ModelSource


@dataclass(frozen=True)
class Prompt:
    """Chat messages (with `{"type": "image"}` placeholders) and the image files they refer to, in order."""

    messages: list[dict]
    images: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int  # generated tokens, end-of-sequence included, padding excluded
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class SamplingSettings:
    max_new_tokens: int = EVAL_MAX_NEW_TOKENS
    samples: int = 1  # k completions per prompt
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int = 0
    # CTRL-style penalty on tokens already in the prompt or output (1.0 = off); the paper's text eval uses 1.05.
    # transformers and vLLM apply the same rule, so both backends agree.
    repetition_penalty: float = 1.0

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


def is_vision_model(source: ModelSource) -> bool:
    if source.is_lora:
        return True  # adapters are merged into an image-text-to-text base (the only kind lmmr1 trains)
    config = Path(source.location) / "config.json"
    if not config.is_file():
        return True  # an HF id: let the image-text-to-text loader decide
    data = json.loads(config.read_text(encoding="utf-8"))
    return "vision_config" in data


def open_images(paths: list[str]):
    from PIL import Image

    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def flatten_text(messages: list[dict]) -> list[dict]:
    """Text-only chat templates want string contents."""
    flat = []
    for message in messages:
        content = message["content"]
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if part.get("type") == "text")
        flat.append({"role": message["role"], "content": content})
    return flat
