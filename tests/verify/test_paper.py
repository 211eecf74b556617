"""The `paper` reward mode reproduces the official LMM-R1 math reward server (tests/verify/paper_cases.py holds the
official verdicts, produced by running the official code; see bench/official_reference.py)."""

from __future__ import annotations

import time

import pytest

from lmmr1_cli.verify.paper import (
    check_format,
    clean_response,
    gold_is_parseable,
    gold_latex,
    paper_summary,
    score_math,
)
from lmmr1_cli.verify.paper_batch import verify_paper_batch
from lmmr1_cli.verify.verdicts import VerifyItem
from tests.verify.paper_cases import PAPER_CASES


def test_the_table_covers_what_the_issue_lists() -> None:
    responses = [r for r, *_ in PAPER_CASES]
    assert len(PAPER_CASES) >= 40
    assert any("</think>\n<answer>" in r for r in responses)  # whitespace between tags
    assert any(r.count("<think>") == 2 for r in responses)
    assert any("\\boxed" in r.split("</think>")[0] for r in responses if "</think>" in r)
    assert any("<|im_end|>" in r for r in responses) and any("<|endoftext|>" in r for r in responses)
    assert any("<think>" not in r for r in responses)
    assert any(gold in "ABCD" for _, gold, *_ in PAPER_CASES)
    assert {(f, a) for *_, f, a in PAPER_CASES} == {
        (True, True),
        (True, False),
        (False, True),
        (False, False),
    }


@pytest.mark.parametrize(("response", "gold", "format_ok", "correct"), PAPER_CASES)
def test_format_rule_matches_the_official_server(
    response: str, gold: str, format_ok: bool, correct: bool
) -> None:
    assert check_format(response) is format_ok


def test_accuracy_rule_matches_the_official_server_through_the_worker_pool() -> None:
    items = [VerifyItem(response, gold) for response, gold, *_ in PAPER_CASES]
    verdicts = verify_paper_batch(items, timeout=20.0)
    for (response, gold, format_ok, correct), verdict in zip(PAPER_CASES, verdicts, strict=True):
        assert (verdict.format_ok, verdict.correct) == (format_ok, correct), (response, gold, verdict)
        assert verdict.accuracy == (1.0 if correct else 0.0)


def test_choice_and_geometry_rows_are_scored_by_the_one_official_math_rule() -> None:
    response = "<think>a</think><answer>$\\boxed{B}$</answer>"
    verdicts = verify_paper_batch(
        [VerifyItem(response, "B", "choice", ("x", "y")), VerifyItem(response, "B", "geometry")], timeout=20.0
    )
    assert [v.correct for v in verdicts] == [True, True]


def test_end_of_sequence_tokens_are_removed_before_stripping() -> None:
    assert clean_response("  <think>a</think><answer>$1$</answer><|im_end|> \n") == (
        "<think>a</think><answer>$1$</answer>"
    )


def test_gold_is_wrapped_in_dollars_unless_it_starts_with_one() -> None:
    assert gold_latex("60") == "$60$"
    assert gold_latex("$\\boxed{60}$") == "$\\boxed{60}$"
    assert gold_latex(" $60$") == "$ $60$$"  # as the server does: only a leading $ counts


def test_unparseable_gold_scores_zero_and_says_why_not_one_as_officially() -> None:
    assert not gold_is_parseable("")
    assert score_math("<think>a</think><answer>$1$</answer>", "") == (False, "gold_unparseable", None)
    verdict = verify_paper_batch([VerifyItem("<think>a</think><answer>$1$</answer>", "")], timeout=20.0)[0]
    assert (verdict.correct, verdict.format_ok, verdict.reason) == (False, True, "gold_unparseable")


def test_accuracy_names_what_it_extracted() -> None:
    ok, reason, extracted = score_math("<think>so \\boxed{3}</think><answer>$4$</answer>", "4")
    assert (ok, reason, extracted) == (False, "wrong", "3")
    assert score_math("<think>a</think><answer>4</answer>", "4") == (False, "no_answer", None)


def test_a_check_that_overruns_the_limit_is_a_counted_wrong_answer() -> None:
    # An explosive answer is wrong before sympy; against an explosive gold the pair reaches math-verify.
    tower = "<think>a</think><answer>$\\boxed{(x+1)^{100000}}$</answer>"
    start = time.monotonic()
    verdict = verify_paper_batch([VerifyItem(tower, "(x+2)^{100000}")], timeout=1.0)[0]
    assert (verdict.correct, verdict.format_ok, verdict.reason) == (False, True, "timeout")
    # A hang guard, not a stopwatch: left to finish, the expansion would run for minutes.
    assert time.monotonic() - start < 60  # the worker is killed at the limit


def test_repeated_pairs_are_checked_once_and_cached() -> None:
    from lmmr1_cli.verify.paper_batch import verify_paper_batch_with_stats

    # 16 responses, different reasoning, the same answer: one (gold, answer) pair, one check
    items = [
        VerifyItem(f"<think>try {k}</think><answer>$\\frac{{2}}{{4}}$</answer>", "0.55") for k in range(16)
    ]
    first, stats = verify_paper_batch_with_stats(items, timeout=20.0)
    assert not any(v.correct for v in first) and {v.reason for v in first} == {"wrong"}
    assert (stats.math_items, stats.distinct_pairs, stats.pool_checks) == (16, 1, 1)
    assert stats.repeat_rate == 15 / 16
    again, stats = verify_paper_batch_with_stats(items[:3], timeout=20.0)
    assert again == first[:3] and (stats.cached, stats.pool_checks) == (1, 0)  # cached for the run
    summary = paper_summary(first, 0.1)
    assert summary["rows"] == 16 and summary["accuracy"] == 0.0 and summary["format_rate"] == 1.0


