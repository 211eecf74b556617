"""Per-row checks with named drop reasons: gold parses, image count matches placeholders, prompt fits.

Each check raises `RowDropped(reason, message)`; the pipeline counts reasons in the manifest, or with `--strict`
turns the first one into an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

from lmmr1_cli.errors import DataError


class RowDropped(DataError):
    """A row fails a check; `reason` is the manifest's drop reason (e.g. `gold_unparseable`)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # picklable across the --num-proc pool (the default would drop `reason`)
        return (type(self), (self.reason, str(self)))


def check_gold(answer: str, answer_type: str, choices: list[str] | None) -> None:
    """The gold must parse with the project's verifier; a gold it cannot read would make every reward wrong."""
    from lmmr1_cli.verify import GoldParseError, parse_gold

    try:
        parse_gold(answer, answer_type, choices)
    except GoldParseError as exc:
        raise RowDropped(
            "gold_unparseable", f"gold {answer!r:.60} ({answer_type}) cannot be parsed: {exc}"
        ) from None


def check_placeholders(placeholders: int | None, num_images: int) -> None:
    """A row whose text promises a different number of images than it has would misalign image tokens."""
    if placeholders is not None and placeholders != num_images:
        raise RowDropped(
            "image_count_mismatch",
            f"text has {placeholders} image placeholder(s) but the row has {num_images} image(s)",
        )


def dedupe_key(problem: str, image_names: Sequence[str]) -> str:
    """Same problem text and same image bytes (names are content hashes) -> same key."""
    h = hashlib.sha256(" ".join(problem.split()).encode())
    for name in image_names:
        h.update(b"\0" + name.encode())
    return h.hexdigest()


class PromptMeter:
    """Counts prompt tokens exactly as the processor will: the chat template, text tokens and image tokens."""

    def __init__(
        self, processor: Any, system_prompt_builder: Callable[[str, int], list[dict]] | None = None
    ) -> None:
        from lmmr1_cli.prompts import build_conversation

        self.processor = processor
        self.build = system_prompt_builder or build_conversation
        ip = processor.image_processor
        self.patch_size = int(ip.patch_size)
        self.merge_size = int(ip.merge_size)

    def count(self, problem: str, image_sizes: Sequence[tuple[int, int]]) -> int:
        """Prompt length in tokens for a problem and its (already resized) images' (width, height)."""
        return self.count_messages(self.build(problem, len(image_sizes)), image_sizes)

    def count_messages(self, messages: list[dict], image_sizes: Sequence[tuple[int, int]]) -> int:
        """Prompt length in tokens for conversational messages and their (resized) images' (width, height)."""
        text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        n = len(self.processor.tokenizer(text)["input_ids"])
        # The processor expands each single <|image_pad|> into grid_h * grid_w / merge^2 tokens.
        for width, height in image_sizes:
            grid = (height // self.patch_size) * (width // self.patch_size)
            n += grid // (self.merge_size**2) - 1
        return n

    def check(self, problem: str, image_sizes: Sequence[tuple[int, int]], max_tokens: int) -> int:
        n = self.count(problem, image_sizes)
        if n > max_tokens:
            raise RowDropped("prompt_too_long", f"prompt is {n} tokens (images included), above {max_tokens}")
        return n
