"""`evaluate`: models x benchmarks -> per-sample JSONL, summary.json, a comparison table."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from lmmr1_cli.atomic import write_json_atomic, write_text_atomic
from lmmr1_cli.data.dataset import load_rows
from lmmr1_cli.defaults import EVAL_BATCH_SIZE, VERIFY_TIMEOUT_SECONDS
from lmmr1_cli.errors import ConfigError, OutputExistsError
from lmmr1_cli.evaluation import plan as planning
from lmmr1_cli.evaluation.backends import BACKENDS, make_backend
from lmmr1_cli.evaluation.benchmarks import resolve_benchmark
from lmmr1_cli.evaluation.comparison import comparison_markdown
from lmmr1_cli.evaluation.judge import JudgeSettings, extract_answers, make_judge, score_extractions
from lmmr1_cli.evaluation.protocols import PROTOCOLS, model_provenance
from lmmr1_cli.evaluation.samples import SampleStore
from lmmr1_cli.evaluation.scoring import score_generations, summarize_records
from lmmr1_cli.modeling import DTYPES, TINY, resolve_model
from lmmr1_cli.rundir import BEST_SUFFIX, CHECKPOINT_PREFIX, CHECKPOINTS_DIR, FINAL_DIR, SUMMARY_FILE
from lmmr1_cli.train_data import check_images_present

COMPARISON_FILE = "comparison.md"
Progress = Callable[[dict], None]


@dataclass
class EvalSettings:
    """Everything `lmmr1 eval` can set; defaults are the CLI's. `None` means "the protocol's value" (see
    evaluation/protocols.py: greedy, 512 tokens and the training system prompt under `lmmr1`; the paper's
    per-benchmark settings under `paper`); a value given here overrides the protocol."""

    backend: str = "hf"
    protocol: str = "auto"  # auto (paper for the paper's benchmarks, else lmmr1) | paper | lmmr1
    max_new_tokens: int | None = None
    samples: int = 1
    temperature: float = 0.0  # greedy; --samples k > 1 needs a temperature > 0
    top_p: float = 1.0
    seed: int = 0
    repetition_penalty: float | None = None
    batch_size: int = EVAL_BATCH_SIZE
    limit: int | None = None
    system_prompt: str | None = None  # r1 | tiny | none | any text; None: the protocol's rule
    dtype: str | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    timeout: float = VERIFY_TIMEOUT_SECONDS  # verifier wall-clock limit per check
    threads: int | None = None  # torch intra-op threads; 1 is fastest for the tiny model (docs/benchmarks.md)
    force: bool = False
    judge: JudgeSettings | None = None  # LLM-judge answer extraction (evaluation/judge.py)

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend {self.backend!r} unknown; expected one of {BACKENDS}")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"--protocol {self.protocol!r} unknown; expected one of {PROTOCOLS}")
        if self.samples < 1 or self.batch_size < 1 or (self.max_new_tokens or 1) < 1:
            raise ConfigError("--samples, --batch-size and --max-new-tokens must be at least 1")
        if self.repetition_penalty is not None and self.repetition_penalty <= 0:
            raise ConfigError("--repetition-penalty must be above 0 (1.0 is off)")
        if self.judge is not None:
            self.judge.check()
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ConfigError(f"--dtype {self.dtype!r} unknown; expected one of {', '.join(DTYPES)}")
        if self.samples > 1 and self.temperature <= 0:
            raise ConfigError(
                "--samples k > 1 needs --temperature > 0 (greedy samples would all be the same)"
            )
        self._check_pixels()

    def _check_pixels(self) -> None:
        """The processor never makes an image below --min-pixels nor below one 28x28 merged patch (Qwen2-VL's
        `smart_resize`), so a --max-pixels under that would be ignored without a word. (The model's own
        min_pixels is known only once its processor loads.)"""
        from lmmr1_cli.data.images import PixelBounds

        if self.min_pixels is not None and self.min_pixels < 1:
            raise ConfigError(f"--min-pixels must be >= 1, got {self.min_pixels}")
        if self.max_pixels is None:
            return
        patch = PixelBounds().factor ** 2
        if self.min_pixels is not None and self.max_pixels < self.min_pixels:
            raise ConfigError(f"--min-pixels ({self.min_pixels}) is above --max-pixels ({self.max_pixels})")
        if self.max_pixels < patch:
            raise ConfigError(
                f"--max-pixels ({self.max_pixels}) is below one 28x28 patch ({patch} pixels), the smallest image "
                f"the processor makes; pass --max-pixels >= {patch} (Qwen2.5-VL's own floor is 3136)"
            )


def model_label(ref: str) -> str:
    """A short name for tables and directories: `tiny`, a run's name, a checkpoint, an HF id."""
    path = Path(ref)
    if ref == TINY:
        return TINY
    if ref.endswith(BEST_SUFFIX):
        return f"{model_label(ref[: -len(BEST_SUFFIX)])}-best"
    if path.exists():
        path = path.resolve()
        if path.name == FINAL_DIR:
            return path.parent.name
        if path.name.startswith(CHECKPOINT_PREFIX) and path.parent.name == CHECKPOINTS_DIR:
            return f"{path.parent.parent.name}-{path.name}"
        return path.name
    return re.sub(r"[^\w.-]+", "--", ref)


