"""The report's PNGs: training curves (smoothed over the raw points), GRPO health curves, and the eval chart.

Each curve is drawn twice: the raw per-step values thin and faint, an exponential moving average over them bold,
in the same colour, so a trend reads through GRPO's step-to-step noise while no point is hidden. Stages laid end
to end (FRE, then MGT) carry their stage-local step range on the plot, since the x axis counts global steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

# GRPO health, as TRL 1.16's GRPOTrainer logs it (trl/trainer/grpo_trainer.py `_metrics`): (file stem, title,
# metrics.jsonl keys). frac_reward_zero_std near 1.0 means almost every group's rewards tie, so advantages are 0
# and the step teaches nothing.
HEALTH_PLOTS = (
    (
        "frac_reward_zero_std",
        "groups whose rewards all tie (no gradient signal)",
        ("frac_reward_zero_std",),
    ),
    ("entropy", "policy entropy (nats per completion token)", ("entropy",)),
    (
        "clip_ratio",
        "tokens at the clip bound (ratio outside 1 ± epsilon)",
        ("clip_ratio/region_mean",),  # TRL: low or high clip, averaged over completion tokens
    ),
    ("learning_rate", "learning rate", ("learning_rate",)),
)
EVAL_PLOT = "eval"
VALIDATION_PLOT = "validation"
STEP_TIME_PLOT = "step_time"


def smooth(values: Sequence[float], weight: float | None = None) -> list[float]:
    """Debiased exponential moving average (TensorBoard's smoothing); the weight grows with the curve's length.

    >>> [round(v, 3) for v in smooth([0.0, 1.0, 1.0, 1.0], weight=0.5)]
    [0.0, 0.667, 0.857, 0.933]
    """
    if weight is None:
        weight = min(0.9, max(0.0, 1.0 - 10.0 / max(len(values), 1)))
    out, average, norm = [], 0.0, 0.0
    for value in values:
        average = weight * average + (1 - weight) * value
        norm = weight * norm + (1 - weight)
        out.append(average / norm if norm else value)
    return out


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(runs: Sequence[Any], keys: Sequence[str], title: str, path: Path, chained: bool) -> bool:
    """One PNG of `keys` over steps for every run (raw faint, smoothed bold); False (no file) if none logged."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    drawn = False
    for run in runs:
        for key in keys:
            xs, ys = run.series(key)
            if not xs:
                continue
            name = run.label if len(keys) == 1 else f"{run.label} {key.rsplit('/', 1)[-1]}"
            (raw,) = ax.plot(
                xs, ys, linewidth=0.8, alpha=0.35, marker="o" if len(xs) < 30 else None, markersize=2
            )
            ax.plot(xs, smooth(ys), linewidth=2.0, color=raw.get_color(), label=name)
            drawn = True
    if drawn:
        if chained:
            _mark_stages(ax, runs)
        ax.set_title(title)
        ax.set_xlabel(
            "global step (stages end to end; each stage's own steps in its label)"
            if chained
            else "training step"
        )
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)
    return drawn


def _mark_stages(ax: Any, runs: Sequence[Any]) -> None:
    """A dashed line at each handoff and, over each stage, its name and stage-local step range."""
    for run in runs:
        if run.handoff is not None:  # at step 0 too: an MGT run from `fre@best` at step 0 branches there
            ax.axvline(run.offset, color="grey", linestyle="--", linewidth=1)
        first, last = run.rows[0]["step"], run.rows[-1]["step"]
        ax.annotate(
            f"{run.stage.upper()} steps {first}-{last}" + (f" from {run.handoff}" if run.handoff else ""),
            xy=(run.offset + (first + last) / 2, 0.98),
            xycoords=("data", "axes fraction"),
            ha="center",
            va="top",
            fontsize=7,
            color="dimgrey",
            bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )


def plot_step_time(runs: Sequence[Any], parts: Sequence[tuple[str, str]], path: Path, chained: bool) -> bool:
    """Seconds per step of each part in `parts` ((metrics.jsonl key, name): generation, verifier, optimizer),
    stacked, so the tallest band is the bottleneck; a part not logged at a step counts 0 there (with
    steps_per_generation > 1 a rollout is generated every few steps). False (no file) if no run logged any."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = False
    for run in runs:
        rows = [r for r in run.rows if any(r.get(key) is not None for key, _ in parts)]
        if not rows:
            continue
        xs = [r["step"] + run.offset for r in rows]
        bands = [[float(r.get(key) or 0.0) for r in rows] for key, _ in parts]
        ax.stackplot(
            xs,
            bands,
            labels=[name for _, name in parts] if not drawn else (),
            colors=colors[: len(parts)],
            alpha=0.8,
        )
        drawn = True
    if drawn:
        if chained:
            _mark_stages(ax, runs)
        ax.set_title("where a step's time goes (seconds per step, stacked)")
        ax.set_xlabel("global step (stages end to end)" if chained else "training step")
        ax.set_ylabel("seconds")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)
    return drawn


def plot_eval(eval_summary: dict, path: Path) -> bool:
    """Accuracy per benchmark (groups) and model (bars) with 95% CI whiskers; False (no file) if no results."""
    results = eval_summary.get("results") or {}
    models = list(results)
    benchmarks = list(dict.fromkeys(b for m in models for b in results[m]))
    if not models or not benchmarks:
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.4, 1.2 * len(benchmarks) * max(len(models), 1) / 2), 3.6), dpi=100)
    width = 0.8 / len(models)
    for i, model in enumerate(models):
        xs, heights, errors = [], [], [[], []]
        for j, bench in enumerate(benchmarks):
            r = results[model].get(bench)
            if r is None:
                continue
            low, high = r.get("ci95") or (r["accuracy"], r["accuracy"])
            xs.append(j - 0.4 + width * (i + 0.5))
            heights.append(100 * r["accuracy"])
            errors[0].append(100 * max(r["accuracy"] - low, 0.0))
            errors[1].append(100 * max(high - r["accuracy"], 0.0))
        ax.bar(xs, heights, width=width, yerr=errors, capsize=3, label=model)
    ax.set_xticks(range(len(benchmarks)), benchmarks, rotation=20 if len(benchmarks) > 3 else 0, fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("evaluation (95% CI)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def plot_validation(runs: Sequence[Any], path: Path, chained: bool) -> bool:
    """Held-out accuracy during training (validation.py: `eval/NAME/accuracy` rows) per run and eval set, with its
    95% CI as a band; raw points only (a few evaluations, nothing to smooth). False (no file) if none logged."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    drawn = False
    for run in runs:
        keys = sorted(
            {k for r in run.validation for k in r if k.startswith("eval/") and k.endswith("/accuracy")}
        )
        for key in keys:
            rows = [r for r in run.validation if r.get(key) is not None]
            xs = [r["step"] + run.offset for r in rows]
            base = key[: -len("accuracy")]
            (line,) = ax.plot(xs, [100 * r[key] for r in rows], marker="o", markersize=3, linewidth=1.5,
                              label=f"{run.label} {key.split('/')[1]}")  # fmt: skip
            low = [100 * r.get(f"{base}accuracy_ci95_low", r[key]) for r in rows]
            high = [100 * r.get(f"{base}accuracy_ci95_high", r[key]) for r in rows]
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15)
            drawn = True
    if drawn:
        ax.set_title("validation during training: held-out accuracy (95% CI)")
        ax.set_xlabel("global step (stages end to end)" if chained else "training step")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)
    return drawn
