"""Progress reporting that library code can call without knowing about the terminal.

Library functions take an optional ``progress`` callback; the command line passes one
that drives a rich progress bar, tests and flows pass nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

#: ``progress(description, done, total)``: ``done`` of ``total`` steps finished.
ProgressCallback = Callable[[str, int, int], None]


def no_progress(description: str, done: int, total: int) -> None:
    """The default callback: report nothing."""


@contextmanager
def rich_progress(console: Console | None = None) -> Iterator[ProgressCallback]:
    """Yield a callback that shows one progress bar per description on stderr."""
    console = console or Console(stderr=True)
    tasks: dict[str, int] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    # Off a terminal (CI logs, pipes) a live bar only adds blank lines around the output.
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as bar:

        def update(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total)
            bar.update(tasks[description], completed=done, total=total)

        yield update