def model_labels(models: list[str]) -> list[str]:
    """One distinct label per model: names that clash (`runs/lora`, `exported/lora`) take their parent dirs'
    names (`runs-lora`, `exported-lora`) until they differ; a model given twice is numbered (`tiny-2`)."""
    labels = [model_label(ref) for ref in models]
    where = [str(Path(ref).resolve()) if Path(ref).exists() else ref for ref in models]
    for depth in range(1, 4):
        # Only names shared by different models: the same model given twice is numbered below.
        clashing = {
            label
            for label in labels
            if len({w for w, lb in zip(where, labels, strict=True) if lb == label}) > 1
        }
        if not clashing:
            break
        labels = [
            _with_parents(ref, model_label(ref), depth) if label in clashing else label
            for ref, label in zip(models, labels, strict=True)
        ]
    seen: dict[str, int] = {}
    numbered = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        numbered.append(label if seen[label] == 1 else f"{label}-{seen[label]}")
    return numbered


def _with_parents(ref: str, label: str, depth: int) -> str:
    """`label` prefixed with the names of the `depth` dirs above the model's own dir (or run dir)."""
    path = Path(ref)
    if not path.exists():
        return label
    path = path.resolve()
    if path.name == FINAL_DIR:
        path = path.parent
    elif path.name.startswith(CHECKPOINT_PREFIX) and path.parent.name == CHECKPOINTS_DIR:
        path = path.parent.parent
    parents = [p.name for p in path.parents if p.name][:depth]
    return "-".join([*reversed(parents), label])


def _refuse_replacing_results(out_dir: Path, labels: list[str], benchmarks: list[str], force: bool) -> None:
    """An earlier eval's summary.json/comparison.md in `out_dir` for other models or benchmarks would be
    rewritten: refuse without --force. The same models and benchmarks again resume (the epilog's promise)."""
    path = out_dir / SUMMARY_FILE
    if force or not path.is_file():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8"))
        before = ([m["label"] for m in earlier["models"]], [b["name"] for b in earlier["benchmarks"]])
    except (ValueError, KeyError, TypeError):
        raise OutputExistsError(
            f"{path} exists and is not an eval summary; pass --force to replace it, or choose another -o"
        ) from None
    if before != (labels, benchmarks):
        raise OutputExistsError(
            f"{path} holds results for models {before[0]} on {before[1]}; this run ({labels} on {benchmarks}) "
            "would replace them: pass --force, or choose another -o"
        )


def _records(rows: list[dict], generations, scores) -> list[dict]:
    records = []
    for row, gens, scored in zip(rows, generations, scores, strict=True):
        for sample, (gen, (verdict, format_ok)) in enumerate(zip(gens, scored, strict=True)):
            record = {
                "id": str(row["id"]),
                "sample": sample,
                "completion": gen.text,
                "extracted": verdict.extracted,
                "correct": verdict.correct,
                "reason": verdict.reason,
                "format": format_ok,
                "tokens": gen.tokens,
                "answer": str(row["answer"]),
                "answer_type": row.get("answer_type") or "math",
            }
            if record["answer_type"] == "sokoban":
                from lmmr1_cli.evaluation.sokoban_eval import plan_return

                record.update(plan_return(gen.text, str(row["answer"])))
            records.append(record)
    return records


