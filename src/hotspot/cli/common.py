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
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from hotspot.core.errors import ConfigError, HotspotError
from hotspot.core.progress import ProgressBars
from hotspot.core.progress import rich_progress as _rich_progress

try:  # typer >= 0.22 ships its own copy of click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - older typer on plain click
    from click.exceptions import NoArgsIsHelpError, UsageError

#: The ``--store`` option of every command that reads a store.
StoreOpt = Annotated[Path, typer.Option("--store", help="Event store folder (made by ingest).")]
ModelsOpt = Annotated[str, typer.Option("--models", help="Comma-separated model names.")]


# ---------------------------------------------------------------- one date grammar
# Every command that takes a range says --from/--to; the names some commands had before
# (--start/--end) still work as hidden aliases: a second, hidden option per old name,
# merged by `pick_alias`, so help shows one grammar and old scripts keep running.


def date_option(name: str, help: str) -> Any:
    """The ``Annotated`` type of a ``--from``/``--to`` option (``None`` when not given:
    :func:`pick_alias` merges it with its old name and says when a required one is
    missing)."""
    return Annotated[str | None, typer.Option(name, help=help, show_default=False)]


def hidden_alias(old: str, new: str) -> Any:
    """The ``Annotated`` type of an old option name kept working but hidden from help."""
    return Annotated[str | None, typer.Option(old, hidden=True, help=f"Old name of {new}.")]


def pick_alias(value: str | None, old_value: str | None, new: str, old: str, *,
               required: str | None = None) -> str | None:
    """The value of option ``new`` given either as ``new`` or its hidden old name ``old``.

    Raises ``ConfigError`` when both are given with different values, and, when
    ``required`` (what the option means, e.g. ``"the first held-out period, YYYY-MM"``)
    is set, when neither is.
    """
    if value is not None and old_value is not None and value != old_value:
        raise ConfigError(f"{new} {value} and {old} {old_value} disagree: {old} is the old "
                          f"name of {new}; give {new} only")
    chosen = value if value is not None else old_value
    if chosen is None and required is not None:
        raise ConfigError(f"missing option {new}: give {required}")
    return chosen


#: The held-out range of the backtest commands (old names --start/--end hidden).
FromOpt = date_option("--from", "First held-out period (YYYY-MM; YYYY-MM-DD on daily "
                      "cubes). Required.")
ToOpt = date_option("--to", "Last held-out period, inclusive. Required.")
StartAliasOpt = hidden_alias("--start", "--from")
EndAliasOpt = hidden_alias("--end", "--to")


def check_period(value: str, option: str) -> str:
    """``value`` if it is a month ``YYYY-MM`` or a day ``YYYY-MM-DD`` (the one date
    grammar of every command), else ``ConfigError`` naming ``option``."""
    for layout in ("%Y-%m", "%Y-%m-%d"):
        try:
            datetime.strptime(value, layout)
        except ValueError:
            continue
        return value
    raise ConfigError(f"{option} {value!r} is not a month or a day: write YYYY-MM (e.g. "
                      f"{option} 2020-07) or YYYY-MM-DD for daily and weekly cubes")


def held_out(from_: str | None, to: str | None, start: str | None,
             end: str | None) -> tuple[str, str]:
    """The ``(--from, --to)`` range of a backtest command, both required and checked."""
    first = pick_alias(from_, start, "--from", "--start",
                       required="the first held-out period, e.g. --from 2020-07")
    last = pick_alias(to, end, "--to", "--end",
                      required="the last held-out period, e.g. --to 2020-12")
    return check_period(first, "--from"), check_period(last, "--to")  # type: ignore[arg-type]

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
#: Land to clip the study area to, so a river inside the boundary gets no cells.
ClipWaterOpt = Annotated[
    Path | None,
    typer.Option("--clip-water", help="Land polygons to clip the study area to (the file "
                 "holds the land to keep): a river or the sea inside the boundary gets no "
                 "cells (setting clip_water)."),
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
def rich_progress(on: Console | None = None, *,
                  stage: str | None = None) -> Iterator[ProgressBars]:
    """:func:`hotspot.core.progress.rich_progress` on stderr (``err_console``: warnings
    printed meanwhile go above the bars); bar labels are never read as markup. Enter it
    first thing in a command, with ``stage`` naming what happens before the first bar
    (loading libraries, the cube), so something shows within a second of the start."""
    with _rich_progress(on or err_console) as bars:
        if stage is not None:
            bars.stage(stage)
        yield bars


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


def usage_message(exc: UsageError) -> str:
    """One line for a usage error typer raises itself (an option that does not parse, a
    missing or unknown option): the command, what is wrong and where help is."""
    # named as users type it, whatever name the process was started under
    path = exc.ctx.command_path.split()[1:] if exc.ctx is not None else []
    command = " ".join(["hotspot", *path])
    return f"{command}: {exc.format_message()} (see '{command} --help')"


class OneLineErrors(TyperGroup):
    """The ``hotspot`` group: a value typer cannot parse (``--cell abc``), an unknown or a
    missing option is one ``error:`` line and exit code 2, as the command's own checks
    are, not a boxed usage panel (``--debug`` keeps the panel)."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _one_line():
            return super().invoke(ctx)


@contextmanager
def _one_line() -> Iterator[None]:
    try:
        yield
    except NoArgsIsHelpError:
        raise
    except UsageError as exc:
        if DEBUG["enabled"]:
            raise
        print_error(usage_message(exc))
        raise typer.Exit(code=2) from None
