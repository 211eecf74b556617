"""The one progress display every long-running command uses: a rich bar (or a spinner) that `--json` turns off.

Library functions take a plain callback; the command turns the bar's `update` into that callback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import partial

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lmmr1_cli.commands.output import err_console

# `update(completed=..., total=..., description=...)`; any argument left out keeps its value.
UpdateBar = Callable[..., None]


@contextlib.contextmanager
def progress_bar(
    description: str,
    *,
    label: str = "",
    total: int | None = None,
    console: Console = err_console,
    transient: bool = True,
    disable: bool = False,
) -> Iterator[UpdateBar]:
    """A bar `label description  ━━━━  done/total  elapsed`; yields its update function.

    `label` is fixed text in bold before the changing description; `transient` bars vanish when done, so the
    result table that follows stands alone.
    """
    prefix = f"[bold]{label}[/bold] " if label else ""
    with Progress(
        TextColumn(prefix + "{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=transient,
        # A transient bar leaves nothing behind on a terminal; piped or logged, it would leave a blank line
        # (before an `error:` line, say), so there it is not drawn at all.
        disable=disable or (transient and not console.is_terminal),
    ) as progress:
        task = progress.add_task(description, total=total)
        yield partial(progress.update, task)


@contextlib.contextmanager
def progress_spinner(
    message: str, *, console: Console = err_console, disable: bool = False
) -> Iterator[Callable[[str], None]]:
    """A spinner for work that reports steps but no counts; yields a function that sets its message."""
    if disable:
        yield lambda text: None
        return
    with console.status(message, spinner="dots") as status:
        yield status.update
