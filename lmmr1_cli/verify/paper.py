"""The `paper` reward mode: the official LMM-R1 reward functions, reproduced exactly, run in lmmr1's worker pool.

Source: TideDra/lmm-r1 at f917f18, `openrlhf/models/remote_rm/math_verifier.py` (math, choice, geometry rows: the
official server has one rule for all of them) and `sokoban_verifier.py` (sokoban rows, see `sokoban.paper_score`).

- **Format** (`format_ok`): the response with the end-of-sequence tokens removed and stripped matches
  `^<think>(?:(?!</think>).)*</think><answer>(?:(?!</answer>).)*</answer>\\Z` (DOTALL) and holds exactly one
  `<think>` and one `<answer>`: nothing may stand between `</think>` and `<answer>`, not even a newline.
- **Accuracy** (`score_math`): math-verify over the *whole* response (reasoning included), `first_match`, boxed
  first, no anchor-free extraction; the gold wrapped in `$…$` unless it starts with `$`; `verify(answer, gold)` in
  the official argument order; an exception scores 0.

Where lmmr1 departs from the server, on purpose (docs/recipes.md says the same):
- an unparseable gold scores 0 with reason `gold_unparseable` (the server scores it 1.0); prepare-data drops such
  rows before training;
- the pool's wall-clock limit (`timeout`) bounds each check, and a timeout scores 0 (the server has no limit and
  can hang); math-verify's own 3 s parse/verify limits (its 0.5.2 defaults, the version the server pinned) apply
  inside it, as on the server;
- an empty response is scored as empty (the server falls back to scoring the whole query, prompt included).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from lmmr1_cli.verify import sokoban
from lmmr1_cli.verify.verdicts import (
    CORRECT,
    ERROR,
    GOLD_UNPARSEABLE,
    NO_ANSWER,
    TIMEOUT,
    WRONG,
    GoldParseError,
    VerifyItem,
)

# math_verifier.py `get_response_from_query`: removed anywhere in the response, then the response is stripped.
END_OF_SEQUENCE_TOKENS = ("<|im_end|>", "<｜end▁of▁sentence｜>", "<|endoftext|>", "<end_of_turn>")
# math_verifier.py `format_pattern`, matched with re.DOTALL.
FORMAT_PATTERN = re.compile(
    r"^<think>(?:(?!</think>).)*</think><answer>(?:(?!</answer>).)*</answer>\Z", re.DOTALL
)
# math-verify 0.5.2 defaults (requirements.txt of the release pins math-verify==0.5.2): seconds per parse/verify.
MATH_VERIFY_INNER_TIMEOUT = 3


@dataclass(frozen=True)
class PaperVerdict:
    """The official verdicts for one response: `correct` (accuracy rule), `format_ok` (format rule), and
    `accuracy`, the value of the accuracy reward (1.0/0.0 for math; for sokoban the official total minus the
    0.5 x format part, so `0.5 * format_ok + accuracy` is the official reward in both)."""

    correct: bool
    format_ok: bool
    accuracy: float
    extracted: str | None
    reason: str


def clean_response(response: str, tokens: Sequence[str] = END_OF_SEQUENCE_TOKENS) -> str:
    """The response as the official server scores it: end-of-sequence tokens removed, then stripped.

    >>> clean_response("<think>a</think><answer>1</answer><|im_end|>\\n")
    '<think>a</think><answer>1</answer>'
    """
    for token in tokens:
        response = response.replace(token, "")
    return response.strip()


def check_format(response: str) -> bool:
    """The official format rule on a raw response (end-of-sequence tokens are removed first).

    >>> check_format("<think>2+2</think><answer>$4$</answer><|im_end|>")
    True
    >>> check_format("<think>2+2</think>\\n<answer>$4$</answer>")
    False
    """
    content = clean_response(response)
    return (
        FORMAT_PATTERN.match(content) is not None
        and content.count("<think>") == 1
        and content.count("<answer>") == 1
    )


def gold_latex(answer: str) -> str:
    """The gold as the server hands it to math-verify: wrapped in `$…$` unless it already starts with `$`.

    >>> gold_latex("60"), gold_latex("$\\\\boxed{60}$")
    ('$60$', '$\\\\boxed{60}$')
    """
    return answer if answer.startswith("$") else "$" + answer + "$"


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> tuple:
    from math_verify import LatexExtractionConfig, parse

    return tuple(
        parse(
            gold,
            extraction_mode="first_match",
            extraction_config=[LatexExtractionConfig()],
            parsing_timeout=MATH_VERIFY_INNER_TIMEOUT,
        )
    )


@functools.cache
def _answer_config() -> list:
    from latex2sympy2_extended import NormalizationConfig
    from math_verify import LatexExtractionConfig

    return [
        LatexExtractionConfig(
            normalization_config=NormalizationConfig(
                nits=False, malformed_operators=False, basic_latex=True, boxed="all", units=True
            ),
            boxed_match_priority=0,  # boxed is tried first
            try_extract_without_anchor=False,
        )
    ]


def score_math(response: str, gold: str) -> tuple[bool, str, str | None]:
    """The official accuracy rule for one cleaned response and a raw gold: (correct, reason, extracted text).

    Runs math-verify in this process: call it in a verifier worker (`paper_batch.verify_paper_batch` does), where
    a runaway parse can be killed.
    """
    from math_verify import parse, verify

    gold_parsed = list(_parse_gold(gold_latex(gold)))
    if not gold_parsed:
        return False, GOLD_UNPARSEABLE, None
    answer_parsed = parse(
        response,
        extraction_config=_answer_config(),
        extraction_mode="first_match",
        parsing_timeout=MATH_VERIFY_INNER_TIMEOUT,
    )
    extracted = str(answer_parsed[-1]) if answer_parsed else None
    if not answer_parsed:
        return False, NO_ANSWER, None
    try:
        # The server's argument order: the response's parse first, the gold second.
        ok = bool(verify(answer_parsed, gold_parsed, timeout_seconds=MATH_VERIFY_INNER_TIMEOUT))
    except Exception:
        return False, ERROR, extracted
    return ok, CORRECT if ok else WRONG, extracted


def gold_is_parseable(gold: str) -> bool:
    """Whether the official gold parse reads `gold` (a row the server would score 1.0 for any answer if not)."""
    return bool(_parse_gold(gold_latex(gold)))


def sokoban_verdict(item: VerifyItem) -> PaperVerdict:
    """The official Sokoban verdict of one item (played in-process: at most 50 moves)."""
    try:
        level = sokoban.parse_level(item.gold)
    except GoldParseError:
        return PaperVerdict(False, False, 0.0, None, GOLD_UNPARSEABLE)
    score = sokoban.paper_score(item.prediction, level)
    if not score.format_ok:
        return PaperVerdict(False, False, 0.0, None, NO_ANSWER)
    return PaperVerdict(
        score.solved, True, score.accuracy, score.actions_text, CORRECT if score.solved else WRONG
    )


def paper_summary(verdicts: Sequence[PaperVerdict], seconds: float) -> dict:
    """Counts for `lmmr1 verify --mode paper`: accuracy, format rate, reasons, timeouts."""
    reasons = Counter(v.reason for v in verdicts)
    n = len(verdicts)
    correct = sum(v.correct for v in verdicts)
    formatted = sum(v.format_ok for v in verdicts)
    return {
        "mode": "paper",
        "rows": n,
        "correct": correct,
        "accuracy": correct / n if n else 0.0,
        "format_ok": formatted,
        "format_rate": formatted / n if n else 0.0,
        "reasons": dict(sorted(reasons.items())),
        "timeouts": reasons.get(TIMEOUT, 0),
        "seconds": round(seconds, 3),
    }
