"""Adversarial outputs: each returns within the limit + 0.5 s, and the pool keeps working after them."""

from __future__ import annotations

import time

import pytest

from lmmr1_cli.verify import verify, verify_batch

pytestmark = pytest.mark.usefixtures("verifier_pool")  # the limits below must not pay for worker start-up

LIMIT = 1.0
ADVERSARIAL = {
    "power_tower": "<answer>\\boxed{9^{9^{9^{9^{9^{9}}}}}}</answer>",
    "symbolic_power_tower": "<answer>\\boxed{x^{9^{9^{9}}}}</answer>",
    "huge_expansion": "<answer>\\boxed{(x+1)^{100000}}</answer>",
    "huge_factorial": "<answer>\\boxed{(10^{10})!}</answer>",
    "nested_braces": "<answer>\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}</answer>",
    "megabyte_answer": "<answer>" + "1+" * 500_000 + "1</answer>",
    "megabyte_reasoning": "<think>" + "x^{" * 300_000 + "</think><answer>7</answer>",
    "nul_bytes": "<answer>\x00\\boxed{7\x00}\x00</answer>",
    "unbalanced_boxed": "<answer>\\boxed{\\frac{1}{2}</answer>",
    "unterminated_boxed": "<think>x</think>\\boxed{" + "{" * 5000,
    "deep_parentheses": "<answer>" + "(" * 5000 + "1" + ")" * 5000 + "</answer>",
    "long_power_chain": "<answer>\\boxed{" + "2^" * 200 + "2}</answer>",
}


@pytest.mark.parametrize("gold", ["7", "x+1"])
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_output_returns_within_limit(name: str, gold: str) -> None:
    start = time.perf_counter()
    verdict = verify(ADVERSARIAL[name], gold, timeout=LIMIT, boxed_fallback=True)
    elapsed = time.perf_counter() - start
    # A hang guard: the limit plus a wide margin for a loaded machine; an unbounded check takes minutes.
    assert elapsed <= LIMIT + 20.0, f"{name} took {elapsed:.2f} s"
    assert verdict.correct is (name in ("megabyte_reasoning", "nul_bytes") and gold == "7")
    # The pool still answers ordinary questions right after.
    assert verify("<answer>\\boxed{\\sqrt{4}}</answer>", "2", timeout=LIMIT).correct


def test_timeouts_inside_a_batch_do_not_cost_the_other_items() -> None:
    # An explosive answer is wrong in-process, unless the gold is explosive too: then it reaches sympy and its limit.
    tower = ADVERSARIAL["huge_expansion"]
    items = [(tower, "(x+2)^{100000}")] * 3 + [("<answer>\\boxed{(x+1)^2}</answer>", "x^2+2x+1")] * 5
    verdicts = verify_batch(items, timeout=LIMIT)
    assert [v.reason for v in verdicts[:3]] == ["timeout"] * 3
    assert all(v.correct for v in verdicts[3:])
