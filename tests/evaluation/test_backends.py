"""Generation backends of `lmmr1_cli/evaluation/backends.py` on the real tiny Qwen2.5-VL."""

from __future__ import annotations

import pytest

from lmmr1_cli.data.dataset import image_paths, load_rows
from lmmr1_cli.errors import EnvironmentMissingError
from lmmr1_cli.evaluation.backends import HFBackend, Prompt, SamplingSettings
from lmmr1_cli.prompts import build_conversation
from lmmr1_cli.vllm_engine import VLLMBackend


@pytest.fixture(scope="module")
def backend() -> HFBackend:
    return HFBackend("tiny")


def _prompts(dataset, count):
    prompts = []
    for row in load_rows(dataset, limit=count):
        paths = [str(p) for p in image_paths(dataset, row)]
        prompts.append(Prompt(build_conversation(row["problem"], len(paths)), paths))
    return prompts


def test_batched_greedy_equals_one_prompt_at_a_time(backend, eval_arith, eval_geo):
    # Mixed lengths and a mix of text-only and image prompts: left padding must not change any answer.
    prompts = _prompts(eval_arith, 3) + _prompts(eval_geo, 3)
    settings = SamplingSettings(max_new_tokens=20)
    batched = [gens[0].token_ids for gens in backend.generate(prompts, settings)]
    single = [backend.generate([p], settings)[0][0].token_ids for p in prompts]
    assert batched == single
    assert all(0 < len(ids) <= 20 for ids in batched)


def test_token_counts_stop_at_end_of_sequence_and_text_keeps_the_reasoning_tags(backend, eval_arith):
    gens = backend.generate(_prompts(eval_arith, 4), SamplingSettings(max_new_tokens=64))
    for (gen,) in gens:
        assert gen.tokens == len(gen.token_ids)
        ended = gen.token_ids[-1] in backend.eos_ids
        assert ended or gen.tokens == 64
        assert backend.tokenizer.pad_token_id not in gen.token_ids[:-1]
    # The tiny model was warmed up on the format; its tags are plain tokens that decoding keeps.
    assert any("<answer>" in g.text for (g,) in gens)


def test_sampling_returns_k_completions_per_prompt_reproducibly(backend, eval_arith):
    prompts = _prompts(eval_arith, 2)
    settings = SamplingSettings(max_new_tokens=12, samples=3, temperature=1.0, seed=7)
    first = backend.generate(prompts, settings)
    assert [len(g) for g in first] == [3, 3]
    again = backend.generate(prompts, settings)
    assert [[g.token_ids for g in gens] for gens in first] == [[g.token_ids for g in gens] for gens in again]


def test_vllm_backend_without_vllm_is_a_clear_environment_error():
    # .venv never has vLLM (it lives in its own venv for `make test-vllm`).
    with pytest.raises(EnvironmentMissingError, match="make setup-vllm"):
        VLLMBackend("tiny")
