"""Verifier benchmark on a GRPO-shaped batch: lmmr1's batch API vs naive math-verify (parse + verify per pair),
and the paper reward mode (the official LMM-R1 rules in lmmr1's worker pool) vs the same rules run naively in
this process, one pair after another, as the official server's workers do.

The batch is 256 golds x 16 completions (a realistic mix of answer forms, 1% adversarial), built from a fixed
seed. Both run in this process on the same items; math-verify gets its own signal-based limits set to ours and scores
the <answer> span (found with one regex, wrapped in \\boxed{} when bare), as a careful user would.
Prints throughput, p50/p99 latency per item, and every verdict difference where math-verify answered in time,
grouped by category with the reason we differ; the repeat rate of (gold, answer) pairs in the batch; and both
modes again on a fresh 1-worker and a fresh 2-worker pool (caches cleared), so throughput per core is visible.

    .venv/bin/python bench/verify_bench.py            # full run (a few minutes: math-verify pays its timeouts)
    .venv/bin/python bench/verify_bench.py --quick    # 8 golds x 16, a few seconds, for the smoke test
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import random
import re
import sys
import time
from collections import Counter
from fractions import Fraction

LIMIT = 3  # seconds per check for both (math-verify's signal.alarm takes whole seconds)

# Why lmmr1's verdict differs from math-verify's in each category where it may (guards and policy).
WHY = {
    "tiny_values": "guard: math-verify chops tiny differences ((a-b).evalf(chop=True)), 1/2^k == 1/2^(k-1)",
    "e_notation": "guard: math-verify reads 1e-9 as Euler's number minus 9",
    "no_answer_span": "policy: no <answer> span -> no_answer (math-verify parses the whole text)",
    "think_only": "policy: text inside <think> is never scored",
}


def _filler(rng: random.Random) -> str:
    steps = [
        "First, set up the equation from the problem statement.",
        f"We have {rng.randint(2, 99)} items and {rng.randint(2, 9)} groups.",
        "Simplify both sides and check the boundary cases.",
        f"Substituting gives {rng.randint(1, 50)} + {rng.randint(1, 50)}.",
        "Let me double-check the arithmetic.",
    ]
    return " ".join(rng.sample(steps, k=3))


def _gold_and_answers(form: str, rng: random.Random) -> tuple[str, list[str], list[str]]:
    """(gold, correct answers in various spellings, wrong answers) for one problem."""
    if form == "int":
        n = rng.randint(0, 20000)
        gold = f"{n:,}" if n >= 1000 and rng.random() < 0.3 else str(n)
        return gold, [str(n), f"{n:,}", f"{n}"], [str(n + 1), str(n - 1), str(n * 10)]
    if form == "fraction":
        b = rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 12])
        a = rng.randint(1, 4 * b)
        f = Fraction(a, b)
        gold = f"\\frac{{{f.numerator}}}{{{f.denominator}}}" if f.denominator > 1 else str(f.numerator)
        right = [
            gold,
            f"{f.numerator}/{f.denominator}",
            f"\\dfrac{{{2 * f.numerator}}}{{{2 * f.denominator}}}",
        ]
        if f.denominator in (2, 4, 5, 8):
            right.append(str(float(f)))
        wrong = [
            f"\\frac{{{f.numerator + 1}}}{{{f.denominator}}}",
            f"\\frac{{{f.denominator}}}{{{f.numerator}}}",
        ]
        return gold, right, wrong
    if form == "decimal":
        v = Fraction(rng.randint(1, 9999), 100)
        return (
            str(float(v)),
            [str(float(v)), f"{float(v):.2f}"],
            [str(float(v + Fraction(1, 100))), str(float(v * 10))],
        )
    if form == "surd":
        k, m = rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7])
        return (
            f"{k}\\sqrt{{{m}}}",
            [f"{k}\\sqrt{{{m}}}", f"\\sqrt{{{k * k * m}}}"],
            [f"{k}\\sqrt{{{m + 1}}}", f"{k + 1}\\sqrt{{{m}}}"],
        )
    if form == "pi":
        k, d = rng.randint(1, 9), rng.choice([2, 3, 4, 6])
        return (
            f"\\frac{{{k}\\pi}}{{{d}}}",
            [f"\\frac{{{k}\\pi}}{{{d}}}", f"\\frac{{{k}}}{{{d}}}\\pi"],
            [f"\\frac{{{k + 1}\\pi}}{{{d}}}", f"{k}\\pi"],
        )
    if form == "expression":
        k = rng.randint(2, 9)
        return f"x^2+{k}x", [f"x^2+{k}x", f"x(x+{k})", f"{k}x+x^2"], [f"x^2-{k}x", f"x^2+{k + 1}x"]
    if form == "equation":
        k = rng.randint(-9, 9)
        return f"x={k}", [f"x={k}", str(k)], [f"x={k + 1}", str(-k - 1)]
    if form == "set":
        a, b = rng.sample(range(-9, 10), 2)
        return f"\\{{{a},{b}\\}}", [f"\\{{{b},{a}\\}}", f"\\{{{a},{b}\\}}"], [f"\\{{{a},{b + 20}\\}}"]
    if form == "interval":
        a = rng.randint(-9, 0)
        b = a + rng.randint(1, 9)
        return f"[{a},{b})", [f"[{a},{b})"], [f"({a},{b})", f"[{a},{b}]"]
    if form == "tuple":
        a, b = rng.sample(range(-9, 10), 2)
        return f"({a},{b})", [f"({a},{b})"], [f"({b},{a})"]
    if form == "percent":
        k = rng.randint(1, 99)
        return f"{k}\\%", [f"{k}\\%", str(k)], [f"{k + 1}\\%"]
    if form == "tiny_values":
        k = rng.randint(40, 99)
        return f"\\frac{{1}}{{2^{{{k}}}}}", [f"2^{{-{k}}}"], [f"\\frac{{1}}{{2^{{{k - 1}}}}}"]
    if form == "e_notation":
        k = rng.randint(3, 9)
        return f"{k}\\times10^{{-9}}", [f"{k}e-9"], [f"{k + 1}e-9"]
    raise ValueError(form)


FORMS = {  # share of problems; a DeepScaleR-like mix dominated by integers
    "int": 0.42,
    "fraction": 0.14,
    "decimal": 0.07,
    "surd": 0.07,
    "pi": 0.06,
    "expression": 0.07,
    "equation": 0.04,
    "set": 0.03,
    "interval": 0.03,
    "tuple": 0.02,
    "percent": 0.02,
    "tiny_values": 0.02,
    "e_notation": 0.01,
}

ADVERSARIAL = {
    "power_tower": "\\boxed{9^{9^{9^{9^{9^{9}}}}}}",
    "symbolic_power_tower": "\\boxed{x^{9^{9^{9}}}}",
    "huge_expansion": "\\boxed{(x+1)^{100000}}",
    "huge_factorial": "\\boxed{(10^{10})!}",
    "nested_braces": "\\boxed{" + "{" * 10_000 + "1" + "}" * 10_000 + "}",
    "megabyte": "\\boxed{" + "1+" * 500_000 + "1}",
    "nul_bytes": "\\boxed{\x00" * 100 + "}",
    "unbalanced_boxed": "\\boxed{\\frac{1}{2}",
}


def build_batch(golds: int, group: int, seed: int = 0, adversarial_share: float = 0.01) -> list[dict]:
    """GRPO-shaped items: `golds` problems x `group` completions, each tagged with a category."""
    rng = random.Random(seed)
    forms, weights = zip(*FORMS.items(), strict=True)
    items = []
    adversarial_names = sorted(ADVERSARIAL)
    n_adversarial = round(adversarial_share * golds * group)
    if adversarial_share > 0:
        n_adversarial = max(1, n_adversarial)
    adversarial_slots = set(rng.sample(range(golds * group), n_adversarial))
    for g in range(golds):
        form = rng.choices(forms, weights)[0]
        gold, right, wrong = _gold_and_answers(form, rng)
        for c in range(group):
            slot = g * group + c
            think = _filler(rng)
            if slot in adversarial_slots:
                name = adversarial_names[len(items) % len(adversarial_names)]
                text = f"<think>\n{think}\n</think>\n<answer>{ADVERSARIAL[name]}</answer>"
                items.append({"gold": gold, "completion": text, "category": f"adversarial:{name}"})
                continue
            roll = rng.random()
            answer = rng.choice(right) if roll < 0.55 else rng.choice(wrong)
            boxed = rng.random() < 0.8
            body = f"\\boxed{{{answer}}}" if boxed else answer
            if rng.random() < 0.03:
                text = f"{think}\nSo the final answer is \\boxed{{{answer}}}."
                category = "no_answer_span"
            else:
                text = f"<think>\n{think}\n</think>\n<answer>{body}</answer>"
                category = form
            items.append({"gold": gold, "completion": text, "category": category})
    return items


def run_lmmr1(items: list[dict]) -> tuple[list[bool], list[str], float, list[float], dict]:
    from lmmr1_cli.verify import verify_batch_with_stats
    from lmmr1_cli.verify.pool import get_pool

    start = time.perf_counter()
    get_pool().warm_up()
    startup = time.perf_counter() - start
    start = time.perf_counter()
    verdicts, batch_stats = verify_batch_with_stats(
        [(it["completion"], it["gold"], "math") for it in items], timeout=LIMIT
    )
    seconds = time.perf_counter() - start
    stats = {k: v for k, v in dataclasses.asdict(batch_stats).items() if k != "check_seconds"}
    stats["repeat_rate"] = round(batch_stats.repeat_rate, 4)
    stats["startup_seconds"] = round(startup, 2)
    return (
        [v.correct for v in verdicts],
        [v.reason for v in verdicts],
        seconds,
        list(batch_stats.check_seconds),
        stats,
    )


def run_paper(items: list[dict]) -> tuple[list[bool], list[str], float, dict]:
    """paper mode through lmmr1's pool (workers already warm): verdicts, reasons, seconds, batch stats."""
    from lmmr1_cli.verify import VerifyItem
    from lmmr1_cli.verify.paper_batch import verify_paper_batch_with_stats

    start = time.perf_counter()
    verdicts, stats = verify_paper_batch_with_stats(
        [VerifyItem(it["completion"], it["gold"]) for it in items], timeout=LIMIT
    )
    seconds = time.perf_counter() - start
    details = dataclasses.asdict(stats) | {"repeat_rate": round(stats.repeat_rate, 4)}
    return [v.correct for v in verdicts], [v.reason for v in verdicts], seconds, details


