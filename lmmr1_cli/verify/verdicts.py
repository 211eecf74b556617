"""Plain data shared by the verifier modules: verdicts, batch items, parsed golds, errors."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from lmmr1_cli.errors import DataError

# Verdict reasons (short snake_case; the CLI summary counts them).
CORRECT = "correct"
WRONG = "wrong"
NO_ANSWER = "no_answer"
TIMEOUT = "timeout"
ERROR = "error"
GOLD_UNPARSEABLE = "gold_unparseable"
TOO_LONG = "too_long"
EXPLOSIVE = "explosive"  # explosive.py: wrong by rule, decided before sympy


class GoldParseError(DataError):
    """The gold answer of a row cannot be parsed for its answer_type (prepare-data drops such rows)."""


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check: `extracted` is the answer text that was scored (None when none was found)."""

    correct: bool
    extracted: str | None
    reason: str


@dataclass(frozen=True)
class VerifyItem:
    """One (prediction, gold) pair for `verify_batch`."""

    prediction: str
    gold: str
    answer_type: str = "math"
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BatchStats:
    """Where the verdicts of one `verify_batch_with_stats` call came from (for logging and bench/verify_bench.py).

    `in_process + cached + worker_items == items`; `worker_checks` counts distinct worker payloads (a GRPO group
    often repeats an answer); `check_seconds` is each item's in-process time plus its worker check's wall time.
    """

    items: int
    worker_checks: int
    worker_items: int
    cached: int
    in_process: int
    check_seconds: tuple[float, ...]
    distinct_pairs: int = 0  # distinct (gold, extracted answer) pairs; items without an answer count as one

    @property
    def repeat_rate(self) -> float:
        """Share of items whose (gold, answer) pair repeats one earlier in the batch."""
        return 1 - self.distinct_pairs / self.items if self.items else 0.0


@dataclass(frozen=True)
class PaperBatchStats:
    """Where the verdicts of one `verify_paper_batch_with_stats` call came from.

    `math_items` are the rows scored by the math rule (not Sokoban, not malformed); they fall into
    `distinct_pairs` (gold, answer key) pairs, each decided once: `no_answer` (nothing to parse), `explosive`,
    `integer` (exact in-process path), `cached` (an earlier batch of the run) or one of `pool_checks`.
    """

    items: int
    math_items: int
    distinct_pairs: int
    no_answer: int
    explosive: int
    integer: int
    cached: int
    pool_checks: int

    @property
    def repeat_rate(self) -> float:
        """Share of math items whose (gold, answer) pair repeats one earlier in the batch."""
        return 1 - self.distinct_pairs / self.math_items if self.math_items else 0.0


@dataclass(frozen=True)
class Number:
    """A plain number as written: exact value, whether it was written with a decimal point, and a % sign."""

    value: Fraction
    is_float: bool = False
    percent: bool = False


@dataclass(frozen=True)
class ParsedGold:
    """A gold answer parsed once: `core` is the answer text stripped of `$`/`\\boxed{}` wrappers.

    `number` is set when the gold is a plain number (fast path), `letter` for multiple choice,
    `level` (a `sokoban.Level`) for sokoban.
    """

    raw: str
    answer_type: str
    core: str
    number: Number | None = None
    letter: str | None = None
    choices: tuple[str, ...] | None = None
    level: object | None = None  # a sokoban.Level
    degrees: bool = False
    # Numeric value of a closed-form math gold (closed_form.py), for the in-process filter; `huge` when it overflows.
    value: float | None = None
    huge: bool = False
