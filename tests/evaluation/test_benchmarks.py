"""Benchmark references of `lmmr1_cli/evaluation/benchmarks.py`: dataset dirs and data recipes."""

from __future__ import annotations

import pytest

from lmmr1_cli.data.dataset import load_rows
from lmmr1_cli.errors import DataError
from lmmr1_cli.evaluation import resolve_benchmark
from lmmr1_cli.evaluation.benchmarks import benchmark_cache_root


def test_a_dataset_dir_is_used_as_is(eval_arith):
    benchmark = resolve_benchmark(str(eval_arith))
    assert benchmark.path == eval_arith and benchmark.name == "arith"


def test_a_recipe_with_a_split_is_prepared_once_into_the_cache():
    benchmark = resolve_benchmark("synthetic-arith:test")
    assert benchmark.name == "synthetic-arith-test"
    assert benchmark.path == benchmark_cache_root() / "synthetic-arith-test"
    rows = load_rows(benchmark.path)
    assert len(rows) == 1000 and all(r["id"].startswith("synthetic-arith-test-") for r in rows)
    stamp = (benchmark.path / "rows.jsonl").stat().st_mtime_ns
    assert resolve_benchmark("synthetic-arith:test").path == benchmark.path
    assert (benchmark.path / "rows.jsonl").stat().st_mtime_ns == stamp


def test_an_unknown_benchmark_names_the_known_recipes():
    with pytest.raises(DataError, match="mathvista-testmini"):
        resolve_benchmark("no-such-benchmark")
