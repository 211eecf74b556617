"""The verifier's front door: one pair or a whole GRPO batch. Extraction, gold parsing (cached) and fast paths run
in-process; only pairs that need sympy go to the worker pool, each under a wall-clock limit, deduplicated and
cached across calls (a GRPO group repeats the same gold 16 times and often the same answer)."""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from lmmr1_cli.defaults import ANSWER_TYPES, VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.verify import choice, sokoban
from lmmr1_cli.verify.extract import extract_answer
from lmmr1_cli.verify.math_rule import latex_e_notation, parse_math_gold, precheck
from lmmr1_cli.verify.pool import get_pool
from lmmr1_cli.verify.verdicts import (
    CORRECT,
    ERROR,
    GOLD_UNPARSEABLE,
    NO_ANSWER,
    TIMEOUT,
    WRONG,
    BatchStats,
    GoldParseError,
    ParsedGold,
    Verdict,
    VerifyItem,
)

_RESULT_CACHE_SIZE = 65536
_results: OrderedDict[tuple, tuple[bool, str]] = OrderedDict()


def parse_gold(gold: str, answer_type: str = "math", choices: Sequence[str] | None = None) -> ParsedGold:
    """Parse a gold answer for its answer_type, or raise GoldParseError (prepare-data drops such rows).

    Math golds that are neither plain numbers nor closed forms are parsed with math-verify in a worker, under
    the default limit (results are cached per gold text). For many rows at once, `parse_golds` is faster.

    >>> parse_gold("$\\\\boxed{60}$", "math").number.value
    Fraction(60, 1)
    """
    result = parse_golds([(gold, answer_type, choices)])[0]
    if isinstance(result, GoldParseError):
        raise result
    return result


def parse_golds(rows: Sequence[tuple]) -> list[ParsedGold | GoldParseError]:
    """`parse_gold` over many `(gold, answer_type, choices)` rows; the sympy checks run in parallel workers.
    Returns, per row, the ParsedGold or the GoldParseError it would raise."""
    results: list[ParsedGold | GoldParseError] = []
    unchecked: dict[str, list[int]] = {}
    for index, (gold, answer_type, *rest) in enumerate(rows):
        try:
            parsed = _parse_gold_light(gold, answer_type, _as_choices(rest[0] if rest else None))
        except GoldParseError as exc:
            results.append(exc)
            continue
        results.append(parsed)
        needs_sympy = (
            parsed.answer_type in ("math", "geometry") and parsed.number is None and parsed.value is None
        )
        if needs_sympy and parsed.core not in _gold_checks:
            unchecked.setdefault(parsed.core, []).append(index)
    if unchecked:
        cores = list(unchecked)
        for core, (_, reason) in zip(
            cores, get_pool().run([("parse_gold", c) for c in cores], VERIFY_TIMEOUT_SECONDS), strict=True
        ):
            if reason != ERROR:
                _gold_checks[core] = reason
    for index, parsed in enumerate(results):
        if isinstance(parsed, ParsedGold) and _gold_checks.get(parsed.core, CORRECT) != CORRECT:
            why = (
                "timed out"
                if _gold_checks[parsed.core] == TIMEOUT
                else "is not a math answer math-verify can read"
            )
            results[index] = GoldParseError(f"gold answer {parsed.raw[:80]!r} {why}")
    return results


_gold_checks: dict[str, str] = {}  # gold core -> worker verdict ("correct" = parseable)


@functools.lru_cache(maxsize=65536)
def _parse_gold_light(gold: str, answer_type: str, choices: tuple[str, ...] | None) -> ParsedGold:
    if answer_type not in ANSWER_TYPES:
        raise GoldParseError(
            f"unknown answer_type {answer_type!r}; expected one of {', '.join(ANSWER_TYPES)}"
        )
    if not isinstance(gold, str) or not gold.strip():
        raise GoldParseError("gold answer is empty")
    if answer_type == "choice":
        letter = choice.parse_gold_letter(gold, choices)
        return ParsedGold(raw=gold, answer_type=answer_type, core=letter, letter=letter, choices=choices)
    if answer_type == "sokoban":
        level = sokoban.parse_level(gold)
        return ParsedGold(raw=gold, answer_type=answer_type, core=gold, level=level)
    return parse_math_gold(gold, answer_type)


def _as_choices(choices) -> tuple[str, ...] | None:
    if choices is None:
        return None
    return tuple(str(c) for c in choices)


def _as_item(item) -> VerifyItem:
    if isinstance(item, VerifyItem):
        return item
    if isinstance(item, dict):
        return VerifyItem(
            item["prediction"],
            item["gold"],
            item.get("answer_type") or "math",
            _as_choices(item.get("choices")),
        )
    prediction, gold, *rest = item
    answer_type = (rest[0] if rest else None) or "math"
    return VerifyItem(prediction, gold, answer_type, _as_choices(rest[1] if len(rest) > 1 else None))


def _decide_in_process(item: VerifyItem, boxed_fallback: bool) -> Verdict | tuple:
    """A Verdict when no sympy is needed, else (the worker payload for the pair, the extracted answer)."""
    extraction = extract_answer(item.prediction, boxed_fallback=boxed_fallback)
    extracted = extraction.text if extraction is not None else None
    try:
        gold = _parse_gold_light(item.gold, item.answer_type, _as_choices(item.choices))
    except GoldParseError:
        return Verdict(False, extracted, GOLD_UNPARSEABLE)
    if extracted is None:
        return Verdict(False, None, NO_ANSWER)
    if gold.answer_type == "choice":
        ok = choice.check_choice(extracted, gold.letter, gold.choices)
        return Verdict(ok, extracted, CORRECT if ok else WRONG)
    if gold.answer_type == "sokoban":
        return _check_sokoban(gold, extracted)
    decided = precheck(gold, extracted)
    if decided is not None:
        return Verdict(decided[0], extracted, decided[1])
    return ("compare", gold.core, gold.answer_type, gold.degrees, latex_e_notation(extracted)), extracted


