"""What every command shares: one console, error handling at the edge, progress bars.

Nothing a user typed or a data file holds is ever read as Rich markup: both consoles are
made with ``markup=False`` (a path like ``d[/]x`` or a crime type ``Theft [other]`` prints
as it is, in tables too), and styles are given as ``style=`` or :func:`styled` parts.
"""

from __future__ import annotations

import errno
import functools
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from hotspot.core.errors import ConfigError, HotspotError
from hotspot.core.progress import ProgressCallback
from hotspot.core.progress import rich_progress as _rich_progress

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
TargetOpt = Annotated[
    str | None,
    typer.Option("--target", help="What to forecast: a police.uk category (burglary, "
                 "vehicle-crime, ...), a group (property, violence, street, or one from the "
                 "config's target_groups), crime (all but anti-social behaviour), all, or "
                 "harm (harm-weighted counts). Default: settings' target, else the cube's own."),
]
#: ``backtest`` takes several targets at once.
TargetsOpt = Annotated[
    str | None,
    typer.Option("--target", help="Target(s) to backtest, comma-separated (e.g. crime,harm): "
                 "a police.uk category, a group (property, violence, street), crime, all or "
                 "harm; one table per target. Default: settings' target, else the cube's own."),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Bootstrap seed (default: settings' backtest.seed).")
]
NBootstrapOpt = Annotated[
    int | None,
    typer.Option("--n-bootstrap", help="Bootstrap resamples for the CIs (default: settings' "
                                       "backtest.n_bootstrap)."),
]

# markup off: every string printed is literal text (see the module docstring)
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

F = TypeVar("F", bound=Callable[..., Any])

#: Set by the top-level ``--debug`` option: show tracebacks instead of one line.
DEBUG = {"enabled": False}

#: Command parameters that name a folder the command reads or writes, checked up front.
FOLDER_OPTIONS = {"store": "--store", "out": "--out"}


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line from plain parts and ``(text, style)`` pairs; no part is read as markup."""
    return Text.assemble(*parts)


def warn(message: str) -> None:
    """``warning: <message>`` on stderr, the message printed as it is."""
    err_console.print(styled(("warning:", "bold yellow"), " ", message), highlight=False,
                      soft_wrap=True)


@contextmanager
def rich_progress(on: Console | None = None) -> Iterator[ProgressCallback]:
    """:func:`hotspot.core.progress.rich_progress` with each description escaped: bar
    labels name sources and files, which must not be read as markup either."""
    with _rich_progress(on) as update:
        yield lambda description, done, total: update(escape(description), done, total)


def check_folder_option(path: Path, option: str) -> None:
    """Raise ``ConfigError`` when ``path`` (or a folder above it) is a file: the command
    would otherwise fail with a bare ``FileExistsError`` after its work was done."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path} is a file, not a folder: name a folder "
                          "(or move the file away)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{option} {path}: {parent} is a file, not a folder: name "
                                  "a path whose parents are folders")
            return


#: The hidden siblings atomic writes build in (``.NAME.tmp-*``, ``.NAME.staging-*``).
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(tmp|staging|old)-[0-9a-f-]+$")


def _visible(path: str) -> str:
    """The path a user knows for ``path``: a hidden temporary sibling names its target."""
    found = _TEMPORARY.match(Path(path).name)
    return str(Path(path).with_name(found["name"])) if found else path


def _option_of(path: str, options: Mapping[str, Any]) -> str:
    """`` (--out OUT)`` when ``path`` is under the folder of one of ``options``."""
    target = Path(path).absolute()
    for name, option in FOLDER_OPTIONS.items():
        folder = options.get(name)
        if isinstance(folder, Path):
            folder = folder.absolute()
            if target == folder or folder in target.parents:
                return f" ({option} {options[name]})"
    return ""


def _folders(options: Mapping[str, Any]) -> str:
    named = [f"{option} {options[name]}" for name, option in FOLDER_OPTIONS.items()
             if isinstance(options.get(name), Path)]
    return f" (writing {', '.join(named)})" if named else ""


#: What to do about an operating-system error, by errno.
_ADVICE = {
    errno.ENOSPC: "no space left on the device: free some space and run again",
    errno.EDQUOT: "disk quota exceeded: free some space and run again",
    errno.EROFS: "read-only file system: choose a folder on a writable disk",
    errno.EACCES: "permission denied: make it writable for this user or choose another "
                  "folder",
    errno.EPERM: "operation not permitted: make it writable for this user or choose "
                 "another folder",
    errno.EEXIST: "a file is in the way: a folder is needed there; move the file away",
    errno.ENOTDIR: "a file is in the way: a folder is needed there; move the file away",
    errno.EISDIR: "is a folder, a file was expected: name a file",
    errno.ENOENT: "not found: check the path",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n) and run again",
}
#: Errors that mean the machine, not the program, is at fault, even without a file name.
_ENVIRONMENT = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                errno.EMFILE)


def os_error_message(exc: OSError, options: Mapping[str, Any]) -> str | None:
    """One line for an operating-system error at the command edge (naming the path, the
    cause and what to do), or ``None`` for one that is not about files (a bug: surface)."""
    advice = _ADVICE.get(exc.errno or 0)
    if exc.filename is None:
        if exc.errno not in _ENVIRONMENT:
            return None
        return f"{advice}{_folders(options)}"
    path = _visible(str(exc.filename))
    if advice is None:
        advice = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) and Path(path).absolute().is_relative_to(
            Path(tempfile.gettempdir()).absolute()):
        advice += " (temporary files go to $TMPDIR: point it to a disk with room)"
    return f"{path}: {advice}{_option_of(path, options)}"


def print_error(message: str) -> None:
    """``error: <message>`` on stderr, on one line however long."""
    err_console.print(styled(("error:", "bold red"), " ", message), highlight=False,
                      soft_wrap=True)


def handle_errors(command: F) -> F:
    """Run a command at the edge: check its ``--store``/``--out`` folders first, then turn
    a ``HotspotError`` or a file-system ``OSError`` into ``error: <message>`` on stderr and
    exit code 2 (``--debug``: the traceback instead)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            for name, option in FOLDER_OPTIONS.items():
                if isinstance(kwargs.get(name), Path):
                    check_folder_option(kwargs[name], option)
            return command(*args, **kwargs)
        except HotspotError as exc:
            if DEBUG["enabled"]:
                raise
            print_error(str(exc))
            raise typer.Exit(code=2) from None
        except OSError as exc:
            message = os_error_message(exc, kwargs)
            if message is None or DEBUG["enabled"]:
                raise
            print_error(message)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]