def _judge_records(judge, settings: EvalSettings, rows, questions, records: list[dict]) -> None:
    """Add the judge's extraction and the rule verdict on it to each record (in place)."""
    by_id = {str(r["id"]): (r, q) for r, q in zip(rows, questions, strict=True)}
    pairs = [by_id[rec["id"]] for rec in records]
    extracted = extract_answers(
        judge, [q for _, q in pairs], [rec["completion"] for rec in records], settings.judge.response_chars
    )
    verdicts = score_extractions([r for r, _ in pairs], [e for e, _ in extracted], settings.timeout)
    for rec, (answer, reply), verdict in zip(records, extracted, verdicts, strict=True):
        rec.update(judge_extracted=answer, judge_reply=reply, **verdict)


def generate_records(
    backend, plan: planning.BenchmarkPlan, batch: list[dict], sampling, timeout: float, system: str | None
) -> tuple[list[dict], list]:
    """One generate call over `batch` and its scored samples.jsonl records (and the prompts, for the judge).
    `lmmr1 eval` and the validation during training (validation.py) both go through here."""
    prompts = [planning.build_prompt(plan, r, system) for r in batch]
    generations = backend.generate([p for p, _ in prompts], sampling)
    texts = [[g.text for g in gens] for gens in generations]
    # The paper's prompts ask for a boxed answer or an 'Answer: X' line, not tags: read free text too.
    scores = score_generations(batch, texts, timeout, free_text=plan.protocol.protocol == "paper")
    return _records(batch, generations, scores), prompts


def evaluate_one(
    get_backend,
    plan: planning.BenchmarkPlan,
    store: SampleStore,
    settings: EvalSettings,
    context: dict,
    progress=None,
) -> tuple[dict, list[dict]]:
    """Generate (and judge) the rows `store` does not hold yet; the summary and records of the wanted rows.
    `get_backend()` loads the model on first use, so a fully resumed benchmark never loads it."""
    rows = load_rows(plan.benchmark.path, limit=settings.limit)
    done = store.done_ids()
    todo = [row for row in rows if str(row["id"]) not in done]
    sampling = planning.sampling_for(plan, settings)
    report = {"done": len(rows) - len(todo), "total": len(rows), "resumed": len(rows) - len(todo)}
    if progress:
        progress({"event": "progress", **report})
    for start in range(0, len(todo), settings.batch_size):
        batch = todo[start : start + settings.batch_size]
        records, prompts = generate_records(
            get_backend(), plan, batch, sampling, settings.timeout, context["system_prompt"]
        )
        if context["judge"] is not None:
            _judge_records(context["judge"](), settings, batch, [q for _, q in prompts], records)
        store.append(records)
        report["done"] += len(batch)
        if progress:
            progress({"event": "progress", **report})
    wanted = {str(row["id"]) for row in rows}
    records = [r for r in store.records if r["id"] in wanted]
    summary = summarize_records(records, settings.samples)
    summary.update(
        planning.benchmark_extras(
            plan, records, rows, settings.samples, context["provenance"], context["system_prompt"]
        )
    )
    summary["resumed_rows"] = report["resumed"]
    summary["samples_file"] = str(store.path)
    return summary, records


