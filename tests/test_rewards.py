"""TRL reward functions: format and accuracy components, conversational completions, failures logged, never
raising; custom rewards only from an explicit file:function."""

from __future__ import annotations

import pytest

from lmmr1_cli.errors import ConfigError
from lmmr1_cli.rewards import (
    REWARD_FUNCTIONS,
    accuracy_reward,
    format_reward,
    load_reward_function,
    reward_functions,
)

GOOD = "<think>\n3 * 4 = 12\n</think>\n<answer>\\boxed{12}</answer>"


def _chat(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def _trl_kwargs(metrics: dict, **columns) -> dict:
    """The kwargs TRL 1.16's GRPOTrainer._calculate_rewards passes besides the dataset columns."""
    return {
        "prompts": ["q"] * len(next(iter(columns.values()))),
        "completion_ids": [[0]] * len(next(iter(columns.values()))),
        "trainer_state": None,
        "log_extra": lambda column, values: None,
        "log_metric": lambda name, value: metrics.setdefault(name, []).append(value),
        **columns,
    }


def test_format_reward_on_plain_and_conversational_completions() -> None:
    completions = [
        GOOD,
        _chat(GOOD),
        "<answer>12</answer>",
        _chat("<think>a</think><answer>1</answer> extra"),
    ]
    assert format_reward(completions) == [1.0, 1.0, 0.0, 0.0]


def test_format_reward_reads_content_parts() -> None:
    parts = [{"role": "assistant", "content": [{"type": "text", "text": GOOD}]}]
    assert format_reward([parts]) == [1.0]


def test_accuracy_reward_with_trl_kwargs_and_mixed_answer_types() -> None:
    metrics: dict = {}
    completions = [
        _chat(GOOD),
        _chat("<think>a</think><answer>(B)</answer>"),
        _chat("<think>a</think><answer>R</answer>"),
    ]
    rewards = accuracy_reward(
        completions=completions,
        **_trl_kwargs(
            metrics,
            answer=["12", "A", "#####\n#@$.#\n#####"],
            answer_type=["math", "choice", "sokoban"],
            choices=[None, ["1", "2"], None],
        ),
    )
    assert rewards == [1.0, 0.0, 1.0]
    seconds = metrics.pop("verifier/seconds")  # the verifier's wall time, for its share of the step time
    assert len(seconds) == 1 and 0.0 < seconds[0] < 10.0
    assert metrics == {"verifier/errors": [0.0], "verifier/timeouts": [0.0], "verifier/repeat_rate": [0.0]}


def test_accuracy_reward_defaults_to_math_without_answer_type_column() -> None:
    assert accuracy_reward([GOOD, GOOD], answer=["12", "13"]) == [1.0, 0.0]
    assert accuracy_reward([GOOD], answer=["12"], answer_type=[None]) == [1.0]


def test_verifier_error_scores_zero_and_is_counted_not_raised() -> None:
    metrics: dict = {}
    rewards = accuracy_reward(
        [GOOD, GOOD, GOOD],
        **_trl_kwargs(metrics, answer=["\\frac{", "12", "12"], answer_type=["math", "nope", "math"]),
    )
    assert rewards == [0.0, 0.0, 1.0]
    assert metrics["verifier/errors"] == [2.0]


def test_accuracy_reward_survives_misaligned_columns() -> None:
    metrics: dict = {}
    assert accuracy_reward([GOOD, GOOD], **_trl_kwargs(metrics, answer=["12"])) == [0.0, 0.0]
    assert metrics["verifier/errors"] == [2.0]


def test_timeouts_are_logged() -> None:
    metrics: dict = {}
    tower = "<think>a</think><answer>\\boxed{(x+1)^{100000}}</answer>"
    # an explosive answer against an explosive gold reaches sympy (docs/verifier.md) and overruns the limit
    assert accuracy_reward([tower], **_trl_kwargs(metrics, answer=["(x+2)^{100000}"])) == [0.0]
    assert metrics["verifier/timeouts"] == [1.0]


def test_reward_functions_registry() -> None:
    assert REWARD_FUNCTIONS == {"format": format_reward, "accuracy": accuracy_reward}


def test_custom_reward_loads_from_an_explicit_file(tmp_path) -> None:
    path = tmp_path / "my_reward.py"
    path.write_text(
        "def length_reward(completions, **kwargs):\n    return [float(len(c)) for c in completions]\n"
    )
    function = load_reward_function(f"{path}:length_reward")
    assert function(["ab", "abc"]) == [2.0, 3.0]


@pytest.mark.parametrize("spec", ["os:getcwd", "just_a_name", "missing.py:f", ":f", "x.txt:f"])
def test_custom_reward_refuses_anything_but_an_existing_py_file(spec: str) -> None:
    with pytest.raises(ConfigError):
        load_reward_function(spec)


def test_custom_reward_missing_function_is_a_config_error(tmp_path) -> None:
    path = tmp_path / "r.py"
    path.write_text("x = 1\n")
    with pytest.raises(ConfigError, match="no function named"):
        load_reward_function(f"{path}:x")


def test_paper_mode_rewards_are_the_official_servers_on_math_and_sokoban_rows() -> None:
    """0.5 x format + accuracy equals what the official math_verifier.py / sokoban_verifier.py return."""
    metrics: dict = {}
    fmt, acc = reward_functions("paper", 10.0)
    completions = [
        _chat("<think>3*4</think><answer>$12$</answer>"),  # official 0.5 + 1.0
        _chat(GOOD),  # newlines between the tags: official format 0, boxed answer still 1.0
        _chat("<think>3*4</think><answer>12</answer>"),  # no $…$: official accuracy 0
        _chat("<think>push it right</think><answer>Right</answer>"),  # solves the level in one push
        _chat("<think>push</think><answer>R</answer>"),  # letters are not the official vocabulary
    ]
    columns = {
        "answer": ["12", "12", "12", "#####\n#@$.#\n#####", "#####\n#@$.#\n#####"],
        "answer_type": ["math", "math", "math", "sokoban", "sokoban"],
        "choices": [None] * 5,
    }
    formats = fmt(completions, **_trl_kwargs(metrics, **columns))
    scores = acc(completions, **_trl_kwargs(metrics, **columns))
    assert formats == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert scores[:3] == [1.0, 1.0, 0.0] and scores[4] == 0.0
    # gym-sokoban: -0.1 + 1 + 10 = 10.9; 0.05 x 1 action; 0.001 x 3 thinking words
    assert 0.5 * formats[3] + scores[3] == pytest.approx(10.9 + 0.5 + 0.05 + 0.003)
    assert metrics["verifier/errors"] == [0.0] and metrics["verifier/timeouts"] == [0.0]


def test_strict_mode_keeps_lmmr1s_verifier_and_an_unknown_mode_is_a_config_error() -> None:
    fmt, acc = reward_functions("strict", 3.0)
    assert acc([GOOD], answer=["12"]) == [1.0] and fmt([GOOD]) == [1.0]
    with pytest.raises(ConfigError, match="rewards.mode"):
        reward_functions("official", 3.0)


def test_paper_mode_through_real_trl_steps(arith_train, tmp_path) -> None:
    """`train-fre ... rewards.mode=paper`: TRL calls the paper rewards with its own kwargs, logs them under the
    usual names, and the verifier reports no errors; the run records the mode."""
    import json

    from tests.conftest import run_lmmr1

    out = tmp_path / "fre-paper"
    result = run_lmmr1(
        "train-fre", "--recipe", "tiny-fre", "--data", arith_train, "-o", out, "rewards.mode=paper",
        "run.max_steps=2", "batch.samples_per_prompt=4", "batch.samples_per_step=16", "batch.micro_batch_size=16",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [s for s in steps if "rewards/accuracy_reward/mean" in s]
    assert len(logged) >= 2
    for step in logged:
        assert 0.0 <= step["rewards/format_reward/mean"] <= 1.0
        assert step.get("verifier/errors", 0.0) == 0.0
    assert "paper" in (out / "run.json").read_text()


def test_the_repeat_rate_of_gold_answer_pairs_is_logged_in_both_modes() -> None:
    completions = [f"<think>try {k}</think><answer>$12$</answer>" for k in range(3)] + [GOOD]
    for mode in ("strict", "paper"):
        metrics: dict = {}
        accuracy_reward(completions, reward_mode=mode, **_trl_kwargs(metrics, answer=["12"] * 4))
        assert metrics["verifier/repeat_rate"] == [pytest.approx(0.5 if mode == "strict" else 0.75)], mode


def test_building_paper_rewards_starts_the_verifier_pool_once() -> None:
    from lmmr1_cli.verify.pool import get_pool

    reward_functions("paper", 3.0)
    workers = [w.process.pid for w in get_pool()._workers]
    assert len(workers) == get_pool().size
    reward_functions("paper", 3.0)
    assert [w.process.pid for w in get_pool()._workers] == workers
