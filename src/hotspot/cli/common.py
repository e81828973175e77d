"""What every command shares: one console, error handling at the edge, progress bars."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from hotspot.core.errors import HotspotError

#: The ``--store`` option of every command that reads a store.
StoreOpt = Annotated[Path, typer.Option("--store", help="Event store folder (made by ingest).")]

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

#: Set by the top-level ``--debug`` option: show tracebacks instead of one line.
DEBUG = {"enabled": False}


def handle_errors(command: F) -> F:
    """Turn a ``HotspotError`` into ``error: <message>`` on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except HotspotError as exc:
            if DEBUG["enabled"]:
                raise
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
