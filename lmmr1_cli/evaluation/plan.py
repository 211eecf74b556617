"""Per benchmark, what `lmmr1 eval` will do: the protocol chosen from the benchmark's identity with the user's
explicit values on top, the sampling settings, the system prompt a given model gets, the prompt of a row, what
the samples depend on (the resume fingerprint), and the per-benchmark extras of the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmmr1_cli.evaluation.backends import Prompt, SamplingSettings
from lmmr1_cli.evaluation.benchmarks import Benchmark
from lmmr1_cli.evaluation.protocols import (
    PAPER_MAX_PIXELS,
    PAPER_SCORING,
    BenchmarkProtocol,
    ModelProvenance,
    resolve_protocol,
    system_prompt_for,
    with_overrides,
)


@dataclass(frozen=True)
class BenchmarkPlan:
    benchmark: Benchmark
    protocol: BenchmarkProtocol
    overrides: list[str] = field(default_factory=list)  # protocol values the user's flags replaced
    notes: list[str] = field(default_factory=list)  # where this run differs from the paper's evaluation

    def describe(self) -> dict:
        """summary.json's entry for the benchmark: name, path, identity and every resolved setting."""
        return {
            "name": self.benchmark.name,
            "path": str(self.benchmark.path),
            "identity": self.benchmark.identity,
            "protocol": self.protocol.to_dict(),
            "overrides": self.overrides,
            "notes": self.notes,
        }


def plan_benchmark(benchmark: Benchmark, settings, judge: bool) -> BenchmarkPlan:
    """The protocol `settings.protocol` for `benchmark`, with the explicit values of `settings` applied."""
    protocol, overrides = with_overrides(
        resolve_protocol(settings.protocol, benchmark.identity),
        max_new_tokens=settings.max_new_tokens,
        repetition_penalty=settings.repetition_penalty,
        max_pixels=settings.max_pixels,
        temperature=settings.temperature,
    )
    notes = _paper_notes(benchmark, protocol, judge) if protocol.protocol == "paper" else []
    return BenchmarkPlan(benchmark, protocol, overrides, notes)


def _paper_notes(benchmark: Benchmark, protocol: BenchmarkProtocol, judge: bool) -> list[str]:
    import json

    notes = []
    if protocol.paper_scoring.startswith("judge") and not judge:
        notes.append(
            f"the paper scored with an LLM judge ({PAPER_SCORING[protocol.paper_scoring]}); add --judge"
        )
    try:
        manifest = json.loads((Path(benchmark.path) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return notes
    stored = (manifest.get("pixel_bounds") or {}).get("max_pixels")
    if (
        protocol.max_pixels
        and isinstance(stored, int)
        and stored < PAPER_MAX_PIXELS
        and (manifest.get("counts") or {}).get("images")
    ):
        notes.append(
            f"images were stored at <= {stored} px; the paper used up to {PAPER_MAX_PIXELS}: prepare it "
            "again at source resolution (no --max-pixels) or with --max-pixels 1048576"
        )
    too_long = (manifest.get("drops") or {}).get("too_long")
    if too_long:
        notes.append(f"prepare-data dropped {too_long} row(s) as too long; the paper kept every row")
    return notes


def sampling_for(plan: BenchmarkPlan, settings) -> SamplingSettings:
    p = plan.protocol
    return SamplingSettings(
        max_new_tokens=p.max_new_tokens,
        samples=settings.samples,
        temperature=p.temperature,
        top_p=settings.top_p,
        seed=settings.seed,
        repetition_penalty=p.repetition_penalty,
    )


def system_prompt(plan: BenchmarkPlan, explicit: str | None, provenance: ModelProvenance) -> str | None:
    """`--system-prompt` when given (r1 | tiny | none | text), else the protocol's rule for this model."""
    if explicit is not None:
        from lmmr1_cli.prompts import resolve_system_prompt

        return resolve_system_prompt(explicit)
    return system_prompt_for(plan.protocol.system_prompt_rule, provenance)


def build_prompt(plan: BenchmarkPlan, row: dict, system: str | None) -> tuple[Prompt, str]:
    """The model's prompt for `row` and its user text (which the judge is shown as the question)."""
    from lmmr1_cli.data.dataset import image_paths
    from lmmr1_cli.evaluation.templates import render
    from lmmr1_cli.prompts import build_conversation

    paths = [str(p) for p in image_paths(plan.benchmark.path, row)]
    text = render(plan.protocol.template, row)
    return Prompt(build_conversation(text, len(paths), system), paths), text


def backend_max_pixels(plans: list[BenchmarkPlan], explicit: int | None) -> int | None:
    """The image cap a model's processor is loaded with: the user's, else the largest any protocol asks for."""
    if explicit is not None:
        return explicit
    caps = [p.protocol.max_pixels for p in plans if p.protocol.max_pixels]
    return max(caps) if caps else None


def fingerprint(plan: BenchmarkPlan, settings, resolved_model: str, system: str | None, judge) -> dict:
    """What a (model, benchmark)'s samples depend on: a re-run with the same one resumes, another refuses."""
    p = plan.protocol
    return {
        "model": resolved_model,
        "benchmark": str(Path(plan.benchmark.path).resolve()),
        "backend": settings.backend,
        "protocol": p.protocol,
        "template": p.template,
        "max_new_tokens": p.max_new_tokens,
        "repetition_penalty": p.repetition_penalty,
        "samples": settings.samples,
        "temperature": p.temperature,
        "top_p": settings.top_p,
        "seed": settings.seed,
        "system_prompt": system,
        "dtype": settings.dtype,
        "min_pixels": settings.min_pixels,
        "max_pixels": p.max_pixels,
        "judge": judge.describe() if judge is not None else None,
    }


def benchmark_extras(
    plan: BenchmarkPlan,
    records: list[dict],
    rows: list[dict],
    samples: int,
    provenance: ModelProvenance,
    system: str | None,
) -> dict:
    """What a per-benchmark result carries beyond accuracy: judge accuracy and agreement, the breakdown, the
    paper's own aggregate, the Sokoban return, the settings used (system prompt included) and the paper's
    numbers for this benchmark (base model, and the recipe that trained this model)."""
    from lmmr1_cli.evaluation.breakdown import breakdown, judge_summary, paper_metrics
    from lmmr1_cli.evaluation.paper_results import paper_reference
    from lmmr1_cli.evaluation.sokoban_eval import sokoban_summary

    rows_by_id = {str(r["id"]): r for r in rows}
    extras: dict = {**judge_summary(records, samples), **sokoban_summary(records)}
    extras["breakdown"] = {
        column: breakdown(records, rows_by_id, column, samples) for column in plan.protocol.breakdown
    }
    metrics = paper_metrics(plan.protocol, records, rows_by_id, samples)
    if metrics:
        extras["paper_metrics"] = metrics
    extras["settings"] = {
        "protocol": plan.protocol.protocol,
        "max_new_tokens": plan.protocol.max_new_tokens,
        "template": plan.protocol.template,
        "system_prompt": system,
        "system_prompt_rule": plan.protocol.system_prompt_rule,
        "trained_model": provenance.trained,
        "model_evidence": provenance.evidence,
    }
    if plan.protocol.protocol == "paper" and plan.benchmark.identity:
        extras["paper"] = paper_reference(plan.benchmark.identity, provenance.recipe)
        if "geometry" in extras.get("paper_metrics", {}):
            extras["paper_metrics"]["geometry"]["paper"] = paper_reference(
                f"{plan.benchmark.identity}:geometry", provenance.recipe
            )
    return extras
