"""The comparison table of the paper's results: rows benchmarks, columns models, deltas against the first model."""

from __future__ import annotations

CI_NOTE = (
    "95% CI of mean@k: Wilson interval at the effective sample size of the prompt-clustered samples "
    "(samples of one prompt are correlated; see README, Evaluation)."
)


def comparison_rows(summary: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of accuracy (percent) per benchmark and model; later models carry `(+d)` vs the first."""
    labels = [m["label"] for m in summary["models"]]
    names = [b["name"] for b in summary["benchmarks"]]
    if len(names) > 1:
        names.append("overall")
    header = ["benchmark", *labels]
    rows = []
    for name in names:
        base = summary["results"][labels[0]][name]["accuracy"]
        cells = [name]
        for i, label in enumerate(labels):
            acc = summary["results"][label][name]["accuracy"]
            cell = f"{100 * acc:.1f}"
            if i > 0:
                cell += f" ({100 * (acc - base):+.1f})"
            cells.append(cell)
        rows.append(cells)
    return header, rows


def verdict(base: dict, other: dict) -> str:
    """`learned`, `worse` or `no significant change`: whether `other`'s 95% CI lies wholly above or below the
    base's. Overlapping intervals are not a difference worth reporting."""
    if other["ci95"][0] > base["ci95"][1]:
        return "learned"
    if other["ci95"][1] < base["ci95"][0]:
        return "worse"
    return "no significant change"


def verdict_lines(summary: dict) -> list[str]:
    """One plain line per later model and benchmark: its verdict against the first model, with the numbers."""
    labels = [m["label"] for m in summary["models"]]
    lines = []
    for label in labels[1:]:
        for bench in summary["benchmarks"]:
            base = summary["results"][labels[0]][bench["name"]]
            other = summary["results"][label][bench["name"]]
            lines.append(
                f"{label} on {bench['name']}: {verdict(base, other)} ({100 * other['accuracy']:.1f}%, CI "
                f"{100 * other['ci95'][0]:.1f}-{100 * other['ci95'][1]:.1f}, vs {labels[0]} "
                f"{100 * base['accuracy']:.1f}%, CI {100 * base['ci95'][0]:.1f}-{100 * base['ci95'][1]:.1f})"
            )
    return lines


def comparison_markdown(summary: dict) -> str:
    header, rows = comparison_rows(summary)
    k = summary["settings"]["samples"]
    metric = "accuracy" if k == 1 else f"mean@{k}"
    lines = [
        f"{metric} (%) per benchmark; deltas in parentheses are against `{header[1]}`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines.append("")
    if len(header) > 2:
        lines += [
            f"Against `{header[1]}` (95% CIs apart or not):",
            "",
            *[f"- {v}" for v in verdict_lines(summary)],
        ]
        lines.append("")
    # The same columns as the terminal's table: pass@k when k > 1, the judge's accuracy and its agreement with the
    # rule when a judge ran, the paper's numbers under the paper protocol.
    passk = [f"pass@{k}"] if k > 1 else []
    results = [r for per_bench in summary["results"].values() for r in per_bench.values()]
    judged = ["judge", "agree"] if any("judge_accuracy" in r for r in results) else []
    paper = ["paper base", "paper recipe"] if any(r.get("paper") for r in results) else []
    columns = [
        "benchmark",
        "model",
        "rows",
        metric,
        "95% CI",
        "format",
        "mean tokens",
        *passk,
        *judged,
        *paper,
    ]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|---|---|---:|---:|---|---:|---:|" + "---:|" * (len(passk) + len(judged) + len(paper)))
    for label, per_bench in summary["results"].items():
        for name, r in per_bench.items():
            low, high = r["ci95"]
            extra = "".join(f" {100 * r[key]:.1f} |" for key in passk)
            if judged:
                extra += f" {_pct(r.get('judge_accuracy'))} | {_pct(r.get('judge_agreement'))} |"
            if paper:
                extra += " " + " | ".join(_paper_cells(r.get("paper"))) + " |"
            lines.append(
                f"| {name} | {label} | {r['rows']} | {100 * r['accuracy']:.1f} | "
                f"[{100 * low:.1f}, {100 * high:.1f}] | {100 * r['format_rate']:.1f} | {r['mean_tokens']:.1f} |"
                + extra
            )
    lines += _breakdown_lines(summary)
    if k > 1:
        lines += ["", CI_NOTE]
    notes = [f"- {b['name']}: {note}" for b in summary["benchmarks"] for note in b.get("notes") or []]
    if notes:
        lines += ["", "Where this run differs from the paper's evaluation:", "", *notes]
    return "\n".join(lines) + "\n"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _paper_cells(ref: dict | None) -> list[str]:
    """The paper's base-model number and the number of the recipe that trained the model (percent)."""
    if not ref:
        return ["-", "-"]
    mine = f"{ref['recipe_result']:.1f} ({ref['recipe']})" if ref.get("recipe_result") is not None else "-"
    return [f"{ref['baseline']:.1f}", mine]


def _breakdown_lines(summary: dict) -> list[str]:
    """Accuracy per breakdown value (MathVerse's versions, MathVision's subjects), and the paper's own
    aggregates (MMStar's mean over l2 categories, Table 2's MathVision geometry average)."""
    lines = []
    for label, per_bench in summary["results"].items():
        for name, r in per_bench.items():
            for column, groups in (r.get("breakdown") or {}).items():
                lines += [
                    "",
                    f"{name} / {label}, per {column}:",
                    "",
                    "| value | rows | accuracy | 95% CI | judge |",
                ]
                lines.append("|---|---:|---:|---|---:|")
                for value, cell in groups.items():
                    low, high = cell["ci95"]
                    lines.append(
                        f"| {value} | {cell['rows']} | {100 * cell['accuracy']:.1f} | "
                        f"[{100 * low:.1f}, {100 * high:.1f}] | {_pct(cell.get('judge_accuracy'))} |"
                    )
            for metric, value in (r.get("paper_metrics") or {}).items():
                ref = value.get("paper") or {}
                paper = f" (paper base {ref['baseline']:.1f})" if ref else ""
                lines += ["", f"{name} / {label}, the paper's {metric}: {_pct(value['accuracy'])}{paper}"]
    return lines