def _check_sokoban(gold: ParsedGold, extracted: str) -> Verdict:
    moves = sokoban.parse_moves(extracted)
    if moves is None:
        return Verdict(False, extracted, WRONG)
    # gym-sokoban's rules: a blocked move is a wasted step, not a failure (apply_moves never raises).
    solved = sokoban.is_solved(sokoban.apply_moves(gold.level, moves))
    return Verdict(solved, extracted, CORRECT if solved else WRONG)


def verify_batch(
    items: Sequence[VerifyItem] | Sequence[tuple] | Sequence[dict],
    *,
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    boxed_fallback: bool = False,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Verdict]:
    """Verify many (prediction, gold, answer_type, choices) pairs; one Verdict per item, in order. Never raises
    for bad items: a verifier failure is `Verdict(False, extracted, "error")`, an overrun `"timeout"`.

    >>> [v.correct for v in verify_batch([("<think>.</think><answer>4</answer>", "4"), ("<answer>5</answer>", "4")])]
    [True, False]
    """
    verdicts, _ = verify_batch_with_stats(
        items, timeout=timeout, boxed_fallback=boxed_fallback, processes=processes, progress=progress
    )
    return verdicts


def verify_batch_with_stats(
    items: Sequence[VerifyItem] | Sequence[tuple] | Sequence[dict],
    *,
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    boxed_fallback: bool = False,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Verdict], BatchStats]:
    """`verify_batch`, plus where each verdict came from (in process, result cache, worker) and its cost.

    >>> verdicts, stats = verify_batch_with_stats([("<answer>5</answer>", "4"), ("<answer>5</answer>", "x+1")])
    >>> (verdicts[0].correct, stats.in_process, stats.worker_items + stats.cached)
    (False, 1, 1)
    """
    verdicts: list[Verdict | None] = [None] * len(items)
    waiting: dict[tuple, list[int]] = {}  # worker payload -> item indices (deduplicated)
    extracted_of: dict[int, str] = {}
    seconds = [0.0] * len(items)
    cached = 0
    pairs: set[tuple] = set()  # distinct (gold, answer type, extracted answer), for the repeat rate
    for index, raw in enumerate(items):
        start = time.perf_counter()
        try:
            item = _as_item(raw)
            decided = _decide_in_process(item, boxed_fallback)
        except Exception:  # a bug or a malformed item must not cost the whole batch
            item, decided = None, Verdict(False, None, ERROR)
        seconds[index] = time.perf_counter() - start
        extracted = decided.extracted if isinstance(decided, Verdict) else decided[1]
        pairs.add((item.gold, item.answer_type, extracted) if item is not None else (index,))
        if isinstance(decided, Verdict):
            verdicts[index] = decided
            continue
        payload, extracted_of[index] = decided
        if payload in _results:
            _results.move_to_end(payload)
            ok, reason = _results[payload]
            verdicts[index] = Verdict(ok, extracted_of[index], reason)
            cached += 1
        else:
            waiting.setdefault(payload, []).append(index)
    worker_items = sum(len(indices) for indices in waiting.values())
    if progress is not None:
        progress(len(items) - worker_items, len(items))
    if waiting:
        results, durations = _check_in_workers(waiting, len(items), timeout, processes, progress)
        for (payload, indices), (ok, reason), duration in zip(
            waiting.items(), results, durations, strict=True
        ):
            if reason not in (ERROR, TIMEOUT):  # a timeout may be load, not the input: retry it next time
                _results[payload] = (ok, reason)
                if len(_results) > _RESULT_CACHE_SIZE:
                    _results.popitem(last=False)
            for index in indices:
                verdicts[index] = Verdict(ok, extracted_of[index], reason)
                seconds[index] += duration
    stats = BatchStats(
        items=len(items),
        worker_checks=len(waiting),
        worker_items=worker_items,
        cached=cached,
        in_process=len(items) - cached - worker_items,
        check_seconds=tuple(seconds),
        distinct_pairs=len(pairs),
    )
    return [v if v is not None else Verdict(False, None, ERROR) for v in verdicts], stats


def _check_in_workers(
    waiting: dict[tuple, list[int]],
    total: int,
    timeout: float,
    processes: int | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[tuple[bool, str]], list[float]]:
    """Run the distinct worker checks; (correct, reason) and seconds per check, in `waiting` order."""
    payloads = list(waiting)
    done = total - sum(len(indices) for indices in waiting.values())

    def on_result(task: int, result: tuple[bool, str]) -> None:
        nonlocal done
        done += len(waiting[payloads[task]])
        if progress is not None:
            progress(done, total)

    try:
        return get_pool(processes).run_timed(payloads, timeout, on_result)
    except Exception:  # no workers (cannot start processes here): every check is an error, never a crash
        return [(False, ERROR)] * len(payloads), [0.0] * len(payloads)


def verify(
    prediction: str,
    gold: str,
    answer_type: str = "math",
    choices: Sequence[str] | None = None,
    *,
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    boxed_fallback: bool = False,
) -> Verdict:
    """Score one completion against its gold answer.

    >>> verify("<think>2+2</think><answer>\\\\boxed{4}</answer>", "4")
    Verdict(correct=True, extracted='4', reason='correct')
    """
    item = VerifyItem(prediction, gold, answer_type or "math", _as_choices(choices))
    return verify_batch([item], timeout=timeout, boxed_fallback=boxed_fallback)[0]
