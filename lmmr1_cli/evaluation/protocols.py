"""Evaluation protocols: per benchmark, the generation budget, sampling, image cap, prompt template, system-prompt
rule and scoring the paper used (`paper`), or lmmr1's own settings (`lmmr1`).

A benchmark is known by the data recipe it was prepared from (a prepared dir's manifest records the recipe name),
so `--benchmark mathverse-testmini` and `--benchmark data/my-mathverse-copy` get the same protocol.

The paper's settings come from its evaluation code, ForJadeForest/lmm-r1-eval (an lmms-eval fork):
- multimodal: `miscs/lmmr1/eval_mm_benchmark.sh` runs `--model vllm` with `system_prompt_type=r1` on
  mathverse_testmini, mathvision_test, mathvista_testmini_cot, mmstar (and olympiadbench_test_en);
  `lmms_eval/models/vllm.py` generates with `SamplingParams(temperature=0, max_tokens=4096)` and resizes each image
  with Qwen's smart_resize(max_pixels=1024*1024);
- text: `miscs/lmmr1/eval_text_benchmark.sh` runs LightEval on `custom|math_500|0|0,custom|gpqa:diamond|0|0` with
  `--use-chat-template` and `max_new_tokens:8192,temperature:0,top_p:1.0,repetition_penalty:1.05`, no system prompt.
The R1 system prompt is used for trained models and dropped for the base model (arXiv 2503.07536 v2, App. C.2).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from lmmr1_cli.defaults import EVAL_MAX_NEW_TOKENS
from lmmr1_cli.errors import ConfigError
from lmmr1_cli.prompts import R1_SYSTEM_PROMPT

PROTOCOLS = ("auto", "paper", "lmmr1")
SYSTEM_PROMPT_RULES = ("training", "r1-if-trained", "none", "sokoban")

# lmm-r1-eval lmms_eval/models/vllm.py, resize_image: smart_resize(height, width, max_pixels=1024*1024).
PAPER_MAX_PIXELS = 1024 * 1024
PAPER_MM_MAX_NEW_TOKENS = 4096  # vllm.py create_batch: SamplingParams(temperature=0, max_tokens=4096)
PAPER_TEXT_MAX_NEW_TOKENS = 8192  # eval_text_benchmark.sh generation_parameters max_new_tokens:8192
PAPER_TEXT_REPETITION_PENALTY = 1.05  # eval_text_benchmark.sh generation_parameters repetition_penalty:1.05
# The R1 prompt of the paper's evaluation (lmm-r1-eval vllm.py SYSTEM_PROMPT_R1) is the training prompt, one text.
R1_EVAL_SYSTEM_PROMPT = R1_SYSTEM_PROMPT


@dataclass(frozen=True)
class BenchmarkProtocol:
    """How one benchmark is evaluated; every field is recorded in summary.json."""

    protocol: str  # paper | lmmr1
    benchmark: str | None  # the data recipe the benchmark was prepared from (None: unknown origin)
    max_new_tokens: int
    temperature: float = 0.0  # 0 = greedy
    repetition_penalty: float = 1.0
    max_pixels: int | None = None  # None: the processor's default
    template: str = "plain"  # a key of evaluation/templates.py TEMPLATES
    system_prompt_rule: str = "training"  # training | r1-if-trained | none
    paper_scoring: str = "rule"  # how the paper scored (PAPER_SCORING); lmmr1 always scores by rule too
    aggregate: str = "micro"  # micro (over rows) | macro:<meta column> (mean of per-value accuracies)
    breakdown: tuple[str, ...] = ()  # meta columns reported per value
    geometry_subjects: bool = False  # also report the mean over `subject` values naming geometry (Table 2)
    source: str = ""  # where the values come from

    def to_dict(self) -> dict:
        data = asdict(self)
        data["breakdown"] = list(self.breakdown)
        return data


PAPER_SCORING = {
    "judge-extract+judge-match": "LLM judge extracts the answer, then the judge decides it matches (MathVerse)",
    "judge-extract+rule": "LLM judge extracts the answer, then a rule matches it (MathVista, MathVision)",
    "judge-letter": "LLM judge picks the option letter the response chose (MMStar)",
    "rule": "rule only: math-verify (LightEval) or OlympiadBench's judge on the text after 'final answer is'",
    "sokoban-standin": "plan played on gym-sokoban rules: solved rate and mean return (not Table 3's levels)",
}

# Breakdown columns per benchmark (meta columns its data recipe keeps), under both protocols.
BREAKDOWNS: dict[str, tuple[str, ...]] = {
    "mathverse-testmini": ("problem_version",),
    "mathvision": ("subject",),
    "mathvista-testmini": ("question_type",),
    "mmstar": ("category",),
    "olympiadbench": ("source",),
    "math500": ("subject",),
    "gpqa-diamond": ("High-level domain",),
}

_MM = {
    "max_new_tokens": PAPER_MM_MAX_NEW_TOKENS,
    "max_pixels": PAPER_MAX_PIXELS,
    "system_prompt_rule": "r1-if-trained",
}
_TEXT = {
    "max_new_tokens": PAPER_TEXT_MAX_NEW_TOKENS,
    "repetition_penalty": PAPER_TEXT_REPETITION_PENALTY,
    "system_prompt_rule": "none",
}
_MM_SOURCE = "lmm-r1-eval miscs/lmmr1/eval_mm_benchmark.sh + lmms_eval/models/vllm.py"
_TEXT_SOURCE = "lmm-r1-eval miscs/lmmr1/eval_text_benchmark.sh + evaluate_text.py (LightEval)"

PAPER: dict[str, dict] = {
    "mathverse-testmini": {
        **_MM,
        "template": "plain",  # the recipe stores `query_wo` (tasks/mathverse: format-prompt, query_type query_wo)
        "paper_scoring": "judge-extract+judge-match",
        "source": f"{_MM_SOURCE} + tasks/mathverse/mathverse_testmini.yaml",
    },
    "mathvision": {
        **_MM,
        "template": "mathvision-step-by-step",
        "paper_scoring": "judge-extract+rule",
        "geometry_subjects": True,
        "source": f"{_MM_SOURCE} + tasks/mathvision/mathvision_test.yaml",
    },
    "mathvista-testmini": {
        **_MM,
        "template": "mathvista-step-by-step",
        "paper_scoring": "judge-extract+rule",
        "source": f"{_MM_SOURCE} + tasks/mathvista/mathvista_testmini_cot.yaml",
    },
    "mmstar": {
        **_MM,
        "template": "mmstar-letter",
        "paper_scoring": "judge-letter",
        "aggregate": "macro:l2_category",  # tasks/mmstar/utils.py: mean of the l2_category accuracies
        "source": f"{_MM_SOURCE} + tasks/mmstar/mmstar.yaml",
    },
    "olympiadbench": {
        **_MM,
        "template": "olympiadbench-en",
        "paper_scoring": "rule",
        "source": f"{_MM_SOURCE} + tasks/olympiadbench/olympiadbench_test_en.yaml",
    },
    "math500": {**_TEXT, "template": "lighteval-math", "source": f"{_TEXT_SOURCE} math_500"},
    "gpqa-diamond": {**_TEXT, "template": "lighteval-gpqa", "source": f"{_TEXT_SOURCE} gpqa:diamond"},
    # Table 3's Sokoban-Global (MageBench) is not available; this stand-in plays lmmr1's own fixed-seed levels
    # with the official Sokoban system prompt and the multimodal budget (evaluation/sokoban_eval.py).
    "sokoban-eval": {
        **_MM,
        "system_prompt_rule": "sokoban",
        "template": "plain",
        "paper_scoring": "sokoban-standin",
        "source": "stand-in for MageBench Sokoban-Global: train_sokoban.sh system prompt, gym-sokoban rules",
    },
}


def paper_benchmarks() -> list[str]:
    """Data recipe names with a paper protocol (Table 1's seven benchmarks and the Sokoban stand-in)."""
    return sorted(PAPER)


def resolve_protocol(name: str, benchmark: str | None) -> BenchmarkProtocol:
    """The protocol `name` (auto | paper | lmmr1) for a benchmark prepared from data recipe `benchmark`.

    `auto` is `paper` for the paper's benchmarks and `lmmr1` for everything else (synthetic data, own sets).

    >>> resolve_protocol("paper", "math500").max_new_tokens
    8192
    >>> resolve_protocol("auto", "synthetic-arith").protocol
    'lmmr1'
    """
    if name not in PROTOCOLS:
        raise ConfigError(f"--protocol {name!r} unknown; expected one of {PROTOCOLS}")
    if name == "auto":
        name = "paper" if benchmark in PAPER else "lmmr1"
    breakdown = BREAKDOWNS.get(benchmark or "", ())
    if name == "paper":
        if benchmark not in PAPER:
            raise ConfigError(
                f"benchmark {benchmark or '(unknown origin)'!r} has no paper protocol; the paper reports "
                f"{', '.join(paper_benchmarks())}. Use --protocol lmmr1 for it"
            )
        return BenchmarkProtocol(
            protocol="paper", benchmark=benchmark, breakdown=breakdown, **PAPER[benchmark]
        )
    return BenchmarkProtocol(
        protocol="lmmr1",
        benchmark=benchmark,
        max_new_tokens=EVAL_MAX_NEW_TOKENS,
        breakdown=breakdown,
        source="lmmr1 defaults: the training prompt and system prompt, greedy",
    )


def with_overrides(protocol: BenchmarkProtocol, **values) -> tuple[BenchmarkProtocol, list[str]]:
    """The protocol with explicit CLI values (None = not given) applied, and the names that changed it."""
    given = {k: v for k, v in values.items() if v is not None}
    changed = sorted(k for k, v in given.items() if getattr(protocol, k) != v)
    return replace(protocol, **given), changed


# ---- which system prompt a model gets -------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelProvenance:
    """Whether a model reference is an RL-trained model (a run, checkpoint or export of one, or a released LMM-R1
    model) or a base model, the recipe that trained it if known, and the evidence."""

    trained: bool
    recipe: str | None = None
    evidence: str = ""
    extra: dict = field(default_factory=dict)


_RELEASED = re.compile(r"(?:^|/)LMM-R1-(?P<stage>[A-Za-z0-9-]+)$", re.IGNORECASE)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_provenance(ref: str, _depth: int = 0) -> ModelProvenance:
    """Trained or base, from the files lmmr1 writes: `run.json` in a run dir (also above `final/` and
    `checkpoints/checkpoint-N`), `export.json` in an export (followed to its source run). The paper's released
    models (`VLM-Reasoner/LMM-R1-MGT-PerceReason`, ...) count as trained; every other HF id, the tiny model and
    a bare model dir count as base models."""
    if ref == "tiny":
        return ModelProvenance(False, None, "the embedded tiny model (untrained base)")
    if ref.endswith("@best"):  # RUN@best: RUN/best/, whose run.json is one level up
        from lmmr1_cli.modeling import best_model_dir

        ref = str(best_model_dir(ref))
    path = Path(ref).expanduser()
    if path.exists() and _depth < 3:
        path = path.resolve()
        for candidate in (path, path.parent, path.parent.parent):
            run = candidate / "run.json"
            if run.is_file():
                recipe = _read_json(run).get("recipe")
                return ModelProvenance(True, recipe if isinstance(recipe, str) else None, f"{run}")
        export = path / "export.json"
        if export.is_file():
            source = _read_json(export).get("source")
            if isinstance(source, str) and source:
                found = model_provenance(source, _depth + 1)
                if found.trained:
                    return replace(found, evidence=f"{export} -> {found.evidence}")
        return ModelProvenance(
            False, None, f"{path}: no run.json or export.json of a trained run (base model)"
        )
    match = _RELEASED.search(ref)
    if match:
        return ModelProvenance(True, match.group("stage").lower(), f"{ref}: a released LMM-R1 model")
    return ModelProvenance(False, None, f"{ref}: a base model id")


def system_prompt_for(rule: str, provenance: ModelProvenance) -> str | None:
    """The system prompt a model gets under `rule`: lmmr1's training-default prompt, the paper's R1 prompt
    (`SYSTEM_PROMPT_R1` of lmm-r1-eval's vllm.py, = prompts.R1_SYSTEM_PROMPT) for trained models only (the base
    model is evaluated without it, App. C.2), or none."""
    from lmmr1_cli.prompts import SYSTEM_PROMPT

    if rule == "training":
        return SYSTEM_PROMPT
    if rule == "r1-if-trained":
        return R1_SYSTEM_PROMPT if provenance.trained else None
    if rule == "none":
        return None
    if rule == "sokoban":
        from lmmr1_cli.data.synthetic.sokoban import SYSTEM_PROMPT as SOKOBAN_SYSTEM_PROMPT

        return SOKOBAN_SYSTEM_PROMPT
    raise ConfigError(f"system-prompt rule {rule!r} unknown; expected one of {SYSTEM_PROMPT_RULES}")


def benchmark_identity(dataset_dir: Path) -> str | None:
    """The data recipe a prepared dataset dir came from (its manifest's `recipe`), or None."""
    recipe = _read_json(Path(dataset_dir) / "manifest.json").get("recipe")
    return recipe if isinstance(recipe, str) else None
