"""The verifier worker process: receives tasks on a pipe, answers (correct, reason).

This module stays light (the parent imports it to name the worker's entry point); sympy and math-verify are
loaded by `warm.py`, the forkserver's preload, so every replacement worker forks with them ready."""

from __future__ import annotations

import os

# A power tower may try to build a huge integer: fail fast with MemoryError instead of swapping.
MEMORY_LIMIT_BYTES = 4 * 1024**3


def run_task(payload: tuple) -> tuple:
    from lmmr1_cli.verify import symbolic  # already imported (and warm) in workers forked from the forkserver

    kind = payload[0]
    if kind == "compare":
        _, core, answer_type, gold_degrees, answer = payload
        return symbolic.compare(core, answer_type, gold_degrees, answer)
    if kind == "paper_math":  # the official LMM-R1 accuracy rule (paper mode): (correct, reason, extracted)
        from lmmr1_cli.verify import paper

        return paper.score_math(payload[1], payload[2])
    if kind == "paper_keys":  # paper mode: what math-verify's first match will parse, per response
        from lmmr1_cli.verify import paper

        return "keys", tuple(paper.answer_key(response) for response in payload[1])
    if kind == "paper_group":  # paper mode: one gold (parsed once) against several responses
        from lmmr1_cli.verify import paper

        _, gold, responses = payload
        return "group", paper.gold_is_parseable(gold), tuple(paper.score_math(r, gold) for r in responses)
    if kind == "parse_gold":
        ok = bool(symbolic.parse_gold_symbolic(payload[1]))
        return ok, "correct" if ok else "gold_unparseable"
    if kind == "crash":  # used by tests: a worker that dies mid-task
        os._exit(1)
    if kind == "sleep":  # used by tests to hold a worker past its limit
        import time

        time.sleep(payload[1])
        return True, "correct"
    raise ValueError(f"unknown task kind {kind!r}")


def serve(conn) -> None:
    """Worker loop: `(task_id, payload)` in, `(task_id, (correct, reason))` out, until the pipe closes."""
    _limit_memory()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task_id, payload = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        try:
            result = run_task(payload)
        except MemoryError:
            result = (False, "error")
        except RecursionError:
            result = (False, "error")
        except Exception:
            result = (False, "error")
        try:
            conn.send((task_id, result))
        except (BrokenPipeError, OSError):
            return


def _limit_memory() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY or soft > MEMORY_LIMIT_BYTES:
            resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, hard))
    except (ImportError, ValueError, OSError):
        pass
