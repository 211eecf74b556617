"""LMM-R1 message rows: `{"message": "<JSON string of OpenAI-style messages>", "answer": "$\\boxed{60}$"}`.

Images are content parts `{"type": "image", "image": "file:///abs/path.jpg"}` (or a plain path, or an
`image_url` part); they resolve under the image root (default: the source file's dir; `--image-root` to
remap LMM-R1's absolute paths), never outside it. A hosted copy with an image column can map `fields.images`.
A system message is kept as the row's `system` (and counted in the manifest); lettered options in the question
with a letter gold (`$\\boxed{C}$`) make a `choice` row (`options.detect_options: false` turns that off).
`options.image_path_anchor` (e.g. `mathv60k_img/`) rebases LMM-R1's absolute cluster paths onto the root.
"""

from __future__ import annotations

import json
from typing import Any

from lmmr1_cli.data.adapters.common import answer_text, detect_options, image_list, problem_text, rebase_path
from lmmr1_cli.data.recipes import DataRecipe
from lmmr1_cli.data.schema import strip_placeholders
from lmmr1_cli.data.validate import RowDropped
from lmmr1_cli.errors import DataError


def adapt(record: dict[str, Any], index: int, recipe: DataRecipe) -> dict[str, Any]:
    column = recipe.fields.get("message", "message")
    raw = record.get(column)
    if raw is None:
        raise DataError(f"no {column!r} field (columns: {sorted(record)})")
    try:
        messages = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise RowDropped("bad_message", f"field {column!r} is not valid JSON ({exc.msg})") from None
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list):
        raise RowDropped("bad_message", f"field {column!r} is not a list of messages")
    texts: list[str] = []
    paths: list[str] = []
    system: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in ("user", "system"):
            continue
        content = message.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if message["role"] == "system":
            system += [
                str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text"
            ]
            continue
        for part in parts:
            kind = part.get("type")
            if kind == "text":
                texts.append(problem_text(part.get("text"), f"{column}: text part"))
            elif kind == "image":
                paths.append(str(part.get("image") or part.get("path") or ""))
            elif kind == "image_url":
                url = part.get("image_url")
                paths.append(str(url.get("url") if isinstance(url, dict) else url))
    problem, inline = strip_placeholders("\n".join(texts))
    if not problem:
        raise RowDropped("missing_problem", "no user text in the messages")
    answer_column = recipe.fields.get("answer", "answer")
    answer = answer_text(record.get(answer_column), answer_column)
    if "images" in recipe.fields:
        images = image_list(record.get(recipe.fields["images"]))
        placeholders: int | None = len(paths) + inline
    else:
        anchor = recipe.options.get("image_path_anchor")
        images = [rebase_path(p, anchor) for p in paths]
        placeholders = None if not inline else inline + len(paths)
    answer_type, choices = recipe.answer_type, None
    if recipe.options.get("detect_options", True):
        detected = detect_options(problem, answer)
        if detected:
            answer_type, choices = "choice", detected
    return {
        "id": f"{recipe.name}-{record[recipe.fields['id']]}" if "id" in recipe.fields else None,
        "problem": problem,
        "images": images,
        "answer": answer,
        "answer_type": answer_type,
        "choices": choices,
        "placeholders": placeholders,
        # Kept with the row (and counted in the manifest), never dropped silently: the official trainer feeds
        # the message as it is, so `model.system_prompt: auto` gives this row its own system prompt.
        **({"system": "\n".join(system).strip()} if "\n".join(system).strip() else {}),
    }