def run_per_worker_count(items: list[dict], counts: tuple[int, ...] = (1, 2)) -> list[dict]:
    """Both modes on a fresh pool of each size, every cache cleared first: throughput per core."""
    from lmmr1_cli.verify import VerifyItem, batch, paper_batch, verify_batch, verify_paper_batch
    from lmmr1_cli.verify.pool import get_pool

    rows = []
    for count in counts:
        pool = get_pool(count)
        pool.warm_up()
        timed = {}
        for mode in ("strict", "paper"):
            batch._results.clear()
            paper_batch._results.clear()
            paper_batch._gold_parses.clear()
            start = time.perf_counter()
            if mode == "strict":
                verify_batch(
                    [(it["completion"], it["gold"], "math") for it in items], timeout=LIMIT, processes=count
                )
            else:
                verify_paper_batch(
                    [VerifyItem(it["completion"], it["gold"]) for it in items], timeout=LIMIT, processes=count
                )
            timed[mode] = time.perf_counter() - start
        rows.append(
            {
                "workers": pool.size,
                "strict_seconds": round(timed["strict"], 2),
                "strict_items_per_second": round(len(items) / timed["strict"], 1),
                "paper_seconds": round(timed["paper"], 2),
                "paper_items_per_second": round(len(items) / timed["paper"], 1),
            }
        )
    return rows


