"""What every command shares: one console, error handling at the edge, progress bars."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from hotspot.core.errors import HotspotError

#: The ``--store`` option of every command that reads a store.
StoreOpt = Annotated[Path, typer.Option("--store", help="Event store folder (made by ingest).")]
#: The held-out range of the backtest commands.
ModelsOpt = Annotated[str, typer.Option("--models", help="Comma-separated model names.")]
FromOpt = Annotated[str, typer.Option("--from", help="First held-out period (YYYY-MM).")]
ToOpt = Annotated[str, typer.Option("--to", help="Last held-out period (YYYY-MM).")]
#: The options every command that builds ``Settings`` shares (one grammar, one meaning).
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="TOML settings file (settings under a \\[hotspot] table; "
                                  "see examples/nightly.toml)."),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", help="Model parameter MODEL.KEY=VALUE, repeatable, e.g. "
                 "etas-grid.background_time=seasonal (on top of the config's model_params; "
                 "backtest-grid takes V1|V2 for a grid)."),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Bootstrap seed (default: settings' backtest.seed).")
]
NBootstrapOpt = Annotated[
    int | None,
    typer.Option("--n-bootstrap", help="Bootstrap resamples for the CIs (default: settings' "
                                       "backtest.n_bootstrap)."),
]

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
            # escaped: messages quote TOML tables like [hotspot], which are not markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
