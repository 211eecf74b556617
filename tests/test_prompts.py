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


def test_training_rows_get_their_own_system_message_under_auto(tmp_path) -> None:
    """Through prepare-data and the trainer's dataset: a Sokoban row keeps the official game's system message;
    a row without one gets the paper's R1 prompt; a named prompt overrides both."""
    from lmmr1_cli.data.prepare import PrepareOptions, prepare_dataset
    from lmmr1_cli.data.recipes import resolve_recipe
    from lmmr1_cli.data.synthetic.sokoban import SYSTEM_PROMPT as SOKOBAN_SYSTEM
    from lmmr1_cli.train import build_train_dataset

    prepare_dataset(resolve_recipe("synthetic-sokoban"), tmp_path / "sokoban", PrepareOptions(limit=2))
    prepare_dataset(resolve_recipe("synthetic-arith"), tmp_path / "arith", PrepareOptions(limit=2))

    def system_of(name: str, setting: str) -> str | None:
        first = build_train_dataset(tmp_path / name, setting)[0]["prompt"][0]
        return first["content"][0]["text"] if first["role"] == "system" else None

    assert system_of("sokoban", "auto") == SOKOBAN_SYSTEM
    assert system_of("arith", "auto") == R1_SYSTEM_PROMPT
    assert system_of("sokoban", "r1") == R1_SYSTEM_PROMPT
    assert system_of("sokoban", "none") is None
