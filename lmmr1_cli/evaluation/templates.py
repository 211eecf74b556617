"""Prompt templates: the user text a canonical row becomes under an evaluation protocol.

`plain` is lmmr1's own (the row's problem as stored). The others reproduce what the paper's evaluation sent:
its lmms-eval fork (ForJadeForest/lmm-r1-eval, `lmms_eval/tasks/<benchmark>/`) for the multimodal benchmarks and
its LightEval task file (`evaluate_text.py`) for MATH500 and GPQA-Diamond. Templates read the row's canonical
fields and, where the source had more (MathVista's unit and precision, OlympiadBench's subfield), the `meta`
columns its data recipe keeps.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lmmr1_cli.errors import DataError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# LightEval MATH500 prompt as the paper ran it (lmm-r1-eval `evaluate_text.py`, MATH_QUERY_TEMPLATE, itself from
# openai/simple-evals math_eval.py); the two spaces after "clearly." are in the original.
MATH_QUERY = (
    "Solve the following math problem efficiently and clearly.  The last line of your response should be of the "
    "following format: 'Therefore, the final answer is: $\\boxed{{ANSWER}}$. I hope it is correct' (without "
    "quotes) where ANSWER is just the final number or expression that solves the problem. Think step by step "
    "before answering.\n\n{question}"
)
# GPQA prompt as the paper ran it (`evaluate_text.py`, GPQA_QUERY_TEMPLATE, from simple-evals common.py).
GPQA_QUERY = (
    "Answer the following multiple choice question. The last line of your response should be of the following "
    "format: 'Answer: $LETTER' (without quotes) where LETTER is one of ABCD. Think step by step before "
    "answering.\n\n{question}\n\nA) {A}\nB) {B}\nC) {C}\nD) {D}"
)
# MMStar post-prompt (lmm-r1-eval `tasks/mmstar/mmstar.yaml`, lmms_eval_specific_kwargs.default.post_prompt).
MMSTAR_POST = "\nAnswer with the option's letter from the given choices directly"
_MMSTAR_YES_NO = " Please answer yes or no."

# "step-by-step" hints of MathVista/MathVision (lmm-r1-eval `tasks/mathvista/mathvista_evals.py` and
# `tasks/mathvision/mathvision_evals.py`, create_one_query): the hint follows the question and the choices.
HINT_CHOICE = (
    "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
)
HINT_INTEGER = (
    "Hint: Please answer the question requiring an integer answer and provide the final value, "
    "e.g., 1, 2, 3, at the end."
)
HINT_FLOAT1 = (
    "Hint: Please answer the question requiring a floating-point number with one decimal place and provide the "
    "final value, e.g., 1.2, 1.3, 1.4, at the end."
)
HINT_FLOAT2 = (
    "Hint: Please answer the question requiring a floating-point number with two decimal places and provide the "
    "final value, e.g., 1.23, 1.34, 1.45, at the end."
)
HINT_LIST = (
    "Hint: Please answer the question requiring a Python list as an answer and provide the final list, "
    "e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end."
)
HINT_LATEX = (
    "Hint: Please answer the question requiring a latex expression as an answer and provide the final "
    "expression, e.g., 2\\sqrt{3}, \\frac{1}{3}, at the end."
)
_IMAGE_TAG = re.compile(r"<image\d*>")


def _meta(row: dict, key: str, default=None):
    return (row.get("meta") or {}).get(key, default)


def _choices_block(choices: list[str] | None) -> str:
    if not choices:
        return ""
    return "\n".join(["Choices:", *(f"({LETTERS[i]}) {c}" for i, c in enumerate(choices))])


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def plain(row: dict) -> str:
    """lmmr1's own: the problem as prepare-data stored it."""
    return row["problem"]


def lighteval_math(row: dict) -> str:
    """MATH500 under LightEval: the boxed-answer instruction, then the problem."""
    return MATH_QUERY.format(question=row["problem"])


def lighteval_gpqa(row: dict) -> str:
    """GPQA-Diamond under LightEval: the 'Answer: $LETTER' instruction and four lettered options.

    The paper's LightEval task draws the correct option's position with `random.randint`; lmmr1's data recipe
    fixes it per question (seeded by the question), so every run asks the same thing.
    """
    choices = row.get("choices") or []
    if len(choices) != 4:
        raise DataError(
            f"row {row.get('id')}: field 'choices' must hold 4 options for GPQA, got {len(choices)}"
        )
    return GPQA_QUERY.format(question=row["problem"].strip(), **dict(zip("ABCD", choices, strict=True)))


