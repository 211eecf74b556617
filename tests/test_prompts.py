"""System prompts: the paper's R1 prompt, a row's own system message, and the named choices."""

from __future__ import annotations

from lmmr1_cli.evaluation.protocols import R1_EVAL_SYSTEM_PROMPT
from lmmr1_cli.prompts import (
    R1_SYSTEM_PROMPT,
    TINY_SYSTEM_PROMPT,
    build_conversation,
    resolve_system_prompt,
)


def test_r1_prompt_is_the_papers_text_and_the_same_in_training_and_evaluation() -> None:
    assert R1_SYSTEM_PROMPT == R1_EVAL_SYSTEM_PROMPT  # Appendix E: one prompt for both
    assert "Your answer must be in latex format and wrapped in $...$.The reasoning" in R1_SYSTEM_PROMPT
    assert "<think> Since $1+1=2$, so the answer is $2$. </think><answer> $2$ </answer>" in R1_SYSTEM_PROMPT
    assert R1_SYSTEM_PROMPT.endswith("should start with <think> and end with </answer>.")


def test_auto_keeps_a_rows_own_system_message_else_uses_r1() -> None:
    assert resolve_system_prompt("auto", "Solve the question.") == "Solve the question."
    assert resolve_system_prompt("auto", None) == R1_SYSTEM_PROMPT
    assert resolve_system_prompt("auto", "") == R1_SYSTEM_PROMPT
    assert resolve_system_prompt(None) == R1_SYSTEM_PROMPT


def test_named_and_literal_prompts_override_the_rows_own() -> None:
    assert resolve_system_prompt("r1", "row's") == R1_SYSTEM_PROMPT
    assert resolve_system_prompt("TINY", "row's") == TINY_SYSTEM_PROMPT
    assert resolve_system_prompt("none", "row's") is None
    assert resolve_system_prompt("Be brief.", "row's") == "Be brief."
    assert build_conversation("1+1?", 0, resolve_system_prompt("none"))[0]["role"] == "user"
