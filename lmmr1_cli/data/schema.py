"""The canonical row every source is turned into, and the checks that make a row well-formed.

A *source row* (what an adapter yields) is a canonical row whose `images` are still raw (bytes, PIL images,
`{"bytes", "path"}` dicts or paths under an image root) and which carries `placeholders`: how many image
placeholders its source text held (None when the source has no placeholder convention).

A row may also carry `meta`: source columns a data recipe keeps (`options.keep_columns`), such as MathVerse's
`problem_version` for a per-version breakdown or MathVista's `unit` for the paper's prompt. Only rows that have it
store it, so rows.jsonl of every other dataset is unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from lmmr1_cli.defaults import ANSWER_TYPES
from lmmr1_cli.errors import DataError

CANONICAL_FIELDS = ("id", "problem", "images", "answer", "answer_type", "choices", "source")

# Placeholders used by the sources we read: verl/EasyR1 and Geometry3K use `<image>`, Qwen chat text
# `<|image_pad|>` / `<|vision_start|>...<|vision_end|>`.
_PLACEHOLDER_RE = re.compile(
    r"<\|vision_start\|>(?:<\|image_pad\|>)+<\|vision_end\|>|<\|image_pad\|>|<image>"
)


def strip_placeholders(text: str) -> tuple[str, int]:
    """Text without image placeholders, and how many there were."""
    count = len(_PLACEHOLDER_RE.findall(text))
    if not count:
        return text.strip(), 0
    stripped = _PLACEHOLDER_RE.sub(" ", text)
    # Collapse the gaps a removed placeholder leaves, but keep the author's line breaks.
    stripped = "\n".join(re.sub(r"[ \t]{2,}", " ", line).strip() for line in stripped.splitlines())
    return stripped.strip(), count


def check_source_row(row: dict[str, Any], where: str) -> None:
    """Raise DataError naming `where` and the field when a source row is not canonical-shaped."""
    for field in ("id", "problem", "answer", "answer_type", "source"):
        value = row.get(field)
        if not isinstance(value, str) or (field != "answer" and not value.strip()):
            raise DataError(f"{where}: field '{field}' must be a non-empty string, got {value!r:.80}")
    if not row["answer"].strip():
        raise DataError(f"{where}: field 'answer' is empty")
    if row["answer_type"] not in ANSWER_TYPES:
        raise DataError(
            f"{where}: field 'answer_type' is {row['answer_type']!r}; expected one of {ANSWER_TYPES}"
        )
    if not isinstance(row.get("images"), list):
        raise DataError(f"{where}: field 'images' must be a list")
    choices = row.get("choices")
    if choices is not None and (
        not isinstance(choices, list) or not all(isinstance(c, str) for c in choices)
    ):
        raise DataError(f"{where}: field 'choices' must be a list of strings or null")


def canonical_row(row: dict[str, Any], image_paths: list[str]) -> dict[str, Any]:
    """The row as stored in rows.jsonl: the canonical fields (and `meta` when kept), images as relative paths."""
    stored = {
        "id": row["id"],
        "problem": row["problem"],
        "images": image_paths,
        "answer": row["answer"],
        "answer_type": row["answer_type"],
        "choices": row.get("choices"),
        "source": row["source"],
        # A source's own system message (LMM-R1 message JSONL), used by `model.system_prompt: auto`.
        **({"system": row["system"]} if row.get("system") else {}),
    }
    if row.get("meta"):
        stored["meta"] = row["meta"]
    return stored