def test_every_gold_prepare_data_keeps_is_one_the_official_parse_reads() -> None:
    """An unparseable gold is a prepare-data drop (the official server would score every answer 1.0): every gold
    form of the verifier tables that prepare-data's check accepts is one the official gold parse reads too, so a
    paper-mode run never meets a gold the server would have waved through."""
    from lmmr1_cli.verify import parse_golds
    from tests.verify.cases import GEOMETRY, MATH_TABLES

    golds = sorted({gold for table in MATH_TABLES.values() for gold, *_ in table} | {g for g, *_ in GEOMETRY})
    verdicts = parse_golds([(g, "math") for g in golds])
    kept = [g for g, parsed in zip(golds, verdicts, strict=True) if not isinstance(parsed, Exception)]
    assert len(kept) >= 100
    assert [g for g in kept if not gold_is_parseable(g)] == []
    assert not gold_is_parseable("") and not gold_is_parseable(" ")


def _responses_with_shared_keys() -> list[tuple[str, str]]:
    """(response, gold) pairs where many responses share an answer key: different reasoning, spellings that
    math-verify normalizes alike, boxed in the reasoning or in the answer, percent signs, several $…$ groups."""
    answers = [
        "$4$",
        "$\\boxed{4}$",
        "\\boxed{4}",
        "$4\\%$",
        "$\\frac{8}{2}$",
        "$4$ and $5$",
        "$-4$",
        "$04$",
        "4",
    ]
    pairs = []
    for k, answer in enumerate(answers):
        for think in ("a", f"so $x={k}$ then", "the sum is \\boxed{3}."):
            for gold in ("4", "-4", "0.04", "\\{4,5\\}"):
                pairs.append((f"<think>{think}</think><answer>{answer}</answer>", gold))
    return pairs + [(response, gold) for response, gold, *_ in PAPER_CASES]


def test_the_answer_key_decides_the_official_verdict() -> None:
    """Responses with equal keys get equal official verdicts against one gold (what lets a batch check one of
    them); no key means the official rule extracts nothing."""
    from lmmr1_cli.verify.pool import get_pool

    pairs = _responses_with_shared_keys()
    responses = [clean_response(r) for r, _ in pairs]
    ((tag, keys),) = get_pool().run([("paper_keys", tuple(responses))], timeout=60.0)
    official = get_pool().run(
        [("paper_math", r, g) for r, (_, g) in zip(responses, pairs, strict=True)], 60.0
    )
    by_key: dict = {}
    for (_, gold), key, verdict in zip(pairs, keys, official, strict=True):
        assert (key is None) == (verdict[1] == "no_answer"), (key, verdict)
        assert by_key.setdefault((gold, key), tuple(verdict)) == tuple(verdict), (gold, key)
    assert len(by_key) < len(pairs) / 2  # the keys do merge responses


def test_batch_verdicts_equal_the_official_rule_pair_by_pair() -> None:
    """The batch's in-process integer path, deduplication and cache give the official verdict of every pair."""
    from lmmr1_cli.verify.pool import get_pool

    pairs = _responses_with_shared_keys()
    pairs += [
        (f"<think>t</think><answer>$\\boxed{{{a}}}$</answer>", g)
        for a in (0, 7, -7, 12, 120)
        for g in ("7", "-7", "0", "12", "120")
    ]
    batch = verify_paper_batch([VerifyItem(r, g) for r, g in pairs], timeout=60.0)
    official = get_pool().run([("paper_math", clean_response(r), g) for r, g in pairs], 60.0)
    assert [(v.correct, v.reason, v.extracted) for v in batch] == [tuple(o) for o in official]


def test_a_response_whose_key_search_overruns_is_the_only_timeout() -> None:
    # math-verify's regexes are quadratic on a run of `\[`: 16,000 of them (32 kB) take them ~9 s here
    hostile = "<think>" + "\\[" * 16_000 + "</think><answer>$4$</answer>"
    ok = [VerifyItem(f"<think>{k}</think><answer>$\\boxed{{{k}}}$</answer>", str(k)) for k in range(6)]
    verdicts = verify_paper_batch([*ok[:3], VerifyItem(hostile, "4"), *ok[3:]], timeout=1.0)
    assert [v.reason for v in verdicts] == ["correct"] * 3 + ["timeout"] + ["correct"] * 3


def test_a_megabyte_response_is_explosive_without_a_regex() -> None:
    from lmmr1_cli.verify.paper_batch import verify_paper_batch_with_stats

    verdicts, stats = verify_paper_batch_with_stats(
        [VerifyItem("<think>" + "x^{" * 300_000 + "</think><answer>$7$</answer>", "7")]
    )
    assert (verdicts[0].correct, verdicts[0].reason) == (False, "explosive")
    assert (stats.explosive, stats.pool_checks) == (1, 0)  # decided in process: no regex ran in a worker
