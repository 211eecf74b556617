"""docs/reliability.md lists exactly the fault cases the tests run."""

from __future__ import annotations

from faults.fault_cases import CASES
from faults.render_doc import DOC, current_table, render_table


def test_reliability_doc_lists_exactly_the_fault_cases():
    table = current_table(DOC.read_text(encoding="utf-8"))
    assert table == render_table(), (
        "docs/reliability.md is stale: run `.venv/bin/python tests/faults/render_doc.py`"
    )
    for case in CASES:
        assert f"| `{case.id}` |" in table
