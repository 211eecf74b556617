"""Evaluation protocols: the paper's per-benchmark settings, prompt templates, the system-prompt rule, the paper's
numbers, and benchmark recipes run on local copies in each source's real schema."""

from __future__ import annotations

import json

import pytest
from benchmark_sources import BUILDERS, MATHVERSE_VERSIONS
from conftest import run_lmmr1

from lmmr1_cli.data.dataset import load_manifest, load_rows
from lmmr1_cli.errors import ConfigError, DataError
from lmmr1_cli.evaluation.paper_results import paper_reference, paper_results
from lmmr1_cli.evaluation.protocols import (
    PAPER,
    PAPER_MAX_PIXELS,
    benchmark_identity,
    model_provenance,
    resolve_protocol,
    system_prompt_for,
    with_overrides,
)
from lmmr1_cli.evaluation.templates import render
from lmmr1_cli.prompts import R1_SYSTEM_PROMPT, SYSTEM_PROMPT

MULTIMODAL = ("mathverse-testmini", "mathvision", "mathvista-testmini", "mmstar", "olympiadbench")
TEXT = ("math500", "gpqa-diamond")


@pytest.mark.parametrize("name", MULTIMODAL)
def test_multimodal_paper_protocol_is_greedy_4096_tokens_images_capped_r1_prompt_for_trained(name):
    p = resolve_protocol("paper", name)
    assert (p.protocol, p.max_new_tokens, p.temperature, p.repetition_penalty) == ("paper", 4096, 0.0, 1.0)
    assert p.max_pixels == PAPER_MAX_PIXELS == 1024 * 1024
    assert p.system_prompt_rule == "r1-if-trained" and "lmm-r1-eval" in p.source


@pytest.mark.parametrize("name", TEXT)
def test_text_paper_protocol_is_lighteval_greedy_8192_tokens_repetition_penalty_no_system_prompt(name):
    p = resolve_protocol("paper", name)
    assert (p.max_new_tokens, p.temperature, p.repetition_penalty, p.max_pixels) == (8192, 0.0, 1.05, None)
    assert p.system_prompt_rule == "none" and p.template.startswith("lighteval-")


def test_auto_protocol_is_the_papers_for_its_benchmarks_and_lmmr1s_for_the_rest():
    assert resolve_protocol("auto", "mathvista-testmini").protocol == "paper"
    lmmr1 = resolve_protocol("auto", "synthetic-arith")
    assert (lmmr1.protocol, lmmr1.max_new_tokens, lmmr1.template, lmmr1.system_prompt_rule) == (
        "lmmr1",
        512,
        "plain",
        "training",
    )
    assert resolve_protocol("lmmr1", "mathverse-testmini").breakdown == ("problem_version",)


def test_paper_protocol_for_a_benchmark_the_paper_does_not_report_is_refused():
    with pytest.raises(ConfigError, match="no paper protocol.*--protocol lmmr1"):
        resolve_protocol("paper", "synthetic-geo")
    with pytest.raises(ConfigError, match="unknown"):
        resolve_protocol("papr", "math500")


def test_explicit_values_override_the_protocol_and_are_named():
    p, changed = with_overrides(resolve_protocol("paper", "math500"), max_new_tokens=64, temperature=None)
    assert p.max_new_tokens == 64 and p.repetition_penalty == 1.05 and changed == ["max_new_tokens"]


def test_paper_protocol_gives_trained_models_the_eval_r1_prompt_and_the_base_model_none(tmp_path):
    run = tmp_path / "runs" / "mgt"
    (run / "final").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"recipe": "mgt-geo"}))
    trained = model_provenance(str(run / "final"))
    assert trained.trained and trained.recipe == "mgt-geo"
    assert system_prompt_for("r1-if-trained", trained) == R1_SYSTEM_PROMPT
    base = model_provenance("Qwen/Qwen2.5-VL-3B-Instruct")
    assert not base.trained and system_prompt_for("r1-if-trained", base) is None
    assert system_prompt_for("training", base) == SYSTEM_PROMPT
    assert system_prompt_for("none", trained) is None
    assert "$...$" in R1_SYSTEM_PROMPT and R1_SYSTEM_PROMPT != SYSTEM_PROMPT