def evaluate(
    models: list[str],
    benchmarks: list[str],
    out_dir: Path,
    settings: EvalSettings,
    progress: Progress | None = None,
) -> dict:
    """Evaluate every model on every benchmark; writes `out_dir/<model>/<benchmark>/samples.jsonl`,
    `out_dir/summary.json` and `out_dir/comparison.md`, and returns the summary."""
    if not models or not benchmarks:
        raise ConfigError("give at least one --model and one --benchmark")
    settings.check()
    start = time.monotonic()
    if settings.threads:
        import torch

        torch.set_num_threads(settings.threads)
    out_dir = Path(out_dir)
    resolved_benchmarks = [resolve_benchmark(ref, protocol=settings.protocol) for ref in benchmarks]
    for benchmark in resolved_benchmarks:
        # Every image a row names, before any model loads or row is scored (training checks the same).
        check_images_present(benchmark.path, load_rows(benchmark.path, limit=settings.limit))
    names = [b.name for b in resolved_benchmarks]
    if len(set(names)) != len(names):
        raise ConfigError(f"two benchmarks share a name ({names}); rename one of the dataset dirs")
    labels = model_labels(models)
    _refuse_replacing_results(out_dir, labels, names, settings.force)
    # Open every sample store before loading any model: a settings clash fails in a second, not after a load.
    resolved = [resolve_model(ref).location for ref in models]
    created = not out_dir.exists()
    plans = [planning.plan_benchmark(b, settings, settings.judge is not None) for b in resolved_benchmarks]
    try:
        return _evaluate_stores(models, labels, resolved, plans, out_dir, settings, progress, start)
    except BaseException:
        # A run that fails before its first sample (bad model, unreadable image) leaves no output dir behind;
        # once samples exist they are kept, so a re-run resumes from them.
        if created and not any(p.stat().st_size for p in out_dir.rglob("samples.jsonl")):
            shutil.rmtree(out_dir, ignore_errors=True)
        raise


def _evaluate_stores(models, labels, resolved, plans, out_dir, settings, progress, start) -> dict:
    provenances = [model_provenance(ref) for ref in models]
    prompts = {
        (label, p.benchmark.name): planning.system_prompt(p, settings.system_prompt, prov)
        for label, prov in zip(labels, provenances, strict=True)
        for p in plans
    }
    stores = {
        (label, p.benchmark.name): SampleStore(
            out_dir / label / p.benchmark.name,
            planning.fingerprint(p, settings, path, prompts[label, p.benchmark.name], settings.judge),
            settings.samples,
            settings.force,
        )
        for label, path in zip(labels, resolved, strict=True)
        for p in plans
    }
    judge = _lazy(lambda: make_judge(settings.judge)) if settings.judge is not None else None
    max_pixels = planning.backend_max_pixels(plans, settings.max_pixels)
    results: dict[str, dict] = {}
    model_info = []
    for ref, label, path, prov in zip(models, labels, resolved, provenances, strict=True):

        def load(ref=ref, label=label):
            if progress:
                progress({"event": "load", "model": label})
            return make_backend(settings.backend, ref, settings.dtype, settings.min_pixels, max_pixels)

        get_backend = _lazy(load)
        model_info.append(
            {"label": label, "ref": ref, "resolved": path, "trained": prov.trained, "recipe": prov.recipe}
        )
        per_bench, records_by_bench = {}, {}
        for p in plans:

            def relay(event, label=label, name=p.benchmark.name):
                if progress:
                    progress({**event, "model": label, "benchmark": name})

            context = {"system_prompt": prompts[label, p.benchmark.name], "judge": judge, "provenance": prov}
            per_bench[p.benchmark.name], records_by_bench[p.benchmark.name] = evaluate_one(
                get_backend, p, stores[label, p.benchmark.name], settings, context, relay
            )
        if len(plans) > 1:
            per_bench["overall"] = _overall(records_by_bench, settings.samples)
        results[label] = per_bench
        del get_backend
    settings_record = {k: v for k, v in asdict(settings).items() if k not in ("force", "threads", "judge")}
    summary = {
        "protocol": settings.protocol,
        "models": model_info,
        "benchmarks": [p.describe() for p in plans],
        "settings": settings_record,
        "judge": settings.judge.describe() if settings.judge is not None else None,
        "results": results,
        "seconds": round(time.monotonic() - start, 2),
    }
    write_json_atomic(out_dir / SUMMARY_FILE, summary)
    write_text_atomic(out_dir / COMPARISON_FILE, comparison_markdown(summary))
    summary["output"] = str(out_dir)
    return summary


def _lazy(build):
    """A callable that builds its value on the first call and returns the same value afterwards."""
    cache: list = []

    def get():
        if not cache:
            cache.append(build())
        return cache[0]

    return get


def _overall(records_by_bench: dict[str, list[dict]], samples: int) -> dict:
    """Pooled over all benchmark rows (micro average), as a summary of the same shape."""
    pooled = [{**r, "id": f"{name}/{r['id']}"} for name, recs in records_by_bench.items() for r in recs]
    return summarize_records(pooled, samples)
