"""Where commands write: tables and results to stdout, progress and warnings to stderr.

One pair of consoles for every command, so `--json` output on stdout is never interleaved with a progress bar.
"""

from __future__ import annotations

from rich.console import Console

console = Console()
err_console = Console(stderr=True)
