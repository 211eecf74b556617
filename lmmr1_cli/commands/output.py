"""Where commands write: tables and results to stdout, progress and warnings to stderr.

One pair of consoles for every command, so `--json` output on stdout is never interleaved with a progress bar.
Piped or logged, rich would lay tables out for 80 columns and fold or cut names (`mathverse-testm`/`ini`); there
the consoles are wide (or `$COLUMNS` wide when set), so identifiers stay whole and grep-able.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

# Wide enough for any table lmmr1 prints; a table takes only the width it needs, so nothing is padded.
LOG_WIDTH = 240


def _width(stream) -> int | None:
    """None (rich measures the terminal) on a terminal; otherwise `$COLUMNS` or LOG_WIDTH."""
    if stream.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else LOG_WIDTH


console = Console(width=_width(sys.stdout))
err_console = Console(stderr=True, width=_width(sys.stderr))
