"""TRL reward functions for the LMM-R1 recipe: 0.5 x format + 1.0 x accuracy (weights set in GRPOConfig).

Each function has TRL's signature `(completions, **kwargs) -> list[float]`; dataset columns (`answer`,
`answer_type`, `choices`) arrive as kwargs lists, one entry per completion. Accuracy scores the whole step's batch
with one batch call and never raises: a verifier error scores 0 and is counted in the `verifier/errors` metric
(TRL's `log_metric` kwarg).

Two modes (`rewards.mode`, `reward_functions`): `paper` reproduces the official LMM-R1 reward server
(`verify/paper.py`; for Sokoban rows `0.5 x format + accuracy` is the official total), `strict` is lmmr1's own
verifier. Both keep the names `format_reward` and `accuracy_reward`, so the logged metrics do not change.
"""

from __future__ import annotations

import functools
import importlib.util
import time
from collections.abc import Callable

from lmmr1_cli.custom_rewards import parse_reward_spec
from lmmr1_cli.defaults import VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.step_timing import VERIFIER_SECONDS
from lmmr1_cli.verify import (
    Verdict,
    VerifyItem,
    check_format,
    verify_batch_with_stats,
    verify_paper_batch_with_stats,
)
from lmmr1_cli.verify import paper as paper_rules
from lmmr1_cli.verify import sokoban as sokoban_rules

REWARD_MODES = ("paper", "strict")

# Reasons that mean "the verifier could not judge", as opposed to a wrong answer.
VERIFIER_FAILURES = ("error", "timeout", "gold_unparseable")


def completion_text(completion) -> str:
    """The text of a completion: a plain string, or TRL's conversational `[{"role": "assistant", "content": ...}]`
    (content may be a string or a list of `{"type": "text", "text": ...}` parts)."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts: list[str] = []
    for message in completion or []:
        content = message.get("content", "") if isinstance(message, dict) else message
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
    return "".join(parts)


def format_reward(completions: list, reward_mode: str = "strict", **kwargs) -> list[float]:
    r"""1.0 when the completion is `<think>…</think>` then `<answer>…</answer>` (newlines allowed, one of each
    tag, nothing else outside them), else 0.0. `reward_mode="paper"`: `paper_format_reward` instead.

    Example:
    ```python
    >>> from lmmr1_cli.rewards import format_reward
    >>> format_reward(["<think>\n2+2=4\n</think>\n<answer>4</answer>", "<answer>4</answer>"])
    [1.0, 0.0]

    ```
    """
    if reward_mode == "paper":
        return paper_format_reward(completions, **kwargs)
    return [1.0 if check_format(completion_text(c)) else 0.0 for c in completions]


def accuracy_reward(
    completions: list,
    answer: list[str],
    answer_type: list[str | None] | None = None,
    choices: list[list[str] | None] | None = None,
    log_metric: Callable[[str, float], None] | None = None,
    verify_timeout: float = VERIFY_TIMEOUT_SECONDS,
    reward_mode: str = "strict",
    **kwargs,
) -> list[float]:
    r"""1.0 when the completion's `<answer>` matches the gold `answer` under its `answer_type` rule, else 0.0.
    `reward_mode="paper"`: `paper_accuracy_reward` instead.

    Example:
    ```python
    >>> from lmmr1_cli.rewards import accuracy_reward
    >>> completions = [[{"role": "assistant", "content": "<think>.</think><answer>\\boxed{\\frac{1}{2}}</answer>"}],
    ...                [{"role": "assistant", "content": "<think>.</think><answer>B</answer>"}]]
    >>> accuracy_reward(completions, answer=["0.5", "A"], answer_type=["math", "choice"], choices=[None, ["1", "2"]])
    [1.0, 0.0]

    ```
    """
    started = time.perf_counter()
    if reward_mode == "paper":
        scores = paper_accuracy_reward(
            completions, answer, answer_type, log_metric=log_metric, verify_timeout=verify_timeout
        )
        _log_seconds(started, log_metric)
        return scores
    n = len(completions)
    try:
        items = [
            VerifyItem(
                completion_text(completions[i]),
                str(answer[i]),
                (answer_type[i] if answer_type else None) or "math",
                tuple(str(c) for c in choices[i]) if choices and choices[i] is not None else None,
            )
            for i in range(n)
        ]
        verdicts, stats = verify_batch_with_stats(items, timeout=verify_timeout)
        _log_repeat_rate(stats.repeat_rate, log_metric)
    except Exception:  # never abort a training step because of the verifier
        verdicts = [Verdict(False, None, "error")] * n
    _log_failures([v.reason for v in verdicts], log_metric)
    _log_seconds(started, log_metric)
    return [1.0 if v.correct else 0.0 for v in verdicts]


def _log_seconds(started: float, log_metric: Callable[[str, float], None] | None) -> None:
    # Wall time of the step's verification, pool round trip included: its share of the step time is what
    # bench/train_bench.py reports from metrics.jsonl.
    if log_metric is not None:
        log_metric(VERIFIER_SECONDS, time.perf_counter() - started)


def accuracy_reward_with_timeout(verify_timeout: float) -> Callable[..., list[float]]:
    """`accuracy_reward` with a recipe's wall-clock limit; keeps the name TRL logs it under."""
    reward = functools.partial(accuracy_reward, verify_timeout=verify_timeout)
    reward.__name__ = accuracy_reward.__name__
    return reward