def run_paper_naive(items: list[dict]) -> tuple[list[bool | None], float]:
    """The official rules called per pair in this process (math-verify's own 3 s limits, no pool, no cache)."""
    from lmmr1_cli.verify.paper import clean_response, score_math

    verdicts: list[bool | None] = []
    start = time.perf_counter()
    for it in items:
        t0 = time.perf_counter()
        ok, _, _ = score_math(clean_response(it["completion"]), it["gold"])
        verdicts.append(None if time.perf_counter() - t0 >= LIMIT * 0.95 else ok)
    return verdicts, time.perf_counter() - start


_SPAN = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def _answer_text(completion: str) -> str:
    """What a math-verify user scores: the <answer> span (one regex), boxed when bare, else the whole text."""
    match = _SPAN.search(completion)
    if match is None:
        return completion
    span = match.group(1)
    return span if "\\boxed" in span else f"\\boxed{{{span}}}"


def run_math_verify(items: list[dict]) -> tuple[list[bool | None], float, list[float]]:
    """Naive use, per pair: parse the gold (in $...$) and the answer text, verify, with math-verify's own limits."""
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    verdicts: list[bool | None] = []
    latencies = []
    start = time.perf_counter()
    for it in items:
        t0 = time.perf_counter()
        gold = parse(f"${it['gold']}$", parsing_timeout=LIMIT)
        pred = parse(_answer_text(it["completion"]), parsing_timeout=LIMIT)
        ok = verify(gold, pred, timeout_seconds=LIMIT)
        elapsed = time.perf_counter() - t0
        latencies.append(elapsed)
        verdicts.append(None if elapsed >= LIMIT * 0.95 else bool(ok))  # None: it hit its limit
    return verdicts, time.perf_counter() - start, latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 golds x 16 completions (smoke test).")
    parser.add_argument("--golds", type=int, default=256)
    parser.add_argument("--group", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adversarial", type=float, default=0.01, help="Share of adversarial completions.")
    parser.add_argument("--json", action="store_true", help="Print the results as one JSON object.")
    args = parser.parse_args(argv)
    golds = 8 if args.quick else args.golds
    items = build_batch(golds, args.group, args.seed, args.adversarial)

    ours, reasons, our_seconds, our_latencies, stats = run_lmmr1(items)
    theirs, their_seconds, their_latencies = run_math_verify(items)
    paper, paper_reasons, paper_seconds, paper_stats = run_paper(items)
    paper_naive, paper_naive_seconds = run_paper_naive(items)
    per_worker_count = run_per_worker_count(items)

    differences: Counter = Counter()
    examples: dict[str, dict] = {}
    for it, a, b in zip(items, ours, theirs, strict=True):
        if b is not None and a != b:
            key = it["category"].split(":")[0]
            differences[key] += 1
            examples.setdefault(key, {"gold": it["gold"], "completion": it["completion"][-120:], "lmmr1": a})
    unexplained = {k: n for k, n in differences.items() if k not in WHY}
    n = len(items)
    result = {
        "items": n,
        "golds": golds,
        "group": args.group,
        "limit_seconds": LIMIT,
        "adversarial_share": args.adversarial,
        "lmmr1": {
            "seconds": round(our_seconds, 2),
            "items_per_second": round(n / our_seconds, 1),
            "p50_ms": round(1000 * _pct(our_latencies, 0.5), 2),
            "p99_ms": round(1000 * _pct(our_latencies, 0.99), 2),
            "max_ms": round(1000 * max(our_latencies), 1),
            "timeouts": reasons.count("timeout"),
            "explosive": reasons.count("explosive"),
            **stats,
        },
        "math_verify": {
            "seconds": round(their_seconds, 2),
            "items_per_second": round(n / their_seconds, 1),
            "p50_ms": round(1000 * _pct(their_latencies, 0.5), 2),
            "p99_ms": round(1000 * _pct(their_latencies, 0.99), 2),
            "max_ms": round(1000 * max(their_latencies), 1),
            "hit_limit": sum(v is None for v in theirs),
        },
        "paper": {
            "seconds": round(paper_seconds, 2),
            "items_per_second": round(n / paper_seconds, 1),
            "timeouts": paper_reasons.count("timeout"),
            "accuracy": round(sum(paper) / n, 4),
            "naive_seconds": round(paper_naive_seconds, 2),
            "naive_items_per_second": round(n / paper_naive_seconds, 1),
            "naive_hit_limit": sum(v is None for v in paper_naive),
            "speedup_over_naive": round(paper_naive_seconds / paper_seconds, 2),
            # The pool must not change a verdict: every pair the naive run answered in time agrees.
            "disagreements_with_naive": sum(
                a != b for a, b in zip(paper, paper_naive, strict=True) if b is not None
            ),
            "explosive": paper_reasons.count("explosive"),
            "batch": paper_stats,
        },
        "per_worker_count": per_worker_count,
        "machine": {"cpus_usable": len(os.sched_getaffinity(0)), "load_average": os.getloadavg()},
        "speedup": round(their_seconds / our_seconds, 2),
        "agreement_where_math_verify_answered": round(
            sum(a == b for a, b in zip(ours, theirs, strict=True) if b is not None)
            / max(1, sum(b is not None for b in theirs)),
            4,
        ),
        "differences": {
            k: {"count": c, "why": WHY.get(k, "UNEXPLAINED"), "example": examples[k]}
            for k, c in differences.items()
        },
        "unexplained_differences": sum(unexplained.values()),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print(result)
    return 0


def _print(r: dict) -> None:
    print(
        f"batch: {r['golds']} golds x {r['group']} completions = {r['items']} items, "
        f"{r['adversarial_share']:.0%} adversarial, limit {r['limit_seconds']} s"
    )
    for name in ("lmmr1", "math_verify"):
        s = r[name]
        print(
            f"{name:12s} {s['seconds']:8.2f} s  {s['items_per_second']:8.1f} items/s  "
            f"p50 {s['p50_ms']:7.2f} ms  p99 {s['p99_ms']:8.2f} ms  max {s['max_ms']:8.1f} ms"
        )
    ours = r["lmmr1"]
    print(
        f"lmmr1 detail: startup {ours['startup_seconds']} s (not in the time above), in-process {ours['in_process']}, "
        f"worker checks {ours['worker_checks']} for {ours['worker_items']} items, timeouts {ours['timeouts']}"
    )
    print(
        f"(gold, answer) pairs: {ours['distinct_pairs']} distinct of {r['items']}, repeat rate {ours['repeat_rate']:.1%}; "
        f"explosive answers refused before sympy: {ours['explosive']}"
    )
    print(f"math-verify hit its limit on {r['math_verify']['hit_limit']} items")
    p = r["paper"]
    print(
        f"paper mode   {p['seconds']:8.2f} s  {p['items_per_second']:8.1f} items/s  timeouts {p['timeouts']}  "
        f"accuracy {p['accuracy']:.2%}  (naive, in-process: {p['naive_seconds']:.2f} s, "
        f"{p['naive_items_per_second']} items/s, {p['naive_hit_limit']} hit the limit; "
        f"{p['speedup_over_naive']}x; disagreements {p['disagreements_with_naive']})"
    )
    b = p["batch"]
    print(
        f"paper detail: {b['distinct_pairs']} distinct (gold, answer) pairs of {b['math_items']} "
        f"(repeat rate {b['repeat_rate']:.1%}): no answer {b['no_answer']}, explosive {b['explosive']}, "
        f"integer path {b['integer']}, cached {b['cached']}, pool checks {b['pool_checks']}"
    )
    for row in r["per_worker_count"]:
        print(
            f"{row['workers']} worker(s): strict {row['strict_seconds']:.2f} s ({row['strict_items_per_second']} items/s), "
            f"paper {row['paper_seconds']:.2f} s ({row['paper_items_per_second']} items/s)"
        )
    print(
        f"speedup: {r['speedup']}x   agreement where math-verify answered: {r['agreement_where_math_verify_answered']:.2%}"
    )
    m = r["machine"]
    print(
        f"machine: {m['cpus_usable']} usable CPUs, load average {', '.join(f'{x:.2f}' for x in m['load_average'])}"
    )
    for key, d in sorted(r["differences"].items()):
        print(f"  differs on {d['count']:4d} [{key}] {d['why']}")
        print(
            f"       e.g. gold {d['example']['gold']!r}, ...{d['example']['completion']!r} -> lmmr1 {d['example']['lmmr1']}"
        )
    print(f"unexplained differences: {r['unexplained_differences']}")


if __name__ == "__main__":
    sys.exit(main())