def test_provenance_follows_checkpoints_exports_and_released_model_ids(tmp_path):
    run = tmp_path / "fre"
    (run / "checkpoints" / "checkpoint-20").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"recipe": "fre-text"}))
    assert model_provenance(str(run / "checkpoints" / "checkpoint-20")).recipe == "fre-text"
    export = tmp_path / "exported"
    export.mkdir()
    (export / "export.json").write_text(json.dumps({"source": str(run / "checkpoints" / "checkpoint-20")}))
    assert model_provenance(str(export)).trained
    bare = tmp_path / "someone-elses-model"
    bare.mkdir()
    assert not model_provenance(str(bare)).trained
    released = model_provenance("VLM-Reasoner/LMM-R1-MGT-PerceReason")
    assert released.trained and released.recipe == "mgt-percereason"
    assert not model_provenance("tiny").trained


def test_lighteval_templates_match_the_papers_text_prompts():
    math = render("lighteval-math", {"problem": "Compute $1+1$."})
    assert math.startswith("Solve the following math problem efficiently and clearly.  The last line")
    assert "'Therefore, the final answer is: $\\boxed{ANSWER}$. I hope it is correct'" in math
    assert math.endswith("\n\nCompute $1+1$.")
    gpqa = render("lighteval-gpqa", {"problem": " Q? ", "choices": ["w", "x", "y", "z"]})
    assert gpqa.endswith("\n\nQ?\n\nA) w\nB) x\nC) y\nD) z") and "'Answer: $LETTER'" in gpqa
    with pytest.raises(DataError, match="4 options"):
        render("lighteval-gpqa", {"id": "r", "problem": "Q", "choices": ["a", "b"]})


def test_mathvista_step_by_step_prompt_puts_unit_choices_then_the_hint_for_the_answer_type():
    choice = {"problem": "Which?", "choices": ["AB", "BC"], "answer_type": "choice", "meta": {}}
    assert render("mathvista-step-by-step", choice) == (
        "Question: Which?\nChoices:\n(A) AB\n(B) BC\n"
        "Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the end."
    )
    integer = {
        "problem": "How many?",
        "answer_type": "math",
        "meta": {"answer_type": "integer", "unit": "cubes"},
    }
    text = render("mathvista-step-by-step", integer)
    assert text.startswith("Question: How many? (Unit: cubes)\nHint: ") and "integer answer" in text
    two = {"problem": "Slope?", "answer_type": "math", "meta": {"answer_type": "float", "precision": 2.0}}
    assert "two decimal places" in render("mathvista-step-by-step", two)


def test_mathvision_prompt_drops_image_tags_and_picks_the_hint_from_the_gold():
    row = {"problem": "In the triangle <image1> angle A is 50.", "answer": "65", "choices": None}
    assert render("mathvision-step-by-step", row) == (
        "Question: In the triangle angle A is 50.\n"
        "Hint: Please answer the question requiring an integer answer and provide the final value, "
        "e.g., 1, 2, 3, at the end."
    )
    assert "latex expression" in render("mathvision-step-by-step", {**row, "answer": "\\frac{1}{2}"})


def test_mmstar_and_olympiadbench_prompts_follow_the_eval_tasks():
    assert render("mmstar-letter", {"problem": "Which? Please answer yes or no."}) == (
        "Which?\nAnswer with the option's letter from the given choices directly"
    )
    row = {"problem": "Find $n$.", "meta": {"subfield": "Geometry", "answer_type": "Numerical"}}
    text = render("olympiadbench-en", row)
    assert text.startswith(
        "The following is a question from an International Geometry competition.\nFind $n$.\n"
    )
    assert "The answer of the question should be Numerical." in text
    assert text.endswith('"So the final answer is \\boxed{answer}."\n')


def test_paper_numbers_cover_every_protocol_benchmark_and_cite_their_table():
    table1 = paper_results()["tables"]["table1"]["results"]
    for recipe, numbers in table1.items():
        assert set(numbers) == set(PAPER) - {"sokoban-eval"}, recipe
        assert all(0 < v < 100 for v in numbers.values())
    ref = paper_reference("mathverse-testmini", "mgt-geo")
    assert ref["baseline"] == table1["baseline"]["mathverse-testmini"]
    assert ref["recipe_result"] == table1["mgt-geo"]["mathverse-testmini"] and ref["table"] == "table1"
    assert paper_reference("mathvision", "tiny-fre")["recipe_result"] is None
    assert paper_reference("synthetic-arith") is None


