"""Column-mapped sources: DeepScaleR, Geometry3K (`<image>` in `problem`, an `images` column), EasyR1/verl
(`prompt_key`/`answer_key`/`image_key` are `fields.problem`/`fields.answer`/`fields.images`), MathVista,
MathVerse, MathVision, MMStar, MATH-500, GPQA, OlympiadBench and any table with a field mapping.

`fields` maps canonical names to source columns: problem, answer, images, choices, id, answer_type.
`options`:
- `answer_is_choice_text`: the gold is an option's text (MathVista); it becomes the option's letter.
- `choice_columns`: option texts are separate columns, the first one correct (GPQA); shuffled per row, seeded
  by the row's problem, so every run gives the same order.
- `choice_when_options`: a row with a non-empty choices column is a `choice` row (MathVision).
- `detect_options`: lettered options written in the problem make the row a `choice` row.
- `image_path_anchor`: foreign image paths are cut to the part from this dir name on (see messages.py).
- `keep_columns`: source columns copied into the row's `meta` (breakdown columns such as MathVerse's
  `problem_version` or MathVision's `subject`, and what a paper prompt template needs, e.g. MathVista's `unit`).
- `require_placeholders`: the image count must match the `<image>` placeholders even when there are none.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from lmmr1_cli.data.adapters.common import (
    LETTERS,
    answer_text,
    choice_list,
    choice_text_to_letter,
    detect_options,
    image_list,
    problem_text,
    rebase_path,
)
from lmmr1_cli.data.recipes import DataRecipe
from lmmr1_cli.data.schema import strip_placeholders
from lmmr1_cli.errors import ConfigError

DEFAULT_FIELDS = {"problem": "problem", "answer": "answer"}
KNOWN_OPTIONS = (
    "answer_is_choice_text",
    "choice_columns",
    "choice_when_options",
    "detect_options",
    "image_path_anchor",
    "keep_columns",
    "require_placeholders",
)


def _column(record: dict[str, Any], column: str, required: bool) -> Any:
    if column not in record:
        if required:
            raise ConfigError(
                f"source has no column {column!r} (columns: {sorted(record)}); fix the recipe's fields"
            )
        return None
    return record[column]


def adapt(record: dict[str, Any], index: int, recipe: DataRecipe) -> dict[str, Any]:
    fields = {**DEFAULT_FIELDS, **recipe.fields}
    options = recipe.options
    unknown = sorted(set(options) - set(KNOWN_OPTIONS))
    if unknown:
        raise ConfigError(
            f"recipe {recipe.name!r}: unknown option(s) {unknown}; known: {list(KNOWN_OPTIONS)}"
        )
    raw_problem = problem_text(_column(record, fields["problem"], required=True), fields["problem"])
    problem, placeholders = strip_placeholders(raw_problem)
    answer = answer_text(_column(record, fields["answer"], required=True), fields["answer"])
    if "images" in fields:
        images = image_list(_column(record, fields["images"], required=True))
    else:
        images = []
        _refuse_unmapped_images(record, placeholders)
    anchor = options.get("image_path_anchor")
    images = [rebase_path(v, anchor) if isinstance(v, str) else v for v in images]
    choices = choice_list(_column(record, fields["choices"], required=True)) if "choices" in fields else None
    answer_type = recipe.answer_type
    if "answer_type" in fields:
        value = str(_column(record, fields["answer_type"], required=True))
        answer_type = recipe.answer_type_map.get(value, recipe.answer_type)
    if options.get("choice_when_options") and choices:
        answer_type = "choice"
    if options.get("choice_columns"):
        choices, answer = _shuffled_choices(record, options["choice_columns"], problem)
        answer_type = "choice"
    if answer_type == "choice" and choices and options.get("answer_is_choice_text"):
        answer = choice_text_to_letter(answer, choices)
    if options.get("detect_options") and choices is None:
        detected = detect_options(problem, answer)
        if detected:
            choices, answer_type = detected, "choice"
    if answer_type != "choice":
        choices = None  # option lists of free-form rows (MathVista) would only confuse the choice rule
    row_id = _column(record, fields["id"], required=True) if "id" in fields else None
    meta = _kept_columns(record, options.get("keep_columns") or [])
    return {
        "id": f"{recipe.name}-{row_id}" if row_id is not None else None,
        "problem": problem,
        "images": images,
        "answer": answer,
        "answer_type": answer_type,
        "choices": choices,
        # Only a text that uses placeholders promises an image count; MathVista-style rows put images aside.
        "placeholders": placeholders if placeholders or options.get("require_placeholders") else None,
        **({"meta": meta} if meta else {}),
    }


# Columns that hold a row's images in the sources lmmr1 reads (adapters._GUESS tries the same names).
IMAGE_COLUMNS = ("images", "image", "decoded_image")


def _refuse_unmapped_images(record: dict[str, Any], placeholders: int) -> None:
    """A row whose text asks for images that sit in a column the recipe does not map would be dropped as
    `image_count_mismatch` for a field the reader ignored: a recipe error, said once with its fix."""
    if not placeholders:
        return
    for column in IMAGE_COLUMNS:
        if image_list(record.get(column)):
            raise ConfigError(
                f"the text has {placeholders} image placeholder(s) and column {column!r} holds images, but the "
                f"recipe's fields map no images column; add `images: {column}` to its fields"
            )


def _kept_columns(record: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    """`keep_columns` values, JSON-safe (strings, numbers, booleans, null, and lists/dicts of them)."""
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ConfigError("option `keep_columns` must be a list of column names")
    meta = {}
    for column in columns:
        value = _column(record, column, required=True)
        if not _json_scalar_tree(value):
            raise ConfigError(
                f"column {column!r} in keep_columns holds {type(value).__name__}, not text or numbers"
            )
        meta[column] = value
    return meta


def _json_scalar_tree(value: Any, depth: int = 0) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if depth > 2:
        return False
    if isinstance(value, list):
        return all(_json_scalar_tree(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_scalar_tree(v, depth + 1) for k, v in value.items())
    return False


def _shuffled_choices(record: dict[str, Any], columns: list[str], problem: str) -> tuple[list[str], str]:
    texts = [answer_text(_column(record, c, required=True), c) for c in columns]
    order = list(range(len(texts)))
    random.Random(hashlib.sha256(problem.encode()).hexdigest()).shuffle(order)
    choices = [texts[i] for i in order]
    return choices, LETTERS[order.index(0)]