def _float_hint(precision) -> str:
    try:
        digits = int(float(precision))
    except (TypeError, ValueError):
        digits = 2
    # The source builds hints for 1 and 2 decimals only (a float with other precision has none); two decimals
    # is the nearest honest instruction.
    return HINT_FLOAT1 if digits == 1 else HINT_FLOAT2


def mathvista_step_by_step(row: dict) -> str:
    """MathVista testmini CoT (lmms-eval task `mathvista_testmini_cot`, shot_type step-by-step, 0-shot):
    `Question: q (Unit: u)`, the lettered choices, then the hint for the answer type."""
    question = f"Question: {row['problem']}"
    unit = _meta(row, "unit")
    if unit:
        question += f" (Unit: {unit})"
    kind = _meta(row, "question_type")
    answer_kind = _meta(row, "answer_type")
    if kind == "multi_choice" or row.get("answer_type") == "choice":
        hint = HINT_CHOICE
    elif answer_kind == "integer":
        hint = HINT_INTEGER
    elif answer_kind == "float":
        hint = _float_hint(_meta(row, "precision"))
    elif answer_kind == "list":
        hint = HINT_LIST
    else:
        hint = ""
    return _join(question, _choices_block(row.get("choices")), hint)


def mathvision_step_by_step(row: dict) -> str:
    """MathVision test (lmms-eval task `mathvision_test`, shot_type step-by-step): the question without its
    `<imageN>` tags (images come first in lmmr1's conversation), the choices, then a hint chosen from the
    gold's form (integer, float, else a LaTeX expression), as the source does."""
    text = re.sub(r"[ \t]{2,}", " ", _IMAGE_TAG.sub(" ", row["problem"])).strip()
    question = f"Question: {text}"
    choices = row.get("choices")
    if choices:
        hint = HINT_CHOICE
    else:
        gold = str(row["answer"]).strip()
        if gold.isnumeric():
            hint = HINT_INTEGER
        else:
            try:
                float(gold)
                hint = _float_hint(len(gold.split(".")[1]) if "." in gold else 2)
            except ValueError:
                hint = HINT_LATEX
    return _join(question, _choices_block(choices), hint)


def mmstar_letter(row: dict) -> str:
    """MMStar (lmms-eval task `mmstar`): the question (options are in it) and 'Answer with the option's letter'."""
    return row["problem"].strip().replace(_MMSTAR_YES_NO, "") + MMSTAR_POST


def olympiadbench_en(row: dict) -> str:
    """OlympiadBench English (lmms-eval task `olympiadbench_test_en`): competition line, the question, the answer
    type and the 'So the final answer is \\boxed{...}' instruction."""
    subfield = _meta(row, "subfield")
    multiple = bool(_meta(row, "is_multiple_answer") or False)
    kind = _meta(row, "answer_type")
    if kind == "Need_human_evaluate":
        kind = "proof based"
    post = (
        f"The question has multiple answers, each of them should be {kind}.\n"
        if multiple
        else f"The answer of the question should be {kind}.\n"
    )
    post += (
        "Please calculate the answer according to the given requirements and the information provided. Please use "
        "LaTeX format to represent the variables and formulas used in the solution process and results. Please end "
        "your solution with "
    )
    post += (
        "So the final answer is \\boxed{multiple answers connected with commas}.\n"
        if multiple
        else '"So the final answer is \\boxed{answer}."\n'
    )
    return (
        f"The following is a question from an International {subfield} competition.\n{row['problem']}\n{post}"
    )


TEMPLATES: dict[str, Callable[[dict], str]] = {
    "plain": plain,
    "lighteval-math": lighteval_math,
    "lighteval-gpqa": lighteval_gpqa,
    "mathvista-step-by-step": mathvista_step_by_step,
    "mathvision-step-by-step": mathvision_step_by_step,
    "mmstar-letter": mmstar_letter,
    "olympiadbench-en": olympiadbench_en,
}


def render(template: str, row: dict) -> str:
    """The user text of `row` under `template` (a key of TEMPLATES).

    >>> render("lighteval-math", {"problem": "What is $1+1$?"}).splitlines()[-1]
    'What is $1+1$?'
    """
    try:
        build = TEMPLATES[template]
    except KeyError:
        raise DataError(f"prompt template {template!r} unknown; known: {sorted(TEMPLATES)}") from None
    return build(row)
