"""`paper` mode over a batch: the official verdicts of `paper.py`, with math-verify run in the killable worker
pool under a wall-clock limit per check, deduplicated and cached across calls (a GRPO group repeats its gold 16
times); Sokoban rows are played in-process (at most 50 moves)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from lmmr1_cli.defaults import VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.verify.paper import PaperVerdict, check_format, clean_response, sokoban_verdict
from lmmr1_cli.verify.pool import get_pool
from lmmr1_cli.verify.verdicts import ERROR, TIMEOUT, VerifyItem

_RESULT_CACHE_SIZE = 65536
_results: OrderedDict[tuple, tuple[bool, str, str | None]] = OrderedDict()


def verify_paper_batch(
    items: Sequence[VerifyItem],
    *,
    timeout: float = VERIFY_TIMEOUT_SECONDS,
    processes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[PaperVerdict]:
    """Official verdicts for many responses, in order; never raises for a bad item (it scores 0, reason `error`).

    Sokoban rows are played in-process (at most 50 moves); math-verify checks run in the worker pool under
    `timeout` seconds each, deduplicated and cached across calls (a GRPO group repeats its gold 16 times).
    """
    verdicts: list[PaperVerdict | None] = [None] * len(items)
    formats = [False] * len(items)
    waiting: dict[tuple, list[int]] = {}
    for index, item in enumerate(items):
        try:
            if item.answer_type == "sokoban":
                verdicts[index] = sokoban_verdict(item)
                continue
            response = clean_response(item.prediction)
            formats[index] = check_format(response)
            payload = ("paper_math", response, item.gold)
        except Exception:  # a malformed item must not cost the whole batch
            verdicts[index] = PaperVerdict(False, False, 0.0, None, ERROR)
            continue
        if payload in _results:
            _results.move_to_end(payload)
            verdicts[index] = _math_verdict(_results[payload], formats[index])
        else:
            waiting.setdefault(payload, []).append(index)
    total = len(items)
    done = total - sum(len(indices) for indices in waiting.values())
    if progress is not None:
        progress(done, total)
    if waiting:
        payloads = list(waiting)

        def on_result(task: int, _result) -> None:
            nonlocal done
            done += len(waiting[payloads[task]])
            if progress is not None:
                progress(done, total)

        try:
            results = get_pool(processes).run(payloads, timeout, on_result)
        except Exception:  # no workers (cannot start processes here): every check is an error, never a crash
            results = [(False, ERROR)] * len(payloads)
        for payload, result in zip(payloads, results, strict=True):
            result = _as_triple(result)
            if result[1] not in (ERROR, TIMEOUT):  # a timeout may be load, not the input: retry it next time
                _results[payload] = result
                if len(_results) > _RESULT_CACHE_SIZE:
                    _results.popitem(last=False)
            for index in waiting[payload]:
                verdicts[index] = _math_verdict(result, formats[index])
    return [v if v is not None else PaperVerdict(False, False, 0.0, None, ERROR) for v in verdicts]


def _as_triple(result) -> tuple[bool, str, str | None]:
    ok, reason, *rest = result
    return bool(ok), str(reason), rest[0] if rest else None


def _math_verdict(result: tuple[bool, str, str | None], format_ok: bool) -> PaperVerdict:
    ok, reason, extracted = result
    return PaperVerdict(ok, format_ok, 1.0 if ok else 0.0, extracted, reason)


def time_paper_batch(items: Sequence[VerifyItem], **kwargs) -> tuple[list[PaperVerdict], float]:
    """`verify_paper_batch` and its wall-clock seconds (for `lmmr1 verify` and bench/verify_bench.py)."""
    start = time.perf_counter()
    verdicts = verify_paper_batch(items, **kwargs)
    return verdicts, time.perf_counter() - start
