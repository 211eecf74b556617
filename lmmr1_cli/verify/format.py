"""The format rule of the LMM-R1 recipe: `<think>…</think>` then `<answer>…</answer>`, nothing else around them."""

from __future__ import annotations

import re

# DOTALL: reasoning spans lines (open-r1-multimodal's regex lacked it, so any newline failed the format reward).
_FORMAT = re.compile(r"\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*", re.DOTALL)
_TAGS = ("<think>", "</think>", "<answer>", "</answer>")


def check_format(completion: str) -> bool:
    """True iff `completion` is `<think>…</think>` then `<answer>…</answer>`, exactly one of each tag,
    with only whitespace outside them.

    >>> check_format("<think>\\n2+2\\n</think>\\n<answer>4</answer>")
    True
    >>> check_format("<think>a</think><answer>4</answer> trailing")
    False
    """
    if not isinstance(completion, str) or any(completion.count(tag) != 1 for tag in _TAGS):
        return False
    return _FORMAT.fullmatch(completion) is not None
