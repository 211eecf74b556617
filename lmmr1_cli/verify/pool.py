"""A persistent pool of killable verifier worker processes with a wall-clock limit per task.

Each task runs in a worker; a worker that overruns its limit is killed and replaced (forked from a forkserver
that has sympy and math-verify preloaded, so replacement costs milliseconds), and its task's result is
`(False, "timeout")`. A worker that dies mid-task (killed from outside, out of memory) is replaced and its task
runs once more on the fresh worker; a task that kills two workers is `(False, "error")`. The rest of the batch
never waits on either. The `forkserver` context keeps this safe from threads and inside torch/accelerate processes.

One pool per process (`get_pool`), started once per run and sized to the CPUs this process may run on
(`os.sched_getaffinity`, not the machine's total: a job given 2 of 64 cores gets 2 workers), shared by the
processes of a multi-process run on the same node (8 ranks on a 96-CPU node get 12 workers each, not 96), or
`LMMR1_VERIFY_WORKERS` workers per process when set.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait

from lmmr1_cli.errors import ConfigError, EnvironmentMissingError
from lmmr1_cli.verify.verdicts import ERROR, TIMEOUT

STARTUP_LIMIT = 60.0  # seconds for a fresh worker to report ready (the first one imports sympy)
_PRELOAD = ["lmmr1_cli.verify.warm"]


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: object
    ready: bool = False
    started: float = 0.0


class WorkerPool:
    """`run(payloads, timeout)` -> one `(correct, reason)` per payload, in order. Thread-safe (calls serialize)."""

    def __init__(self, processes: int | None = None, start_method: str = "forkserver") -> None:
        self.size = processes or default_size()
        self._ctx = mp.get_context(start_method)
        if start_method == "forkserver":
            self._ctx.set_forkserver_preload(_PRELOAD)
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.timeouts = 0
        self.replaced = 0

    def _spawn(self) -> _Worker:
        from lmmr1_cli.verify.worker import serve

        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=serve, args=(child,), daemon=True, name="lmmr1-verify-worker")
        with _workers_skip_main():
            process.start()
        child.close()
        return _Worker(process, parent, ready=False, started=time.monotonic())

    def _kill(self, worker: _Worker) -> None:
        worker.process.kill()
        worker.process.join(timeout=1.0)
        worker.conn.close()

    def _replace(self, worker: _Worker) -> _Worker:
        self._kill(worker)
        self.replaced += 1
        fresh = self._spawn()
        self._workers[self._workers.index(worker)] = fresh
        return fresh

    def warm_up(self) -> None:
        """Start the workers and wait until they are ready (so the first batch is not charged for imports)."""
        self.run([("parse_gold", "1")] * self.size, timeout=STARTUP_LIMIT)

    def start(self) -> None:
        """Start the workers without waiting for them: they import sympy while the caller loads its model."""
        with self._lock:
            while len(self._workers) < self.size:
                self._workers.append(self._spawn())

    def run(
        self,
        payloads: Sequence[tuple],
        timeout: float,
        on_result: Callable[[int, tuple[bool, str]], None] | None = None,
    ) -> list[tuple[bool, str]]:
        return self.run_timed(payloads, timeout, on_result)[0]

    def run_timed(
        self,
        payloads: Sequence[tuple],
        timeout: float,
        on_result: Callable[[int, tuple[bool, str]], None] | None = None,
    ) -> tuple[list[tuple[bool, str]], list[float]]:
        """`run`, plus each payload's seconds from dispatch to result."""
        with self._lock:
            while len(self._workers) < self.size:
                self._workers.append(self._spawn())
            return self._run_locked(payloads, timeout, on_result)

    def _run_locked(self, payloads, timeout, on_result) -> tuple[list[tuple[bool, str]], list[float]]:
        results: list[tuple[bool, str] | None] = [None] * len(payloads)
        started: list[float] = [0.0] * len(payloads)
        durations = [0.0] * len(payloads)
        pending = deque(range(len(payloads)))
        busy: dict[int, tuple[int, float]] = {}  # id(worker) -> (task index, deadline)
        lost: set[int] = set()  # tasks whose worker died under them once

        def finish(index: int, result: tuple[bool, str]) -> None:
            results[index] = result
            durations[index] = time.monotonic() - started[index]
            if on_result is not None:
                on_result(index, result)

        while pending or busy:
            for worker in list(self._workers):
                if pending and worker.ready and id(worker) not in busy:
                    index = pending.popleft()
                    try:
                        worker.conn.send((index, payloads[index]))
                    except (BrokenPipeError, OSError):
                        pending.appendleft(index)
                        self._replace(worker)
                        continue
                    started[index] = time.monotonic()
                    busy[id(worker)] = (index, started[index] + timeout)
            now = time.monotonic()
            deadlines = [deadline for _, deadline in busy.values()]
            starting = [w.started + STARTUP_LIMIT for w in self._workers if not w.ready]
            wake = min(deadlines + starting, default=now + 1.0)
            listening = [w.conn for w in self._workers if id(w) in busy or not w.ready]
            for conn in wait(listening, timeout=max(0.0, wake - now)):
                worker = next(w for w in self._workers if w.conn is conn)
                try:
                    message = conn.recv()
                except (EOFError, OSError):  # the worker died (killed, segfault, out of memory)
                    task = busy.pop(id(worker), None)
                    if task is not None and task[0] in lost:
                        finish(task[0], (False, ERROR))
                    elif task is not None:  # maybe not its fault: once more, on a fresh worker
                        lost.add(task[0])
                        pending.appendleft(task[0])
                    self._replace(worker)
                    continue
                if message[0] == "ready":
                    worker.ready = True
                    continue
                index, result = message
                task = busy.pop(id(worker), None)
                if task is not None and task[0] == index:
                    finish(index, tuple(result))
            now = time.monotonic()
            for worker in list(self._workers):
                task = busy.get(id(worker))
                if task is not None and now >= task[1]:
                    del busy[id(worker)]
                    self.timeouts += 1
                    finish(task[0], (False, TIMEOUT))
                    self._replace(worker)
                elif not worker.ready and now >= worker.started + STARTUP_LIMIT:
                    raise EnvironmentMissingError(
                        f"verifier worker did not start within {STARTUP_LIMIT:.0f} s"
                    )
        return [r if r is not None else (False, ERROR) for r in results], durations

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                try:
                    worker.conn.close()
                finally:
                    worker.process.kill()
                    worker.process.join(timeout=1.0)
            self._workers = []


