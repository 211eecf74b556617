"""LLM-judge answer extraction: a judge model reads a long response and copies out its final answer; lmmr1's rule
verifier then scores that answer, so every sample keeps two verdicts (rule on the response, rule on the judge's
extraction).

The paper's evaluation (ForJadeForest/lmm-r1-eval) served Qwen2.5-14B-Instruct with `vllm serve` as an
OpenAI-compatible endpoint (`miscs/lmmr1/deploy_eval_model.sh`) and asked it, with MathVista/MathVerse-style
few-shot prompts, for the "Extracted Answer" (temperature 0, max_tokens 256). lmmr1 uses one fixed prompt of its
own for every benchmark (JUDGE_PROMPT below, documented in docs/evaluation.md), the same decoding, and matches the
extraction with its rule verifier rather than asking the judge again.

Judges: `openai` (any OpenAI-compatible base URL, e.g. a local `vllm serve`, through urllib with bounded
timeouts and retries), `hf` and `vllm` (a local model through lmmr1's own generation backends).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lmmr1_cli.errors import ConfigError, Lmmr1Error

JUDGE_BACKENDS = ("hf", "vllm", "openai")
JUDGE_MAX_TOKENS = 256  # the paper's extraction call: max_tokens=256, temperature=0 (lmm-r1-eval *_evals.py)
# The answer sits at the end of a response; a 4,096-token response is ~15K characters. The judge sees the tail
# only (the paper's MathVerse eval kept the last 30 words), which bounds its prompt and cost.
JUDGE_RESPONSE_CHARS = 4000
API_KEY_ENVS = ("LMMR1_JUDGE_API_KEY", "OPENAI_API_KEY")  # first one set is sent as a Bearer token

JUDGE_PROMPT = """You read a model's response to a problem and copy out the final answer it gives.
Rules:
- Reply with the final answer only, as the response states it: a number, an expression, a list, or an option \
letter. No explanation.
- If the response chooses one of lettered options, reply with the letter only.
- If the response gives no final answer, reply: null

Question: What is the area of the square? (Unit: cm^2)
Response: Each side is 4 cm, so the area is 4 x 4 = 16 cm^2.
Final answer: 16

Question: Which angle is the largest?
Choices:
(A) 30 degrees
(B) 60 degrees
(C) 90 degrees
Response: <think>The right angle is the largest one.</think><answer>(C) 90 degrees</answer>
Final answer: C

Question: Solve 2x + 1 = 4 for x.
Response: Subtracting 1 and dividing by 2 gives x = \\frac{3}{2}, so the answer is $\\boxed{\\frac{3}{2}}$.
Final answer: \\frac{3}{2}

Question: How many triangles are in the figure?
Response: The figure is too blurry for me to count the triangles.
Final answer: null

