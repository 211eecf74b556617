"""Scores of generations (verifier verdicts, the format rule) and the statistics a summary reports."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from math import comb

from lmmr1_cli.verify import VerifyItem, check_format, verify_batch

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(correct: float, total: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion (sane at 0/n and n/n, unlike the normal approximation).

    >>> [round(x, 3) for x in wilson_interval(8, 10)]
    [0.49, 0.943]
    """
    if total <= 0:
        return (0.0, 0.0)
    p = correct / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def clustered_wilson_interval(per_prompt: Sequence[tuple[int, int]], z: float = Z95) -> tuple[float, float]:
    """Wilson interval for mean@k, where the k samples of one prompt are a cluster (correlated, not independent).

    `per_prompt` holds (correct, samples) per prompt. The Wilson interval is taken at the Kish effective sample
    size n_eff = p(1-p) / Var_cluster(p), with the cluster-robust (between-prompt) variance of the pooled
    proportion; n_eff is kept between the number of prompts (all samples of a prompt agree) and the number of
    samples (they are independent). At 0/n or n/n the variance is 0 and n_eff falls back to the number of
    prompts, so the interval is never a point: 0 correct of 4 x 128 gives [0, 2.9%], not [0, 0].

    >>> [round(x, 3) for x in clustered_wilson_interval([(0, 4)] * 128)]
    [0.0, 0.029]
    """
    prompts = len(per_prompt)
    samples = sum(n for _, n in per_prompt)
    if prompts == 0 or samples == 0:
        return (0.0, 0.0)
    correct = sum(c for c, _ in per_prompt)
    p = correct / samples
    mean_n = samples / prompts
    # Cluster-robust variance of a ratio estimator (survey sampling: clusters = prompts).
    residual = sum((c - p * n) ** 2 for c, n in per_prompt)
    variance = residual / (mean_n**2 * prompts * max(prompts - 1, 1))
    if 0 < p < 1:
        n_eff = p * (1 - p) / variance if variance > 0 else samples
    else:
        n_eff = prompts
    n_eff = min(max(n_eff, prompts), samples)
    return wilson_interval(p * n_eff, n_eff, z)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al. 2021, HumanEval).

    >>> pass_at_k(4, 1, 1), pass_at_k(4, 1, 4), pass_at_k(4, 0, 4)
    (0.25, 1.0, 0.0)
    """
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def score_generations(
    rows: Sequence[dict], completions: Sequence[Sequence[str]], timeout: float, free_text: bool = False
) -> list[list]:
    """One list of (Verdict, format_ok) per row, aligned with `completions[i]`. With `free_text` (the paper
    protocol, whose prompts ask for a boxed answer or an 'Answer: X' line, not tags) a completion without an
    `<answer>` span is scored on `free_text_answer`; the format rate is always that of the completion itself."""
    items = [
        VerifyItem(
            free_text_answer(text) if free_text else text,
            str(row["answer"]),
            row.get("answer_type") or "math",
            _choices(row),
        )
        for row, texts in zip(rows, completions, strict=True)
        for text in texts
    ]
    verdicts = iter(verify_batch(items, timeout=timeout))
    return [[(next(verdicts), check_format(text)) for text in texts] for texts in completions]


_ANSWER_LINE = re.compile(r"answer\s*(?:is)?\s*[:：]\s*(.+)", re.IGNORECASE)


def free_text_answer(completion: str) -> str:
    """The completion with an `<answer>` span added when it has none: its last `\\boxed{}`, else what follows
    its last 'Answer:' (GPQA's 'Answer: $LETTER'), else its last non-empty line. LightEval and lmms-eval read
    free text this way (boxed first, then the answer line); the tags the R1 prompt asks for win when present.

    >>> free_text_answer("so the final answer is: $\\\\boxed{70}$. I hope it is correct")[-19:]
    '<answer>70</answer>'
    >>> free_text_answer("Thinking... Answer: C")[-18:]
    '<answer>C</answer>'
    """
    from lmmr1_cli.verify.extract import answer_span, last_boxed, strip_think

    text = strip_think(completion)
    if answer_span(text) is not None:
        return completion
    found = last_boxed(text)
    if found is None:
        matches = _ANSWER_LINE.findall(text)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        found = matches[-1].strip().rstrip(".") if matches else (lines[-1] if lines else None)
    return completion if not found else f"{completion}\n<answer>{found}</answer>"


def _choices(row: dict) -> tuple[str, ...] | None:
    choices = row.get("choices")
    return tuple(str(c) for c in choices) if choices else None


def summarize_records(records: Sequence[dict], samples: int) -> dict:
    """accuracy (mean@k; plain accuracy at k=1) with a 95% CI, pass@k, format rate, mean length, reasons.

    `records` are samples.jsonl lines: one per generation, `sample` in 0..samples-1.
    """
    by_id: dict[str, list[dict]] = {}
    for rec in records:
        by_id.setdefault(rec["id"], []).append(rec)
    generations = len(records)
    correct = sum(1 for r in records if r["correct"])
    if samples == 1:
        low, high = wilson_interval(correct, generations)
    else:
        low, high = clustered_wilson_interval(
            [(sum(bool(r["correct"]) for r in recs), len(recs)) for recs in by_id.values()]
        )
    out = {
        "rows": len(by_id),
        "samples": samples,
        "generations": generations,
        "correct": correct,
        "accuracy": correct / generations if generations else 0.0,
        "ci95": [round(low, 4), round(high, 4)],
        # Which interval ci95 is (README, "95% intervals"): samples of one prompt are a cluster when k > 1.
        "ci95_method": "wilson" if samples == 1 else "wilson, prompt-clustered effective n",
        "format_rate": sum(1 for r in records if r["format"]) / generations if generations else 0.0,
        "mean_tokens": sum(r["tokens"] for r in records) / generations if generations else 0.0,
        "reasons": dict(Counter(r["reason"] for r in records).most_common()),
    }
    if samples > 1:
        out[f"pass@{samples}"] = sum(
            pass_at_k(len(recs), sum(r["correct"] for r in recs), samples) for recs in by_id.values()
        ) / max(len(by_id), 1)
        out[f"mean@{samples}"] = out["accuracy"]
    return out