def paper_format_reward(
    completions: list, answer_type: list[str | None] | None = None, **kwargs
) -> list[float]:
    r"""The official format rule: 1.0 when the response (end-of-sequence tokens removed, stripped) is exactly
    `<think>…</think><answer>…</answer>`, nothing between the tags; Sokoban rows: one of each tag and only
    Left/Right/Up/Down in the answer (sokoban_verifier.py).

    Example:
    ```python
    >>> from lmmr1_cli.rewards import paper_format_reward
    >>> paper_format_reward(["<think>2+2=4</think><answer>$4$</answer><|im_end|>", "<think>a</think>\n<answer>4</answer>"])
    [1.0, 0.0]

    ```
    """
    rewards = []
    for i, completion in enumerate(completions):
        text = completion_text(completion)
        if answer_type and answer_type[i] == "sokoban":
            ok = sokoban_rules.paper_format(text)
        else:
            ok = paper_rules.check_format(text)
        rewards.append(1.0 if ok else 0.0)
    return rewards


def paper_accuracy_reward(
    completions: list,
    answer: list[str],
    answer_type: list[str | None] | None = None,
    log_metric: Callable[[str, float], None] | None = None,
    verify_timeout: float = VERIFY_TIMEOUT_SECONDS,
    **kwargs,
) -> list[float]:
    r"""The official accuracy rule: math-verify over the whole response, as the LMM-R1 server calls it (1.0/0.0);
    Sokoban rows: the official reward minus its 0.5 x format part (gym-sokoban reward + length bonuses).

    Example:
    ```python
    >>> from lmmr1_cli.rewards import paper_accuracy_reward
    >>> paper_accuracy_reward(["<think>a</think><answer>$\\frac{1}{2}$</answer>", "<think>a</think><answer>0.5</answer>"],
    ...                       answer=["0.5", "0.5"])
    [1.0, 0.0]

    ```
    """
    n = len(completions)
    try:
        items = [
            VerifyItem(
                completion_text(completions[i]),
                str(answer[i]),
                (answer_type[i] if answer_type else None) or "math",
            )
            for i in range(n)
        ]
        verdicts, stats = verify_paper_batch_with_stats(items, timeout=verify_timeout)
        _log_repeat_rate(stats.repeat_rate, log_metric)
        reasons = [v.reason for v in verdicts]
        scores = [v.accuracy for v in verdicts]
    except Exception:  # never abort a training step because of the verifier
        reasons, scores = ["error"] * n, [0.0] * n
    _log_failures(reasons, log_metric)
    return scores


def _log_repeat_rate(rate: float, log_metric: Callable[[str, float], None] | None) -> None:
    # Share of the step's (gold, answer) pairs that repeat one earlier in the batch: each is checked once.
    if log_metric is not None:
        log_metric("verifier/repeat_rate", rate)


def _log_failures(reasons: list[str], log_metric: Callable[[str, float], None] | None) -> None:
    if log_metric is not None:
        log_metric("verifier/errors", float(sum(r in ("error", "gold_unparseable") for r in reasons)))
        log_metric("verifier/timeouts", float(sum(r == "timeout" for r in reasons)))


def reward_functions(mode: str, verify_timeout: float) -> list[Callable[..., list[float]]]:
    """[format, accuracy] for `rewards.mode` (`paper` or `strict`), under the recipe's wall-clock limit: partials
    of `format_reward` and `accuracy_reward` in both modes, so TRL (which unwraps partials) logs
    `rewards/format_reward/mean` and `rewards/accuracy_reward/mean` whatever the mode.

    >>> from trl.trainer.utils import get_callable_name
    >>> [get_callable_name(f) for f in reward_functions("paper", 3.0)]
    ['format_reward', 'accuracy_reward']
    """
    if mode not in REWARD_MODES:
        raise ConfigError(f"rewards.mode must be one of {', '.join(REWARD_MODES)}, got {mode!r}")
    if mode == "paper":
        _start_verifier_pool()  # paper mode needs workers every batch; strict mode may decide all in-process
    return [
        functools.partial(format_reward, reward_mode=mode),
        functools.partial(accuracy_reward, verify_timeout=verify_timeout, reward_mode=mode),
    ]


def _start_verifier_pool() -> None:
    """Start the run's verifier workers now, without waiting: they import sympy while the trainer loads the model,
    so the first step does not pay for it. Started once per process; every batch reuses them."""
    from lmmr1_cli.verify.pool import get_pool

    try:
        get_pool().start()
    except Exception:  # no processes here: the first batch reports every check as an error, as before
        pass


REWARD_FUNCTIONS: dict[str, Callable[..., list[float]]] = {
    "format": format_reward,
    "accuracy": accuracy_reward,
}


def load_reward_function(spec: str) -> Callable[..., list[float]]:
    """Load a custom reward from an explicit `path/to/file.py:function_name` (EasyR1 style); nothing else is
    imported, so a recipe cannot name an arbitrary module. (custom_rewards.check_reward_spec checks the same spec
    without running the file, before any model loads.)

    >>> load_reward_function("no_colon")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    lmmr1_cli.errors.ConfigError: ...
    """
    path, name = parse_reward_spec(spec)
    path_text = str(path)
    module_spec = importlib.util.spec_from_file_location(f"lmmr1_custom_reward_{path.stem}", path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"cannot import reward function file {path_text!r}")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise ConfigError(f"importing {path_text!r} failed: {type(exc).__name__}: {exc}") from exc
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"{path_text!r} has no function named {name!r}")
    return function
