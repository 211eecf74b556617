"""The worker pool: wall-clock limits with killable workers, replacement, and use from threads/subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lmmr1_cli.verify import verify_batch, verify_batch_with_stats
from lmmr1_cli.verify.pool import WorkerPool


def test_a_task_over_the_limit_is_a_timeout_and_its_worker_is_replaced() -> None:
    pool = WorkerPool(processes=1)
    try:
        pool.warm_up()
        before = pool._workers[0].process.pid
        start = time.perf_counter()
        assert pool.run([("sleep", 30)], timeout=0.5) == [(False, "timeout")]
        # A hang guard, not a speed test: the task sleeps 30 s, so any answer well before that means it was killed.
        assert time.perf_counter() - start < 10.0
        assert pool.replaced == 1 and pool._workers[0].process.pid != before
        assert pool.run([("parse_gold", "x+1")], timeout=5.0) == [(True, "correct")]
    finally:
        pool.close()


def test_run_timed_returns_each_payloads_seconds_with_its_result() -> None:
    pool = WorkerPool(processes=2)
    try:
        pool.warm_up()
        results, seconds = pool.run_timed([("sleep", 0.4), ("parse_gold", "1/2"), ("sleep", 30)], timeout=1.0)
        assert results == [(True, "correct"), (True, "correct"), (False, "timeout")]
        assert 0.4 <= seconds[0] < 1.0 and seconds[1] < 0.4 and 1.0 <= seconds[2] < 1.5
    finally:
        pool.close()


def test_a_worker_killed_mid_task_is_replaced_and_the_task_runs_again() -> None:
    pool = WorkerPool(processes=1)
    try:
        pool.warm_up()
        victim = pool._workers[0].process.pid
        threading.Timer(0.3, os.kill, args=(victim, 9)).start()
        results = pool.run([("sleep", 0.6), ("parse_gold", "1/2")], timeout=3.0)
        assert results == [(True, "correct"), (True, "correct")]  # nothing of the batch is lost
        assert pool.replaced == 1 and pool._workers[0].process.pid != victim
    finally:
        pool.close()


def test_a_task_that_kills_two_workers_is_an_error_and_the_batch_goes_on() -> None:
    pool = WorkerPool(processes=1)
    try:
        pool.warm_up()
        assert pool.run([("crash",), ("parse_gold", "1/2")], timeout=3.0) == [
            (False, "error"),
            (True, "correct"),
        ]
        assert pool.replaced == 2
    finally:
        pool.close()


def test_the_pool_is_sized_to_the_cpus_this_process_may_use() -> None:
    from lmmr1_cli.verify.pool import default_size

    assert default_size() == len(os.sched_getaffinity(0))
    assert WorkerPool().size == default_size()


def test_verify_works_from_threads() -> None:
    def job(k: int) -> list[bool]:
        items = [(f"<answer>\\boxed{{{k}+x}}</answer>", f"x+{k}"), (f"<answer>{k}</answer>", str(k + 1))]
        return [v.correct for v in verify_batch(items)]

    with ThreadPoolExecutor(max_workers=4) as threads:
        results = list(threads.map(job, range(8)))
    assert results == [[True, False]] * 8


def test_verify_works_from_a_subprocess_and_its_children(tmp_path) -> None:
    script = tmp_path / "child_verify.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "from lmmr1_cli.verify import verify\n"
        "def child(q):\n"
        "    q.put(verify('<answer>\\\\boxed{\\\\sqrt{9}}</answer>', '3').correct)\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('spawn')\n"
        "    q = ctx.Queue()\n"
        "    p = ctx.Process(target=child, args=(q,))\n"
        "    p.start(); print(q.get(timeout=60)); p.join()\n"
        "    print(verify('<answer>\\\\boxed{x^2}</answer>', 'x\\\\cdot x').correct)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]


def test_verify_works_inside_daemonic_pool_workers(tmp_path) -> None:
    script = tmp_path / "pool_verify.py"
    script.write_text(
        "import multiprocessing as mp\n"
        "from lmmr1_cli.verify import verify\n"
        "def job(x):\n"
        "    return verify('<answer>\\\\boxed{\\\\sqrt{%d}}</answer>' % (x * x), str(x)).correct\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('spawn').Pool(2) as pool:\n"
        "        print(pool.map(job, [2, 3]))\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[True, True]"


def test_same_pair_in_a_batch_is_checked_once_and_cached() -> None:
    # Symbolic (decided in a worker) and used by no other test: results are cached per process, and an xdist worker
    # runs many tests, so a pair another test checked first would already be a cache hit here.
    pair = ("<answer>\\boxed{(x+37)^2}</answer>", "x^2+74x+1369")
    verdicts, stats = verify_batch_with_stats([pair] * 16)
    assert all(v.correct for v in verdicts)
    assert (stats.worker_items, stats.worker_checks) == (16, 1)  # 16 copies, one check
    again, stats = verify_batch_with_stats([pair])
    assert again[0].correct and (stats.cached, stats.worker_items) == (1, 0)  # answered from the cache


@pytest.mark.slow
def test_verify_works_in_torchrun_ranks(tmp_path) -> None:
    # accelerate launch --multi_gpu starts ranks the same way (torch.distributed.run); each rank has its own pool.
    script = tmp_path / "ranks.py"
    script.write_text(
        "import torch.distributed as dist\n"
        "from lmmr1_cli.verify import verify_batch\n"
        "dist.init_process_group('gloo')\n"
        "rank = dist.get_rank()\n"
        "items = [('<answer>\\\\boxed{\\\\sqrt{%d}}</answer>' % ((rank + 2) ** 2), str(rank + 2)),\n"
        "         ('<answer>\\\\boxed{(x+1)^{100000}}</answer>', '(x+2)^{100000}')]\n"
        "reasons = [v.reason for v in verify_batch(items, timeout=1.0)]\n"
        "print(f'rank {rank}/{dist.get_world_size()} {reasons}', flush=True)\n"
        "dist.destroy_process_group()\n"
    )
    torchrun = Path(sys.executable).with_name("torchrun")
    out = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", str(script)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = sorted(line for line in out.stdout.splitlines() if line.startswith("rank"))
    assert lines == [f"rank {r}/2 ['correct', 'timeout']" for r in (0, 1)]
