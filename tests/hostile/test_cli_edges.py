"""Hostile cases at the command edge (issue 13, items 8-12): one ``error:`` line and exit 2,
never a traceback, for paths and data that look like Rich markup, file-system faults, bad
``--param`` values, odd ``--config`` files and ``--area`` files without polygons; and
(issue 14) unknown ``--target`` names and bad ``--boxes``/``--offsets``.

Every case runs in its own folder ``ROOT`` holding a private copy of the session's base
store at ``ROOT/store``. File-system faults (a read-only disk, a full disk) cannot be made
with ``chmod`` when the tests run as root, so they are injected with ``monkeypatch`` after
the setup: every write under one folder fails as the kernel would fail it.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hostile.harness import SAMPLE, WARDS, Case, Result, check, copy_store, run

FAST = ("--n-bootstrap", "100")
RANGE = ("--from", "2020-11", "--to", "2020-12", *FAST)
BACKTEST = ("--models", "naive-last", *RANGE)
FORECAST = ("--model", "naive-mean", "--backtest-periods", "2", *FAST)
A_MONTH = SAMPLE / "2020-01"
#: A crime type that is also (broken) Rich markup.
MARKUP_TYPE = "Burglary [/] [bold]x"


# ---------------------------------------------------------------- setups and checks


def _a_file(name: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / name).write_text("not a folder\n")
    return setup


def _file_kept(name: str) -> Callable[[Path, Result], None]:
    def after(root: Path, _: Result) -> None:
        assert (root / name).read_text() == "not a folder\n"
    return after


def _printed(*texts: str) -> Callable[[Path, Result], None]:
    def after(root: Path, result: Result) -> None:
        for text in texts:
            assert text in result.output, f"{text!r} not printed as it is:\n{result.output}"
    return after


def _store_made(name: str, *texts: str) -> Callable[[Path, Result], None]:
    def after(root: Path, result: Result) -> None:
        assert (root / name / "store.json").is_file()
        _printed(*texts)(root, result)
    return after


def _no_out(root: Path, _: Result) -> None:
    assert not (root / "out").exists(), "the refused run wrote --out"


def _bracketed_input(root: Path) -> None:
    folder = root / "p [copy]"
    folder.mkdir()
    shutil.copy(next(A_MONTH.glob("*.csv")), folder / "x.csv")


def _markup_crime_type(root: Path) -> None:
    """The sample with every Burglary renamed to a crime type that is broken markup."""
    for source in sorted(SAMPLE.rglob("*.csv")):
        target = root / "drop" / source.relative_to(SAMPLE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source.read_text().replace(",Burglary,", f",{MARKUP_TYPE},"))
    result = run("ingest", "police-uk", root / "drop", "--store", root / "marked",
                 "--area", WARDS)
    assert result.exit_code == 0, result.output


def _write(name: str, data: bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / name).write_bytes(data)
    return setup


def _folder(name: str) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        (root / name).mkdir(parents=True)
    return setup


def _points(root: Path) -> None:
    (root / "points.geojson").write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
        '"geometry": {"type": "Point", "coordinates": [-0.09, 51.515]}}]}')


# ---------------------------------------------------------------- injected faults


def _under(path: object, folder: Path) -> bool:
    try:
        target = Path(os.fsdecode(path)).absolute()
    except TypeError:  # a file descriptor
        return False
    return target == folder or folder in target.parents


def _failing_writes(monkeypatch: pytest.MonkeyPatch, folder: Path, code: int,
                    named: bool) -> None:
    """Every new folder, rename and file opened for writing under ``folder`` fails with
    ``code``; ``named=False`` leaves the file name out, as a failing ``write()`` does."""
    folder = folder.absolute()
    message = os.strerror(code)

    def fail(path: object) -> OSError:
        return OSError(code, message, os.fsdecode(path)) if named else OSError(code, message)

    real_mkdir, real_replace, real_rename = os.mkdir, os.replace, os.rename
    real_open = builtins.open

    def mkdir(path, *args, **kwargs):
        # an existing folder answers EEXIST even on a read-only disk
        if _under(path, folder) and not os.path.exists(path):
            raise fail(path)
        return real_mkdir(path, *args, **kwargs)

    def replace(src, dst, *args, **kwargs):
        if _under(dst, folder):
            raise fail(dst)
        return real_replace(src, dst, *args, **kwargs)

    def rename(src, dst, *args, **kwargs):
        if _under(dst, folder):
            raise fail(dst)
        return real_rename(src, dst, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax+") and _under(file, folder):
            raise fail(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)


def read_only(name: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    return lambda mp, root: _failing_writes(mp, root / name, errno.EROFS, named=True)


def no_permission(name: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    return lambda mp, root: _failing_writes(mp, root / name, errno.EACCES, named=True)


def disk_full(name: str) -> Callable[[pytest.MonkeyPatch, Path], None]:
    return lambda mp, root: _failing_writes(mp, root / name, errno.ENOSPC, named=False)


def tmpdir_full(mp: pytest.MonkeyPatch, root: Path) -> None:
    """``$TMPDIR`` on a full disk: its temporary folders cannot be made."""
    (root / "tmp").mkdir(exist_ok=True)
    mp.setattr(tempfile, "tempdir", str(root / "tmp"))
    _failing_writes(mp, root / "tmp", errno.ENOSPC, named=True)


# ---------------------------------------------------------------- the cases

CASES = [
    # item 8: user strings are never read as markup
    Case("markup-in-store-path",
         lambda r: ("ingest", "police-uk", A_MONTH, "--store", r / "d[/]x", "--area", WARDS),
         exit_code=0, after=_store_made("d[/]x", "d[/]x"),
         why="MarkupError after the store was written"),
    Case("brackets-in-paths-print-as-they-are",
         lambda r: ("ingest", "police-uk", r / "p [copy]" / "x.csv", "--store", r / "s [copy]"),
         exit_code=0, setup=_bracketed_input, after=_store_made("s [copy]", "s [copy]"),
         why="'s [copy]/reports' printed as 's /reports'"),
    Case("markup-in-crime-type-evaluate-claim",
         lambda r: ("evaluate-claim", "--store", r / "marked", "--area", WARDS,
                    "--area-filter", "NAME=Bishopsgate", "--start", "2020-06", "--end",
                    "2020-12", "--category", MARKUP_TYPE, "--out", r / "claim"),
         exit_code=0, setup=_markup_crime_type, after=_printed(MARKUP_TYPE),
         why="MarkupError printing the claim's table"),
    # item 9: file-system errors
    Case("ingest-store-is-a-file",
         lambda r: ("ingest", "police-uk", A_MONTH, "--store", r / "afile"),
         error=r"--store .*afile is a file, not a folder", setup=_a_file("afile"),
         after=_file_kept("afile"), why="FileExistsError traceback"),
    Case("ingest-store-under-a-file",
         lambda r: ("ingest", "police-uk", A_MONTH, "--store", r / "afile" / "s"),
         error=r"--store .*afile.* is a file, not a folder", setup=_a_file("afile"),
         after=_file_kept("afile"), why="NotADirectoryError traceback"),
    Case("cube-store-is-a-file", lambda r: ("cube", "--store", r / "afile"),
         error=r"--store .*afile is a file, not a folder", setup=_a_file("afile"),
         after=_file_kept("afile"), why="FileExistsError traceback"),
    Case("backtest-out-under-a-file",
         lambda r: ("backtest", "--store", r / "store", *BACKTEST, "--out", r / "afile" / "x"),
         error=r"--out .*afile.* is a file, not a folder", setup=_a_file("afile"),
         untouched=("store",), after=_file_kept("afile"),
         why="NotADirectoryError traceback after the backtest ran"),
    Case("forecast-out-is-a-file",
         lambda r: ("forecast", "--store", r / "store", *FORECAST, "--out", r / "afile"),
         error=r"--out .*afile is a file, not a folder", setup=_a_file("afile"),
         untouched=("store",), after=_file_kept("afile"),
         why="FileExistsError traceback after the forecast was computed"),
    Case("ingest-read-only-store",
         lambda r: ("ingest", "police-uk", A_MONTH, "--store", r / "store"),
         error=r"(?i)store.*read-only file system", untouched=("store",),
         why="OSError [Errno 30] traceback"),
    Case("cube-read-only-store", lambda r: ("cube", "--store", r / "store"),
         error=r"(?i)store.*read-only file system", untouched=("store",),
         why="OSError [Errno 30] traceback"),
    Case("forecast-read-only-out",
         lambda r: ("forecast", "--store", r / "store", *FORECAST, "--out", r / "ro" / "out"),
         error=r"(?i)out.*read-only file system", setup=_folder("ro/out"),
         untouched=("store", "ro"), why="OSError [Errno 30] traceback"),
    Case("backtest-out-permission-denied",
         lambda r: ("backtest", "--store", r / "store", *BACKTEST, "--out", r / "ro" / "out"),
         error=r"(?i)out.*permission denied", setup=_folder("ro/out"),
         untouched=("store", "ro"), why="PermissionError traceback"),
    Case("ingest-disk-full",
         lambda r: ("ingest", "police-uk", A_MONTH, "--store", r / "store"),
         error=r"(?i)no space left", untouched=("store",), why="OSError [Errno 28] traceback"),
    Case("cube-disk-full", lambda r: ("cube", "--store", r / "store"),
         error=r"(?i)no space left", untouched=("store",), why="OSError [Errno 28] traceback"),
    Case("forecast-disk-full",
         lambda r: ("forecast", "--store", r / "store", *FORECAST, "--out", r / "out"),
         error=r"(?i)no space left", untouched=("store",), why="OSError [Errno 28] traceback"),
    Case("ingest-tmpdir-full",
         lambda r: ("ingest", "police-uk", A_MONTH, "--store", r / "store"),
         error=r"(?i)no space left.*TMPDIR", untouched=("store",),
         why="OSError [Errno 28] traceback from $TMPDIR"),
    # item 10: --param values and --covariates
    Case("param-k-not-a-number",
         lambda r: ("backtest", "--store", r / "store", "--models", "naive-mean", *RANGE,
                    "--param", "naive-mean.k=abc", "--out", r / "out"),
         error=r"naive-mean: parameter k must be an integer, got 'abc'",
         untouched=("store",), after=_no_out, why="the key was not named"),
    Case("param-max-periods-not-a-number",
         lambda r: ("backtest", "--store", r / "store", "--models", "self-exciting-counts",
                    *RANGE,
                    "--param", "self-exciting-counts.max_periods=abc", "--out", r / "out"),
         error=r"self-exciting-counts: parameter max_periods must be an integer",
         untouched=("store",), why="the key was not named"),
    # issue 14: targets, boxes and offsets
    Case("backtest-unknown-target",
         lambda r: ("backtest", "--store", r / "store", *BACKTEST, "--target", "nope",
                    "--out", r / "out"),
         error=r"unknown target 'nope': choose from all, crime, harm, property, .*burglary",
         untouched=("store",), after=_no_out, why="a new option: one line listing targets"),
    Case("forecast-unknown-target",
         lambda r: ("forecast", "--store", r / "store", *FORECAST, "--target", "nope",
                    "--out", r / "out"),
         error=r"unknown target 'nope': choose from all, crime, harm",
         untouched=("store",), after=_no_out, why="a new option: one line listing targets"),
    Case("cube-unknown-target",
         lambda r: ("cube", "--store", r / "store", "--target", "Nope"),
         error=r"unknown target 'Nope': choose from all, crime, harm",
         untouched=("store",), why="the stored cube is kept as it was"),
    Case("demo-unknown-target",
         lambda r: ("demo", "--out", r / "out", "--target", "nope"),
         error=r"unknown target 'nope': choose from all, crime, harm",
         after=_no_out, why="refused before the sample is ingested into OUT/store"),
    Case("backtest-boxes-zero",
         lambda r: ("backtest", "--store", r / "store", *BACKTEST, "--boxes", "0",
                    "--out", r / "out"),
         error=r"backtest\.boxes.*greater than or equal to 1", untouched=("store",),
         after=_no_out, why="a new option"),
    Case("backtest-offsets-three",
         lambda r: ("backtest", "--store", r / "store", *BACKTEST, "--offsets", "3",
                    "--out", r / "out"),
         error=r"backtest\.offsets.*must be 1, 2 or 4", untouched=("store",),
         after=_no_out, why="a new option"),
    Case("covariates-none-alone",
         lambda r: ("backtest", "--store", r / "store", "--models", "naive-mean,glm", *RANGE,
                    "--covariates", "none", "--out", r / "out"),
         error=r"--covariates none alone compares nothing", untouched=("store",),
         why="KeyError: 'model'"),
    Case("covariates-without-a-covariate-model",
         lambda r: ("backtest", "--store", r / "store", *BACKTEST, "--covariates",
                    "none,calendar", "--out", r / "out"),
         error=r"--covariates needs a model that takes covariates", untouched=("store",),
         why="KeyError: 'model'"),
    # item 11: --config files
    Case("config-is-a-folder",
         lambda r: ("cube", "--store", r / "store", "--config", r / "conf"),
         error=r"config file .*conf is a folder", setup=_folder("conf"), untouched=("store",),
         why="IsADirectoryError traceback"),
    Case("config-not-utf8",
         lambda r: ("cube", "--store", r / "store", "--config", r / "latin1.toml"),
         error=r"config file .*latin1.toml is not UTF-8", untouched=("store",),
         setup=_write("latin1.toml", '[hotspot]\narea_filter = "NAME=Bishopsgâte"\n'
                      .encode("latin-1")),
         why="UnicodeDecodeError traceback"),
    Case("config-hotspot-is-a-number",
         lambda r: ("cube", "--store", r / "store", "--config", r / "five.toml"),
         error=r"'hotspot' is 5, not a table", setup=_write("five.toml", b"hotspot = 5\n"),
         untouched=("store",), why="AttributeError: 'int' object has no attribute 'items'"),
    Case("config-section-is-a-number",
         lambda r: ("backtest", "--store", r / "store", *BACKTEST, "--config", r / "b.toml",
                    "--out", r / "out"),
         error=r"hotspot.backtest is 5, not a table",
         setup=_write("b.toml", b"[hotspot]\nbacktest = 5\n"), untouched=("store",),
         why="accepted silently: --n-bootstrap replaced the bad section whole"),
    # item 12: --area needs polygons
    Case("area-is-a-csv-ingest",
         lambda r: ("ingest", "police-uk", A_MONTH, "--store", r / "new",
                    "--area", next(A_MONTH.glob("*.csv"))),
         error=r"has no geometry: a study area needs a boundary file with polygons",
         untouched=("new",), why="AttributeError: 'DataFrame' object has no attribute 'crs'"),
    Case("area-is-a-csv-cube",
         lambda r: ("cube", "--store", r / "store", "--area", next(A_MONTH.glob("*.csv"))),
         error=r"has no geometry: a study area needs a boundary file with polygons",
         untouched=("store",),
         why="AttributeError: 'DataFrame' object has no attribute 'crs'"),
    Case("area-of-points-cube",
         lambda r: ("cube", "--store", r / "store", "--area", r / "points.geojson"),
         error=r"has no area .*boundary file with polygons", setup=_points,
         untouched=("store",), why="the message did not say what is needed"),
]

#: Faults injected after the setup, while the command runs.
FAULTS: dict[str, Callable[[pytest.MonkeyPatch, Path], None]] = {
    "ingest-read-only-store": read_only("store"),
    "cube-read-only-store": read_only("store"),
    # the whole disk under ROOT/ro: a folder beside --out cannot be made either
    "forecast-read-only-out": read_only("ro"),
    "backtest-out-permission-denied": no_permission("ro"),
    "ingest-disk-full": disk_full("store"),
    "cube-disk-full": disk_full("store"),
    "forecast-disk-full": disk_full("out"),
    "ingest-tmpdir-full": tmpdir_full,
}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_edges(case: Case, tmp_path: Path, base_store: Path,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    copy_store(base_store, tmp_path / "store")
    if case.name in FAULTS:
        # the fault must hit the command, not the setup that prepares its folder
        if case.setup is not None:
            case.setup(tmp_path)
        case = Case(**{**case.__dict__, "setup": None})
        FAULTS[case.name](monkeypatch, tmp_path)
    check(case, tmp_path)
