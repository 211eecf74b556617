"""LLM-judge extraction: the openai backend against a local chat-completions server, the hf backend with the
real tiny model, and the rule verifier scoring what the judge extracted."""

from __future__ import annotations

import time

import pytest

from evaluation.chat_stub import ChatStub
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.evaluation.judge import (
    JUDGE_MAX_TOKENS,
    JUDGE_PROMPT,
    JudgeError,
    JudgeSettings,
    extract_answers,
    judge_prompt,
    make_judge,
    parse_judge_reply,
    score_extractions,
)

QUESTIONS = ["What is 7 + 9?", "Which is largest?\nChoices:\n(A) 3\n(B) 7\n(C) 5", "Count the dots."]
RESPONSES = [
    "<think>7 + 9 = 16</think><answer>16</answer>",
    "<think>7 is the largest of 3, 7, 5.</think><answer>The answer is B</answer>",
    "I am not sure.",
]


@pytest.fixture
def stub():
    with ChatStub() as server:
        yield server


def test_openai_judge_extracts_the_final_answers_over_http(stub):
    judge = make_judge(JudgeSettings(model="qwen2.5-14b", backend="openai", url=stub.url))
    out = extract_answers(judge, QUESTIONS, RESPONSES)
    assert [answer for answer, _ in out] == ["16", "B", None]
    assert len(stub.requests) == 3
    for request in stub.requests:  # sent concurrently: in any order
        assert request["model"] == "qwen2.5-14b" and request["temperature"] == 0
        assert request["max_tokens"] == JUDGE_MAX_TOKENS
        prompt = request["messages"][0]["content"]
        assert prompt.startswith(JUDGE_PROMPT) and prompt.endswith("Final answer:")
    prompts = [r["messages"][0]["content"] for r in stub.requests]
    assert sum("Question: What is 7 + 9?\nResponse: <think>7 + 9 = 16</think>" in p for p in prompts) == 1


def test_empty_responses_are_not_sent_to_the_judge(stub):
    judge = make_judge(JudgeSettings(model="m", url=stub.url))
    out = extract_answers(judge, ["q1", "q2"], ["", "the answer is 4"])
    assert out[0] == (None, "") and out[1][0] == "4"
    assert len(stub.requests) == 1


def test_full_chat_completions_url_is_accepted_too(stub):
    judge = make_judge(JudgeSettings(model="m", url=stub.url + "/chat/completions"))
    assert extract_answers(judge, ["q"], ["so 12"])[0][0] == "12"


def test_api_key_from_the_environment_is_sent_as_bearer_token(stub, monkeypatch):
    monkeypatch.setenv("LMMR1_JUDGE_API_KEY", "st-123")
    judge = make_judge(JudgeSettings(model="m", url=stub.url))
    extract_answers(judge, ["q"], ["3"])
    assert stub.headers[0]["Authorization"] == "Bearer st-123"


def test_busy_server_is_retried_until_it_answers(stub):
    stub.fail_first = 2
    judge = make_judge(JudgeSettings(model="m", url=stub.url, retries=3))
    assert extract_answers(judge, ["q"], ["x = 5"])[0][0] == "5"
    assert len(stub.requests) == 3


def test_client_error_is_not_retried_and_names_the_endpoint(stub):
    stub.status = 400
    judge = make_judge(JudgeSettings(model="m", url=stub.url, retries=3))
    with pytest.raises(JudgeError, match=r"chat/completions: HTTP 400.*after 1 attempt"):
        extract_answers(judge, ["q"], ["5"])
    assert len(stub.requests) == 1


def test_reply_that_is_not_a_chat_completion_fails_after_the_retries(stub):
    stub.malformed = True
    judge = make_judge(JudgeSettings(model="m", url=stub.url, retries=1))
    with pytest.raises(JudgeError, match="not a chat completion"):
        extract_answers(judge, ["q"], ["5"])
    assert len(stub.requests) == 2


def test_a_hanging_endpoint_costs_at_most_the_timeout_per_attempt(stub):
    stub.delay = 600.0  # never answers within the test: without the timeout it would hang
    judge = make_judge(JudgeSettings(model="m", url=stub.url, timeout=0.3, retries=1))
    start = time.monotonic()
    with pytest.raises(JudgeError, match="after 2 attempt"):
        extract_answers(judge, ["q"], ["5"])
    assert len(stub.requests) == 2  # both attempts reached the endpoint and were given up
    assert time.monotonic() - start < 120  # a hang guard far below the 2 x 600 s a missing timeout costs


def test_unreachable_endpoint_is_one_judge_error():
    with ChatStub() as closed:
        url = closed.url
    judge = make_judge(JudgeSettings(model="m", url=url, retries=1, timeout=2))
    with pytest.raises(JudgeError, match="127.0.0.1"):
        extract_answers(judge, ["q"], ["5"])


@pytest.mark.parametrize(
    "settings, message",
    [
        (JudgeSettings(model="m", backend="openai"), "needs --judge-url"),
        (JudgeSettings(model="m", url="ftp://x/v1"), "must start with http"),
        (JudgeSettings(model="m", backend="hf", url="http://x/v1"), "is for --judge-backend openai"),
        (JudgeSettings(model="m", backend="gpt"), "unknown"),
    ],
)
def test_bad_judge_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError, match=message):
        make_judge(settings)


def test_judge_replies_are_parsed_to_one_answer():
    assert parse_judge_reply("Extracted answer: (-2, 1)") == "(-2, 1)"
    assert parse_judge_reply("\n  \\frac{3}{2}\nbecause ...") == "\\frac{3}{2}"
    assert parse_judge_reply("NULL") is None and parse_judge_reply("") is None


def test_judge_sees_only_the_tail_of_a_long_response():
    prompt = judge_prompt("q", "x" * 10_000 + " so the answer is 42", response_chars=100)
    assert prompt.count("x") < 150 and "so the answer is 42" in prompt


def test_rule_verifier_scores_what_the_judge_extracted():
    rows = [
        {"answer": "16", "answer_type": "math", "choices": None},
        {"answer": "B", "answer_type": "choice", "choices": ["3", "7", "5"]},
        {"answer": "C", "answer_type": "choice", "choices": ["3", "7", "5"]},
        {"answer": "\\frac{1}{2}", "answer_type": "math", "choices": None},
    ]
    verdicts = score_extractions(rows, ["16", "B", None, "0.25"], timeout=3.0)
    assert [v["judge_correct"] for v in verdicts] == [True, True, False, False]
    assert verdicts[2]["judge_reason"] == "judge_no_answer"


def test_tiny_model_serves_as_an_hf_judge():
    """The plumbing is real (the tiny model's replies are not expected to be good answers)."""
    judge = make_judge(JudgeSettings(model="tiny", backend="hf", max_tokens=6, batch_size=2))
    out = extract_answers(judge, QUESTIONS, RESPONSES)
    assert len(out) == 3
    assert all(isinstance(raw, str) for _, raw in out)
    assert all(answer is None or isinstance(answer, str) for answer, _ in out)
