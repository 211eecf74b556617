"""The chat messages a canonical row becomes: the same in prepare-data (length checks), training and eval."""

from __future__ import annotations

# LMM-R1's training system prompt (examples/scripts/*.sh in TideDra/lmm-r1), tags as in DeepSeek-R1-Zero.
SYSTEM_PROMPT = (
    "You are a helpful assistant good at solving math problems with step-by-step reasoning. "
    "You first think about the reasoning process in the mind and then provide the user with the answer. "
    "The reasoning process and answer are enclosed within <think> </think> and <answer> </answer> tags, "
    "respectively, i.e., <think> reasoning process here </think><answer> answer here </answer>."
)


def build_conversation(
    problem: str, num_images: int, system_prompt: str | None = SYSTEM_PROMPT
) -> list[dict]:
    """Conversational messages with one `{"type": "image"}` placeholder per image, images before the text.

    Never a pre-templated string: TRL and the processor apply the chat template themselves, which is what keeps
    image tokens and pixel values aligned (pre-templated prompts break multimodal GRPO in TRL).

    >>> build_conversation("What is 2+3?", 0, system_prompt=None)
    [{'role': 'user', 'content': [{'type': 'text', 'text': 'What is 2+3?'}]}]
    """
    messages: list[dict] = []
    if system_prompt:
        messages.append({"role": "system", "content": [{"type": "text", "text": system_prompt}]})
    content = [{"type": "image"} for _ in range(num_images)]
    content.append({"type": "text", "text": problem})
    messages.append({"role": "user", "content": content})
    return messages
