"""MathV360K / LLaVA-style rows: `{"id", "image": "path" | [paths], "conversations": [{"from": "human", "value":
"<image>\\nQuestion"}, {"from": "gpt", "value": "answer"}]}`. The first human turn is the problem, the next
assistant turn the gold; lettered options in the problem make it a `choice` row."""

from __future__ import annotations

from typing import Any

from lmmr1_cli.data.adapters.common import answer_text, detect_options, image_list, problem_text
from lmmr1_cli.data.recipes import DataRecipe
from lmmr1_cli.data.schema import strip_placeholders
from lmmr1_cli.data.validate import RowDropped

_HUMAN = ("human", "user")
_ASSISTANT = ("gpt", "assistant")


def adapt(record: dict[str, Any], index: int, recipe: DataRecipe) -> dict[str, Any]:
    fields = {"conversations": "conversations", "images": "image", "id": "id", **recipe.fields}
    turns = record.get(fields["conversations"]) or []
    question = next((t for t in turns if t.get("from", t.get("role")) in _HUMAN), None)
    if question is None:
        raise RowDropped("missing_problem", "no human turn in the conversation")
    after = turns[turns.index(question) + 1 :]
    reply = next((t for t in after if t.get("from", t.get("role")) in _ASSISTANT), None)
    if reply is None:
        raise RowDropped("missing_answer", "no assistant turn after the question")
    text = problem_text(question.get("value", question.get("content")), "conversations")
    problem, placeholders = strip_placeholders(text)
    answer = answer_text(reply.get("value", reply.get("content")), "conversations")
    images = image_list(record.get(fields["images"]))
    answer_type, choices = recipe.answer_type, None
    detected = detect_options(problem, answer)
    if detected:
        answer_type, choices = "choice", detected
    row_id = record.get(fields["id"])
    return {
        "id": f"{recipe.name}-{row_id}" if row_id is not None else None,
        "problem": problem,
        "images": images,
        "answer": answer,
        "answer_type": answer_type,
        "choices": choices,
        "placeholders": placeholders,
    }
