"""Each guard against a peer's known false positive (see shared/DESIGN.md, "What peers get wrong") has its own test.

math-verify 0.9 accepts the first four (checked when this was written; bench/verify_bench.py lists them too).
"""

from __future__ import annotations

from lmmr1_cli.verify import verify


def _answer(text: str) -> str:
    return f"<think>reasoning</think><answer>\\boxed{{{text}}}</answer>"


def test_tiny_values_stay_distinct_math_verify_chops_them() -> None:
    # math-verify: (a - b).evalf(chop=True) == 0 for 1/2^99 - 1/2^98.
    assert not verify(_answer("\\frac{1}{2^{99}}"), "\\frac{1}{2^{98}}").correct
    assert not verify(_answer("1/2^{99}"), "1/2^{98}").correct
    assert verify(_answer("2^{-99}"), "\\frac{1}{2^{99}}").correct


def test_sign_of_a_small_term_matters() -> None:
    # math-verify: pi + 1e-20 equals pi - 1e-20 (chop again).
    assert not verify(_answer("\\pi-10^{-20}"), "\\pi+10^{-20}").correct


def test_rounding_to_six_decimals_does_not_merge_tiny_decimals() -> None:
    # math-verify rounds floats to 6 decimals, so 1e-9 == 2e-9.
    assert not verify(_answer("0.000000002"), "0.000000001").correct
    assert verify(_answer("0.333333"), "\\frac{1}{3}").correct  # ordinary rounding still accepted


def test_tiny_values_inside_tuples_stay_distinct() -> None:
    assert not verify(_answer("(\\frac{1}{2^{98}}, 1)"), "(\\frac{1}{2^{99}}, 1)").correct


def test_scientific_e_notation_is_a_number() -> None:
    # math-verify reads 1e-9 as E - 9 (Euler's number); we read it as 10^-9.
    assert verify(_answer("1e-9"), "10^{-9}").correct
    assert not verify(_answer("2e-9"), "1e-9").correct


def test_interval_brackets_matter() -> None:
    assert not verify(_answer("(1,2)"), "[1,2)").correct
    assert not verify(_answer("[1,2]"), "[1,2)").correct


def test_tuple_order_matters() -> None:
    assert not verify(_answer("(2,1)"), "(1,2)").correct
    assert not verify(_answer("(-1,3)"), "(3,-1)").correct


def test_no_times_100_percentage_leniency() -> None:
    assert not verify(_answer("50"), "0.5").correct
    assert verify(_answer("50\\%"), "0.5").correct  # 50% is 0.5: equal values, not leniency


def test_unparseable_gold_never_scores_one() -> None:
    # LMM-R1's reward server returned 1.0 whenever the gold failed to parse.
    verdict = verify(_answer("anything"), "\\frac{")
    assert (verdict.correct, verdict.reason) == (False, "gold_unparseable")


def test_reasoning_is_not_parsed_for_the_answer() -> None:
    # LMM-R1 parsed the whole response, so a right number anywhere in the reasoning could score.
    verdict = verify("<think>maybe 12? \\boxed{12}</think><answer>\\boxed{13}</answer>", "12")
    assert not verdict.correct and verdict.extracted == "13"


def test_equation_and_value_match_both_ways() -> None:
    assert verify(_answer("3"), "x=3").correct
    assert verify(_answer("x=3"), "3").correct


def test_extracted_text_is_what_the_model_wrote() -> None:
    # e-notation is rewritten for sympy, but the verdict reports the model's own spelling.
    assert verify(_answer("8e-9"), "8\\times10^{-9}").extracted == "8e-9"