"""  # then "Question: <question>\nResponse: <response tail>\nFinal answer:" (judge_prompt)

_PREFIXES = ("final answer:", "extracted answer:", "answer:")


class JudgeError(Lmmr1Error):
    """The LLM judge could not be reached or answered with something that is not a chat completion."""


@dataclass(frozen=True)
class JudgeSettings:
    """`--judge MODEL --judge-backend hf|vllm|openai --judge-url URL`."""

    model: str
    backend: str = "openai"
    url: str | None = None  # OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (openai backend)
    timeout: float = 60.0  # seconds per HTTP request
    retries: int = 3  # extra attempts after a failed request (connection errors, 429, 5xx, malformed replies)
    concurrency: int = 8  # requests in flight at once (openai backend)
    max_tokens: int = JUDGE_MAX_TOKENS
    batch_size: int = 8  # prompts per generate call (hf backend)
    response_chars: int = JUDGE_RESPONSE_CHARS

    def check(self) -> None:
        if self.backend not in JUDGE_BACKENDS:
            raise ConfigError(f"--judge-backend {self.backend!r} unknown; expected one of {JUDGE_BACKENDS}")
        if self.backend == "openai":
            if not self.url:
                raise ConfigError("--judge-backend openai needs --judge-url (e.g. http://127.0.0.1:8000/v1)")
            if not self.url.startswith(("http://", "https://")):
                raise ConfigError(f"--judge-url {self.url!r} must start with http:// or https://")
        elif self.url:
            raise ConfigError(f"--judge-url is for --judge-backend openai, not {self.backend}")
        if self.timeout <= 0 or self.retries < 0 or self.concurrency < 1 or self.max_tokens < 1:
            raise ConfigError("judge timeout, concurrency and max tokens must be positive, retries >= 0")

    def describe(self) -> dict:
        """What summary.json records about the judge (never a key)."""
        return {
            "model": self.model,
            "backend": self.backend,
            "url": self.url,
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
            "response_chars": self.response_chars,
            "prompt": "lmmr1 JUDGE_PROMPT (docs/evaluation.md)",
        }


def judge_prompt(question: str, response: str, response_chars: int = JUDGE_RESPONSE_CHARS) -> str:
    """The fixed judge prompt for one (question, response) pair; the response is cut to its last characters.

    >>> judge_prompt("What is 1+1?", "It is 2.").splitlines()[-3:]
    ['Question: What is 1+1?', 'Response: It is 2.', 'Final answer:']
    """
    tail = response[-response_chars:] if len(response) > response_chars else response
    return f"{JUDGE_PROMPT}Question: {question.strip()}\nResponse: {tail.strip()}\nFinal answer:"


def parse_judge_reply(reply: str) -> str | None:
    """The answer in a judge's reply, or None when it says there is none.

    >>> parse_judge_reply("Final answer: 22.3\\n"), parse_judge_reply(" null "), parse_judge_reply("`C`")
    ('22.3', None, 'C')
    """
    lines = [line.strip() for line in reply.strip().splitlines() if line.strip()]
    if not lines:
        return None
    text = lines[0]
    for prefix in _PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :].strip()
    text = text.strip("`'\" ")
    return None if text.lower() in ("", "null", "none", "n/a") else text


def _post_json(url: str, payload: dict, timeout: float, api_key: str | None) -> dict:
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


class OpenAIJudge:
    """Chat completions from any OpenAI-compatible server (vLLM, SGLang, llama.cpp, a hosted API)."""

    def __init__(self, settings: JudgeSettings) -> None:
        base = (settings.url or "").rstrip("/")
        self.url = base if base.endswith("/chat/completions") else f"{base}/chat/completions"
        self.settings = settings
        self.api_key = next((os.environ[k] for k in API_KEY_ENVS if os.environ.get(k)), None)

    def complete(self, prompts: Sequence[str]) -> list[str]:
        if not prompts:
            return []
        with ThreadPoolExecutor(max_workers=min(self.settings.concurrency, len(prompts))) as pool:
            return list(pool.map(self._one, prompts))

    def _one(self, prompt: str) -> str:
        payload = {
            "model": self.settings.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": self.settings.max_tokens,
        }
        attempts = self.settings.retries + 1
        problem = "no attempt made"
        for attempt in range(attempts):
            if attempt:
                time.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
            try:
                data = _post_json(self.url, payload, self.settings.timeout, self.api_key)
                return str(data["choices"][0]["message"]["content"] or "")
            except urllib.error.HTTPError as exc:
                body = exc.read().decode("utf-8", "replace")[:200] if exc.fp else ""
                problem = f"HTTP {exc.code} {body}".strip()
                if exc.code != 429 and exc.code < 500:  # a bad request or model name will not heal on retry
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                problem = str(getattr(exc, "reason", exc))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                problem = f"not a chat completion ({type(exc).__name__}: {exc})"
        raise JudgeError(f"judge {self.url}: {problem} (after {attempt + 1} attempt(s))")


class LocalJudge:
    """A judge model loaded in this process through lmmr1's generation backends (`hf` or `vllm`), greedy."""

    def __init__(self, settings: JudgeSettings) -> None:
        from lmmr1_cli.evaluation.backends import make_backend

        self.settings = settings
        self.backend = make_backend(settings.backend, settings.model)

    def complete(self, prompts: Sequence[str]) -> list[str]:
        from lmmr1_cli.evaluation.backends import Prompt, SamplingSettings

        sampling = SamplingSettings(max_new_tokens=self.settings.max_tokens)
        size = self.settings.batch_size if self.settings.backend == "hf" else max(len(prompts), 1)
        replies: list[str] = []
        for start in range(0, len(prompts), size):
            batch = [
                Prompt([{"role": "user", "content": [{"type": "text", "text": p}]}])
                for p in prompts[start : start + size]
            ]
            replies += [gens[0].text for gens in self.backend.generate(batch, sampling)]
        return replies


def make_judge(settings: JudgeSettings) -> OpenAIJudge | LocalJudge:
    settings.check()
    return OpenAIJudge(settings) if settings.backend == "openai" else LocalJudge(settings)


def extract_answers(
    judge: OpenAIJudge | LocalJudge,
    questions: Sequence[str],
    responses: Sequence[str],
    response_chars: int = JUDGE_RESPONSE_CHARS,
) -> list[tuple[str | None, str]]:
    """(extracted answer or None, the judge's raw reply) per response. An empty response is not sent."""
    prompts = [judge_prompt(q, r, response_chars) for q, r in zip(questions, responses, strict=True)]
    todo = [i for i, r in enumerate(responses) if r.strip()]
    replies = judge.complete([prompts[i] for i in todo])
    out: list[tuple[str | None, str]] = [(None, "")] * len(responses)
    for i, reply in zip(todo, replies, strict=True):
        out[i] = (parse_judge_reply(reply), reply)
    return out


def score_extractions(rows: Sequence[dict], extracted: Sequence[str | None], timeout: float) -> list[dict]:
    """The rule verifier's verdict on each judge extraction (`judge_correct`, `judge_reason`); a missing
    extraction is wrong (`judge_no_answer`). The extraction is scored as the content of an answer span."""
    from lmmr1_cli.verify import VerifyItem, verify_batch

    items, where = [], []
    for i, (row, answer) in enumerate(zip(rows, extracted, strict=True)):
        if answer is not None:
            choices = tuple(str(c) for c in row["choices"]) if row.get("choices") else None
            items.append(
                VerifyItem(
                    f"<answer>{answer}</answer>",
                    str(row["answer"]),
                    row.get("answer_type") or "math",
                    choices,
                )
            )
            where.append(i)
    verdicts = verify_batch(items, timeout=timeout) if items else []
    out = [{"judge_correct": False, "judge_reason": "judge_no_answer"} for _ in rows]
    for i, verdict in zip(where, verdicts, strict=True):
        out[i] = {"judge_correct": bool(verdict.correct), "judge_reason": verdict.reason}
    return out
