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
    # The same columns as the terminal's table, pass@k included when k > 1.
    passk = [f"pass@{k}"] if k > 1 else []
    lines.append(
        "| "
        + " | ".join(["benchmark", "model", "rows", metric, "95% CI", "format", "mean tokens", *passk])
        + " |"
    )
    lines.append("|---|---|---:|---:|---|---:|---:|" + "---:|" * len(passk))
    for label, per_bench in summary["results"].items():
        for name, r in per_bench.items():
            low, high = r["ci95"]
            extra = "".join(f" {100 * r[key]:.1f} |" for key in passk)
            lines.append(
                f"| {name} | {label} | {r['rows']} | {100 * r['accuracy']:.1f} | "
                f"[{100 * low:.1f}, {100 * high:.1f}] | {100 * r['format_rate']:.1f} | {r['mean_tokens']:.1f} |"
                + extra
            )
    if k > 1:
        lines += ["", CI_NOTE]
    return "\n".join(lines) + "\n"
