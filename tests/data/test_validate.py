"""Row checks: gold parse, placeholder count, prompt length measured with the real processor."""

from __future__ import annotations

import pytest
from data_fixtures import png_bytes
from PIL import Image

from lmmr1_cli.data.validate import PromptMeter, RowDropped, check_gold, check_placeholders, dedupe_key
from lmmr1_cli.modeling import load_processor
from lmmr1_cli.prompts import build_conversation


@pytest.fixture(scope="module")
def processor():
    return load_processor("tiny")


@pytest.mark.parametrize(
    ("gold", "answer_type", "choices"),
    [("", "math", None), ("Z", "choice", ["a", "b"]), ("#####\n#  #", "sokoban", None)],
)
def test_unparseable_gold_is_dropped_with_reason(gold, answer_type, choices):
    with pytest.raises(RowDropped) as info:
        check_gold(gold, answer_type, choices)
    assert info.value.reason == "gold_unparseable"


@pytest.mark.parametrize(
    ("gold", "answer_type"), [("$\\boxed{60}$", "math"), ("60^\\circ", "geometry"), ("B", "choice")]
)
def test_parseable_gold_passes(gold, answer_type):
    check_gold(gold, answer_type, None)


def test_placeholder_mismatch_is_dropped():
    check_placeholders(None, 3)
    check_placeholders(2, 2)
    with pytest.raises(RowDropped) as info:
        check_placeholders(1, 2)
    assert info.value.reason == "image_count_mismatch"


def test_dedupe_key_ignores_whitespace_but_not_images():
    assert dedupe_key("What is  2+2?", ["a.png"]) == dedupe_key("What is 2+2? ", ["a.png"])
    assert dedupe_key("What is 2+2?", ["a.png"]) != dedupe_key("What is 2+2?", ["b.png"])


@pytest.mark.parametrize("sizes", [[], [(112, 84)], [(56, 56), (112, 112)]])
def test_prompt_meter_counts_exactly_what_the_processor_produces(processor, sizes):
    meter = PromptMeter(processor)
    problem = "Find x in the figure."
    images = [Image.new("RGB", size, (5, 5, 5)) for size in sizes]
    text = processor.apply_chat_template(
        build_conversation(problem, len(images)), tokenize=False, add_generation_prompt=True
    )
    real = processor(text=[text], images=images or None, return_tensors="pt")["input_ids"].shape[1]
    assert meter.count(problem, sizes) == real


def test_prompt_longer_than_the_limit_is_dropped(processor):
    meter = PromptMeter(processor)
    n = meter.count("short", [(112, 112)])
    meter.check("short", [(112, 112)], n)
    with pytest.raises(RowDropped) as info:
        meter.check("short", [(112, 112)], n - 1)
    assert info.value.reason == "prompt_too_long"


def test_png_helper_is_a_real_png():
    assert png_bytes()[:4] == b"\x89PNG"
