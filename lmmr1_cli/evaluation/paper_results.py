"""The paper's reported numbers (`paper_results.yaml`, shipped with the package), looked up per benchmark."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

BASELINE = "baseline"


@lru_cache(maxsize=1)
def paper_results() -> dict:
    """The parsed paper_results.yaml: `paper`, `base_model`, `tables.<name>.results.<recipe>.<benchmark>`."""
    text = (resources.files("lmmr1_cli") / "evaluation" / "paper_results.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def paper_reference(benchmark: str, recipe: str | None = None) -> dict | None:
    """The paper's base-model number for `benchmark` and, when `recipe` names a reported model, that model's
    number, each with the table it comes from; None when the paper does not report the benchmark.

    >>> ref = paper_reference("mathvista-testmini", "mgt-percereason")
    >>> ref["baseline"], ref["recipe_result"], ref["table"]
    (60.7, 63.2, 'table1')
    """
    data = paper_results()
    for table_name, table in data["tables"].items():
        results = table["results"]
        base = results.get(BASELINE, {})
        if benchmark not in base:
            continue
        mine = results.get(recipe, {}).get(benchmark) if recipe else None
        return {
            "benchmark": benchmark,
            "baseline": base[benchmark],
            "recipe": recipe if mine is not None else None,
            "recipe_result": mine,
            "table": table_name,
            "source": f"{data['paper']}, {table_name}",
        }
    return None
