"""`paper` mode over a batch: the official verdicts of `paper.py`, computed once per distinct (gold, answer) pair.

1. In-process: Sokoban rows are played (at most 50 moves); every other response is cleaned and format-checked;
   one longer than `paper.MAX_RESPONSE_CHARS` is explosive (wrong) before any regex runs.
2. Workers, in chunks: each distinct response's *answer key* (`paper.answer_key`: what math-verify's first match
   will parse). Its regexes run in the pool because they can take seconds on hostile text.
3. In-process, per distinct (gold, key) pair: the run's cache; no match -> `no_answer`; an explosive answer ->
   wrong (`explosive.py`); a plain integer against a plain integer gold -> compared exactly.
4. Workers, one task per gold: the remaining pairs, one response per pair, scored by the unchanged official rule
   (`paper.score_math`), so each gold is parsed once per batch. A task that overruns its limit is split into one
   task per pair, each under the limit: only the pair that overruns is a timeout.
Results (and which golds parse) are cached for the run.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from lmmr1_cli.defaults import VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.verify.explosive import explosive
from lmmr1_cli.verify.paper import (
    MAX_RESPONSE_CHARS,
    PaperVerdict,
    check_format,
    clean_response,
    sokoban_verdict,
)
from lmmr1_cli.verify.pool import get_pool
from lmmr1_cli.verify.verdicts import (
    CORRECT,
    ERROR,
    EXPLOSIVE,
    GOLD_UNPARSEABLE,
    NO_ANSWER,
    TIMEOUT,
    WRONG,
    PaperBatchStats,
    VerifyItem,
)

_RESULT_CACHE_SIZE = 65536
_results: OrderedDict[tuple, tuple[bool, str, str | None]] = OrderedDict()
_gold_parses: dict[str, bool] = {}  # gold -> whether the official gold parse reads it
# A plain integer, as math-verify's LaTeX normalization leaves it and latex2sympy reads it (an Integer).
_INTEGER = re.compile(r"-?(?:0|[1-9]\d{0,17})")
_CHUNK_ITEMS = 64
_CHUNK_CHARS = 262_144  # a 1 MB response travels alone


def verify_paper_batch(
    items: Sequence[VerifyItem],
    *,
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PaperVerdict]:
    """Official verdicts for many responses, in order; never raises for a bad item (it scores 0, reason `error`).

    Sokoban rows are played in-process (at most 50 moves); math-verify runs in the worker pool under `timeout`
    seconds per check, once per distinct (gold, answer) pair, cached across calls.
    """
    return verify_paper_batch_with_stats(items, timeout=timeout, processes=processes, progress=progress)[0]


def verify_paper_batch_with_stats(
    items: Sequence[VerifyItem],
    *,
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[PaperVerdict], PaperBatchStats]:
    """`verify_paper_batch`, plus where its verdicts came from (for logging and bench/verify_bench.py)."""
    total = len(items)
    verdicts: list[PaperVerdict | None] = [None] * total
    formats = [False] * total
    by_response = _clean_responses(items, verdicts, formats)
    counts = dict.fromkeys(("no_answer", "explosive", "integer", "cached", "pool_checks"), 0)
    counts["explosive"] = unread = sum(v is not None and v.reason == EXPLOSIVE for v in verdicts)
    try:
        pool = get_pool(processes)
        keys = _answer_keys(pool, list(by_response), timeout)
    except Exception:  # no workers (cannot start processes here): every check is an error, never a crash
        pool, keys = None, {response: (False, ERROR, None) for response in by_response}
    pairs: dict[tuple, list[int]] = {}  # (gold, key) -> item indices
    representative: dict[tuple, str] = {}
    for response, indices in by_response.items():
        key = keys[response]
        for index in indices:
            if isinstance(key, tuple) and len(key) == 3 and isinstance(key[0], bool):  # its key task failed
                verdicts[index] = _verdict(key, formats[index])
                unread += 1
                continue
            pair = (str(items[index].gold), key)
            pairs.setdefault(pair, []).append(index)
            representative.setdefault(pair, response)
    results, checks = _decide_in_process(pairs, counts)
    counts["pool_checks"] = sum(len(group) for group in checks.values())
    if checks and pool is not None:
        results.update(_check_groups(pool, checks, representative, timeout))
    for pair, indices in pairs.items():
        result = results.get(pair) or _decided_without_sympy(pair, counts)
        if result[1] not in (ERROR, TIMEOUT):  # a timeout may be load, not the input: retry it next time
            _results[pair] = result
            if len(_results) > _RESULT_CACHE_SIZE:
                _results.popitem(last=False)
        for index in indices:
            verdicts[index] = _verdict(result, formats[index])
    if progress is not None:
        progress(total, total)
    math_items = sum(len(indices) for indices in pairs.values()) + unread
    stats = PaperBatchStats(items=total, math_items=math_items, distinct_pairs=len(pairs) + unread, **counts)
    return [v if v is not None else PaperVerdict(False, False, 0.0, None, ERROR) for v in verdicts], stats


def _clean_responses(
    items: Sequence[VerifyItem], verdicts: list[PaperVerdict | None], formats: list[bool]
) -> dict[str, list[int]]:
    """Play Sokoban rows and format-check the rest (filling `verdicts`, `formats`); cleaned response -> indices
    of the rows still to score. A response too long to search is explosive here (its own pair)."""
    by_response: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        try:
            if item.answer_type == "sokoban":
                verdicts[index] = sokoban_verdict(item)
                continue
            response = clean_response(item.prediction)
            formats[index] = check_format(response)
            str(item.gold)  # a malformed item fails here, not in a worker
        except Exception:  # a malformed item must not cost the whole batch
            verdicts[index] = PaperVerdict(False, False, 0.0, None, ERROR)
            continue
        if len(response) > MAX_RESPONSE_CHARS:  # a megabyte completion: explosive before any regex runs
            verdicts[index] = PaperVerdict(False, formats[index], 0.0, None, EXPLOSIVE)
            continue
        by_response.setdefault(response, []).append(index)
    return by_response


def _decide_in_process(
    pairs: dict[tuple, list[int]], counts: dict[str, int]
) -> tuple[dict[tuple, tuple[bool, str, str | None]], dict[str, list[tuple]]]:
    """Results decided without a worker (the run's cache, the integer path), and the pool's work: gold -> its
    pairs to check (empty for a gold whose parse is unknown and whose pairs are all no-answer or explosive)."""
    results: dict[tuple, tuple[bool, str, str | None]] = {}
    groups: dict[str, list[tuple]] = {}
    for pair in pairs:
        gold, key = pair
        if pair in _results:
            _results.move_to_end(pair)
            results[pair] = _results[pair]
            counts["cached"] += 1
        elif key is not None and _INTEGER.fullmatch(gold) and _plain_integer(key) is not None:
            ok = int(_plain_integer(key)) == int(gold)
            results[pair] = (ok, CORRECT if ok else WRONG, key[0][0])
            counts["integer"] += 1
        elif key is None or (_explosive_key(key) and not explosive(gold)):
            groups.setdefault(gold, [])  # decided once the gold is known to parse
        else:
            groups.setdefault(gold, []).append(pair)
    unknown = {gold for gold in groups if gold not in _gold_parses and not _INTEGER.fullmatch(gold)}
    return results, {gold: group for gold, group in groups.items() if group or gold in unknown}


def _decided_without_sympy(pair: tuple, counts: dict[str, int]) -> tuple[bool, str, str | None]:
    """No match or an explosive answer; the gold's parse (checked in the pool) decides the reason first, as
    `paper.score_math` checks the gold first."""
    gold, key = pair
    if not _gold_parses.get(gold, True):
        return False, GOLD_UNPARSEABLE, None
    if key is None:
        counts["no_answer"] += 1
        return False, NO_ANSWER, None
    counts["explosive"] += 1
    return False, EXPLOSIVE, key[0][0][:200]


def _plain_integer(key: tuple) -> str | None:
    if len(key) == 1 and not key[0][1] and _INTEGER.fullmatch(key[0][0]):
        return key[0][0]
    return None


def _explosive_key(key: tuple) -> bool:
    return any(explosive(text) for text, _ in key)


def _answer_keys(pool, responses: list[str], timeout: float) -> dict[str, object]:
    """response -> its answer key (a tuple, or None), or the (correct, reason, extracted) verdict of a response
    whose key could not be found within the limit (its official check would overrun the same way)."""
    chunks: list[list[str]] = [[]]
    size = 0
    for response in responses:
        if chunks[-1] and (len(chunks[-1]) >= _CHUNK_ITEMS or size + len(response) > _CHUNK_CHARS):
            chunks.append([])
            size = 0
        chunks[-1].append(response)
        size += len(response)
    keys: dict[str, object] = {}
    retry: list[str] = []
    if responses:
        results = pool.run([("paper_keys", tuple(chunk)) for chunk in chunks], timeout)
        for chunk, result in zip(chunks, results, strict=True):
            if result[0] == "keys":
                keys.update(zip(chunk, result[1], strict=True))
            elif len(chunk) == 1:
                keys[chunk[0]] = (False, result[1], None)
            else:
                retry.extend(chunk)
    if retry:  # one response overran the chunk's limit: find it, each response under its own limit
        for response, result in zip(
            retry, pool.run([("paper_keys", (r,)) for r in retry], timeout), strict=True
        ):
            keys[response] = result[1][0] if result[0] == "keys" else (False, result[1], None)
    return keys


def _check_groups(
    pool, groups: dict[str, list[tuple]], representative: dict[tuple, str], timeout: float
) -> dict[tuple, tuple[bool, str, str | None]]:
    """Score each gold's pairs in one worker task (one gold parse); split a task that overruns into single pairs."""
    golds = list(groups)
    payloads = [("paper_group", gold, tuple(representative[p] for p in groups[gold])) for gold in golds]
    results: dict[tuple, tuple[bool, str, str | None]] = {}
    singles: list[tuple] = []
    for gold, result in zip(golds, pool.run(payloads, timeout), strict=True):
        if result[0] == "group":
            _, parses, triples = result
            _gold_parses[gold] = parses
            results.update(zip(groups[gold], (_as_triple(t) for t in triples), strict=True))
        elif len(groups[gold]) == 1:
            results[groups[gold][0]] = (False, result[1], None)
        else:
            singles.extend(groups[gold])
    if singles:
        payloads = [("paper_math", representative[pair], pair[0]) for pair in singles]
        for pair, result in zip(singles, pool.run(payloads, timeout), strict=True):
            results[pair] = _as_triple(result)
    return results


def _as_triple(result) -> tuple[bool, str, str | None]:
    ok, reason, *rest = result
    return bool(ok), str(reason), rest[0] if rest else None


def _verdict(result: tuple[bool, str, str | None], format_ok: bool) -> PaperVerdict:
    ok, reason, extracted = result
    return PaperVerdict(ok, format_ok, 1.0 if ok else 0.0, extracted, reason)


def time_paper_batch(items: Sequence[VerifyItem], **kwargs) -> tuple[list[PaperVerdict], float]:
    """`verify_paper_batch` and its wall-clock seconds (for `lmmr1 verify` and bench/verify_bench.py)."""
    start = time.perf_counter()
    verdicts = verify_paper_batch(items, **kwargs)
    return verdicts, time.perf_counter() - start
