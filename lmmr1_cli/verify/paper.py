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
- an empty response is scored as empty (the server falls back to scoring the whole query, prompt included);
- an explosive answer (`explosive.py`: a power tower, `(x+1)^{100000}`, a huge factorial, deep nesting, more than
  2,000 characters) or a response longer than `MAX_RESPONSE_CHARS` is wrong, reason `explosive`, without running
  math-verify (the server runs it until its 3 s limits, which also score it 0); docs/verifier.md has the rule.
"""

from __future__ import annotations

import functools
import hashlib
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
# A cleaned response longer than this is explosive (a megabyte completion): the paper's longest generation budget
# is 8,196 tokens (train_sokoban.sh), ~35,000 characters; math-verify's regexes and normalization take seconds
# on a megabyte.
MAX_RESPONSE_CHARS = 100_000
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


# Key strings longer than this are cut (plus a digest): explosive.MAX_CHARS still sees them as too long.
KEY_CHARS = 2048


def answer_key(response: str) -> tuple[tuple[str, bool], ...] | None:
    """What the official accuracy rule will parse in a cleaned response, without parsing it: math-verify's first
    match (its own regexes, tried in its priority and position order, as `parse(..., extraction_mode="first_match")`
    does), as the normalized LaTeX string of each matched group with its percent flag. None when nothing matches
    (the rule scores `no_answer`).

    `score_math`'s verdict depends on the response only through this key (math-verify's `extract_latex` parses
    exactly these strings), so two responses with equal keys get equal verdicts against one gold: the batch
    checks one of them. Runs math-verify's regexes, which can take seconds on hostile text: call it in a worker.
    """
    from itertools import groupby

    from math_verify.parser import get_extraction_regexes

    # math_verify.parser.extract_target_from_pred, first_match mode: the first priority group with any match,
    # its rightmost-ending match (leftmost start on ties), and nothing else.
    patterns = sorted(
        (
            (pattern, target, priority)
            for group, target in get_extraction_regexes(_answer_config())
            for pattern, priority in group
        ),
        key=lambda entry: entry[2],
    )
    for _, same_priority in groupby(patterns, key=lambda entry: entry[2]):
        matches = [
            (match, match.start(), match.end(), target)
            for pattern, target, _ in same_priority
            for match in pattern.finditer(response)
        ]
        if matches:
            match, _, _, target = sorted(matches, key=lambda m: (m[2], -m[1]), reverse=True)[0]
            return _match_key(match, target) or None
    return None


def _match_key(match: re.Match, target) -> tuple[tuple[str, bool], ...]:
    """math_verify.parser.extract_latex up to the parse: each group's normalized text and percent flag."""
    from dataclasses import replace

    from latex2sympy2_extended.latex2sympy2 import normalize_latex

    groups = match.groupdict()
    found = [
        next(((value, name) for name, value in groups.items() if name.startswith(prefix) and value), None)
        for prefix in ["first_latex", *(f"next{i}_latex" for i in range(1, 6))]
    ]
    key = []
    for latex, name in (entry for entry in found if entry is not None):
        prefix, _, group_name = name.partition("_")
        config = target.normalization_config
        if group_name == "latexBoxed":
            config = replace(config, boxed="last")
        text = normalize_latex(latex, config=config)
        if len(text) > KEY_CHARS:
            text = text[:KEY_CHARS] + "#" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        key.append((text, bool(groups.get(f"{prefix}_percent"))))
    return tuple(key)


def warm_up() -> None:
    """Compile math-verify's extraction regexes for both configs and parse once (see `symbolic.warm_up`)."""
    for response in ("<think>a</think><answer>$\\boxed{\\frac{1}{2}}$</answer>", "<answer>$x+1$</answer>"):
        answer_key(response)
        score_math(response, "0.5")
    _parse_gold.cache_clear()


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