@contextlib.contextmanager
def _workers_skip_main():
    """Hide the caller's `__main__` while a worker starts: multiprocessing would otherwise re-run the caller's
    script in the worker (a script without an `if __name__ == "__main__"` guard recurses, and a training script
    would import torch into every verifier worker)."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    # Inside a daemonic process (a DataLoader or Pool worker) multiprocessing refuses to start children; our
    # workers exit on their own when the pipe closes, so the orphan risk that rule guards against is covered.
    config = mp.current_process()._config
    daemon = config.get("daemon", False)
    config["daemon"] = False
    try:
        yield
    finally:
        sys.modules["__main__"] = main
        config["daemon"] = daemon


WORKERS_ENV = "LMMR1_VERIFY_WORKERS"


def default_size() -> int:
    """Workers for this process: `LMMR1_VERIFY_WORKERS` when set, else the CPUs this process may run on divided by
    the processes of the run on this node (torchrun's `LOCAL_WORLD_SIZE`), at least 1."""
    override = os.environ.get(WORKERS_ENV, "").strip()
    if override:
        try:
            return max(1, int(override))
        except ValueError:
            raise ConfigError(f"{WORKERS_ENV} must be a whole number, got {override!r}") from None
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cpus = os.cpu_count() or 1
    ranks_on_node = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
    return max(1, cpus // ranks_on_node)


_pool: WorkerPool | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def get_pool(processes: int | None = None) -> WorkerPool:
    """The process-wide pool (re-created after a fork, since workers belong to the process that started them; and
    when `processes` asks for another size, as bench/verify_bench.py does for its 1- and 2-worker rows)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is not None and _pool_pid == os.getpid() and processes and processes != _pool.size:
            _pool.close()
            _pool = None
        if _pool is None or _pool_pid != os.getpid():
            _pool = WorkerPool(processes)
            _pool_pid = os.getpid()
        return _pool


def _close_pool() -> None:
    if _pool is not None and _pool_pid == os.getpid():
        _pool.close()


atexit.register(_close_pool)
