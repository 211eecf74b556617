"""Evaluation: generate answers for benchmark rows (hf or vllm backend), score them with the project's verifier,
summarize per model and benchmark, and compare models side by side.

The library never prints; `lmmr1 eval` renders what `evaluate` returns.
"""

from lmmr1_cli.evaluation.benchmarks import Benchmark, resolve_benchmark
from lmmr1_cli.evaluation.comparison import comparison_markdown, comparison_rows
from lmmr1_cli.evaluation.runner import EvalSettings, evaluate, model_label
from lmmr1_cli.evaluation.scoring import pass_at_k, wilson_interval

__all__ = [
    "Benchmark",
    "EvalSettings",
    "comparison_markdown",
    "comparison_rows",
    "evaluate",
    "model_label",
    "pass_at_k",
    "resolve_benchmark",
    "wilson_interval",
]