# recipe -> (rows kept from its local copy, breakdown column, its values in the prepared rows)
PREPARED = {
    "mathverse-testmini": (6, "problem_version", set(MATHVERSE_VERSIONS)),
    "mathvision": (3, "subject", {"metric geometry - area", "metric geometry - angle", "algebra"}),
    "mathvista-testmini": (3, "question_type", {"multi_choice", "free_form"}),
    "mmstar": (3, "category", {"coarse perception", "fine-grained perception", "math"}),
    "olympiadbench": (3, "source", {"OE_MM_maths_en_COMP", "OE_TO_physics_en_COMP", "OE_TO_maths_en_COMP"}),
    "math500": (2, "subject", {"Counting & Probability", "Algebra"}),
    "gpqa-diamond": (3, "High-level domain", {"Physics", "Biology"}),
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """`lmmr1 prepare-data NAME --source LOCAL_COPY -o DIR`, as a user types it, once per benchmark."""
    root = tmp_path_factory.mktemp("benchmarks")
    done: dict[str, object] = {}

    def get(name: str):
        if name not in done:
            out = root / name
            result = run_lmmr1("prepare-data", name, "--source", BUILDERS[name](root), "-o", out)
            done[name] = out
            assert result.returncode == 0, result.stderr
            assert f"wrote {out}" in result.stdout  # the human-readable summary
        return done[name]

    return get


@pytest.mark.parametrize("name", sorted(PREPARED))
def test_benchmark_recipe_prepares_a_local_copy_with_its_breakdown_and_keeps_its_identity(name, prepared):
    kept, column, values = PREPARED[name]
    out = prepared(name)
    rows = load_rows(out)
    assert load_manifest(out)["counts"]["kept"] == kept and len(rows) == kept
    assert {r["meta"][column] for r in rows} == values
    assert benchmark_identity(out) == name
    protocol = resolve_protocol("auto", benchmark_identity(out))
    assert protocol.protocol == "paper" and column in protocol.breakdown
    for row in rows:  # every paper prompt renders from what prepare-data stored
        assert render(protocol.template, row).strip()


def test_mathverse_copy_keeps_all_five_versions_with_their_query_wo_prompts(prepared):
    rows = load_rows(prepared("mathverse-testmini"))
    assert [r["problem"].split("]")[0][1:] for r in rows[:5]] == list(MATHVERSE_VERSIONS)
    assert [r["answer_type"] for r in rows] == ["choice"] * 5 + ["math"]


def test_mathvista_copy_renders_the_papers_prompt_from_kept_columns(prepared):
    rows = load_rows(prepared("mathvista-testmini"))
    assert rows[0]["answer"] == "B" and rows[0]["choices"] == ["AB", "BC", "CA"]
    prompts = [render("mathvista-step-by-step", r) for r in rows]
    assert "Choices:\n(A) AB\n(B) BC\n(C) CA" in prompts[0]
    assert (
        prompts[1].startswith("Question: How many cubes are there? (Unit: cubes)") and "integer" in prompts[1]
    )
    assert "two decimal places" in prompts[2]


def test_olympiadbench_drops_theorem_proving_rows_and_keeps_multi_answer_ones(prepared):
    out = prepared("olympiadbench")
    manifest, rows = load_manifest(out), load_rows(out)
    assert manifest["drops"] == {"missing_answer": 1}
    assert [r["answer"] for r in rows] == ["$6$", "$2$", "$(1,2),(2,1)$"]
    assert [len(r["images"]) for r in rows] == [1, 0, 0]
    assert "multiple answers" in render("olympiadbench-en", rows[2])


def test_paper_protocol_scores_the_free_text_answers_its_prompts_ask_for():
    from lmmr1_cli.evaluation.scoring import score_generations

    rows = [
        {"answer": "70", "answer_type": "math", "choices": None},
        {"answer": "B", "answer_type": "choice", "choices": ["w", "x", "y", "z"]},
        {"answer": "3", "answer_type": "math", "choices": None},
    ]
    completions = [
        ["Therefore, the final answer is: $\\boxed{70}$. I hope it is correct"],  # LightEval MATH500
        ["B is right because ...\nAnswer: B"],  # LightEval GPQA
        ["<think>2+1</think><answer>3</answer> but maybe \\boxed{4}"],  # tags win over free text
    ]
    paper = score_generations(rows, completions, timeout=3.0, free_text=True)
    assert [scored[0][0].correct for scored in paper] == [True, True, True]
    assert [scored[0][1] for scored in paper] == [False, False, False]  # format rate: the completion's own
    rule = score_generations(rows, completions, timeout=3.0)
    assert [scored[0][0].correct for scored in rule] == [False, False, True]  # lmmr1: the answer span only
