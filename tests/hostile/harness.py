"""The hostile-input harness: run one ``hotspot`` command line the way a user would and
check what a serious tool must do with bad input.

Every case asserts the exit code, that the error is one ``error: ...`` line matching the
expected message, that no traceback is printed, and that the folders the command may write
(store, out) are byte-for-byte what they were, unless the case says what the correct result
is instead. Cases live in ``tests/hostile/test_*.py``, one file per area; each is a
``Case`` run by :func:`check`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from hotspot.cli import app
from hotspot.core.resources import embedded_path

SAMPLE = embedded_path("police-uk")
WARDS = embedded_path("boundaries", "city-of-london-wards.gpkg")


def checksums(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file under each folder (missing folders give nothing)."""
    sums: dict[str, str] = {}
    for folder in folders:
        if not Path(folder).exists():
            sums[str(folder)] = "absent"
            continue
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file() and not path.is_symlink():
                sums[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return sums


@dataclass
class Result:
    exit_code: int
    output: str


def run(*args: object) -> Result:
    """``hotspot ARGS`` in-process, as the console script runs it."""
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"\nTraceback (uncaught {type(result.exception).__name__}: {result.exception})"
    return Result(result.exit_code, output)


@dataclass(frozen=True)
class Case:
    """One hostile input: what to run and what must come back."""

    name: str
    args: Callable[[Path], Sequence[object]]
    exit_code: int = 2
    #: A regular expression the one ``error:`` line must match (``exit_code`` 2).
    error: str | None = None
    #: Folders (relative to the case's folder) that must not change.
    untouched: tuple[str, ...] = ()
    #: Prepares the case's folder (copy a store, write a bad file, ...).
    setup: Callable[[Path], None] | None = None
    #: Further checks of the correct result (for cases that succeed or warn).
    after: Callable[[Path, Result], None] | None = None
    why: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)


def check(case: Case, root: Path) -> Result:
    """Run ``case`` in ``root`` and assert everything a case promises."""
    if case.setup is not None:
        case.setup(root)
    guarded = [root / name for name in case.untouched]
    before = checksums(*guarded)
    result = run(*case.args(root))
    assert "Traceback" not in result.output, f"{case.name}: traceback\n{result.output}"
    assert result.exit_code == case.exit_code, (
        f"{case.name}: exit {result.exit_code}, expected {case.exit_code}\n{result.output}")
    if case.error is not None:
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, f"{case.name}: expected one error line\n{result.output}"
        assert re.search(case.error, errors[0]), (
            f"{case.name}: {errors[0]!r} does not match {case.error!r}")
    assert checksums(*guarded) == before, f"{case.name}: {case.untouched} changed"
    if case.after is not None:
        case.after(root, result)
    return result


def copy_store(source: Path, target: Path) -> None:
    """A private copy of a prepared store (cases must not share a writable store)."""
    shutil.copytree(source, target, symlinks=True)
