"""Hostile cases for ingest discovery and parsing (issue 13, items 1, 2, 3, 13, 14):
linked month folders, spreadsheet month forms, day-first dates, CR-only line endings and
runs whose every row is quarantined. Each case runs ``hotspot ingest ...`` as a user would.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from hotspot.ingest.store import read_events, read_quarantine
from tests.hostile.harness import SAMPLE, WARDS, Case, Result, check, copy_store

MONTH = "2020-01"
SAMPLE_FILE = SAMPLE / MONTH / f"{MONTH}-city-of-london-street.csv"


def _records(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _n_rows(*paths: Path) -> int:
    return sum(len(_records(p)) for p in paths)


def _write_street(path: Path, rows: list[dict[str, str]], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["Crime ID"],
                            lineterminator=newline)
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode())
    return path


def _month_file(root: Path, month_text: str | None) -> Path:
    """The sample's 2020-01 file with every ``Month`` replaced by ``month_text``."""
    rows = _records(SAMPLE_FILE)
    for row in rows:
        row["Month"] = month_text if month_text is not None else row["Month"]
    return _write_street(root / "in" / MONTH / SAMPLE_FILE.name, rows)


def _ingest(root: Path, *paths: object, area: bool = True) -> list[object]:
    args: list[object] = ["ingest", "police-uk", *paths, "--store", root / "store"]
    return args + (["--area", WARDS] if area else [])


def _report(root: Path) -> dict:
    return json.loads(sorted((root / "store" / "reports").glob("*.json"))[-1].read_text())


def _base(root: Path, base: Path) -> None:
    copy_store(base, root / "store")


def _events_of(store: Path, month: str = MONTH) -> int:
    return len(read_events(store, months=[month]))


# --------------------------------------------------------------------------- item 1: links


def _linked_tree(root: Path, linked: tuple[str, ...], real: tuple[str, ...]) -> None:
    for month in linked:  # the months live elsewhere; the tree holds links to them
        target = root / "elsewhere" / month
        target.mkdir(parents=True)
        name = f"{month}-city-of-london-street.csv"
        (target / name).write_bytes((SAMPLE / month / name).read_bytes())
        (root / "tree").mkdir(exist_ok=True)
        os.symlink(target, root / "tree" / month, target_is_directory=True)
    for month in real:
        name = f"{month}-city-of-london-street.csv"
        (root / "tree" / month).mkdir(parents=True)
        (root / "tree" / month / name).write_bytes((SAMPLE / month / name).read_bytes())


def _every_row_of(months: tuple[str, ...]):
    def after(root: Path, result: Result) -> None:
        expected = _n_rows(*(SAMPLE / m / f"{m}-city-of-london-street.csv" for m in months))
        report = _report(root)
        assert report["n_rows"] == expected
        assert report["n_events"] + report["n_quarantined"] == expected
        assert sorted({c["month"] for c in report["counts"]}) == sorted(months)
    return after


def _loop_setup(root: Path) -> None:
    _linked_tree(root, ("2020-01",), ("2020-02",))
    os.symlink(root / "tree", root / "tree" / "2020-02" / "again", target_is_directory=True)


# --------------------------------------------------------------------------- item 2: months


def _same_as(base: Path):
    def after(root: Path, result: Result) -> None:
        """The month is read as 2020-01: as many events as the clean sample file gives."""
        events = read_events(root / "store")
        assert len(events) == _events_of(base) > 0
        assert set(events["time"].dt.strftime("%Y-%m")) == {MONTH}
        assert not len(read_quarantine(root / "store").query("reason == 'bad_month'"))
    return after


def _copy_month(root: Path, month: str) -> None:
    """The sample's ``month`` file into ``root/in``, beside the case's own."""
    name = f"{month}-city-of-london-street.csv"
    (root / "in" / month).mkdir(parents=True)
    (root / "in" / month / name).write_bytes((SAMPLE / month / name).read_bytes())


def _header_only_beside(root: Path) -> None:
    (root / "in" / MONTH).mkdir(parents=True)
    (root / "in" / MONTH / SAMPLE_FILE.name).write_text(
        SAMPLE_FILE.read_text().splitlines()[0] + "\n")
    _copy_month(root, "2020-02")


# --------------------------------------------------------------------------- item 3: dates

CITY = ("-0.090000", "51.515000")


def _generic_csv(root: Path, times: list[str], newline: str = "\n") -> None:
    lines = ["date,lon,lat", *(f"{t},{CITY[0]},{CITY[1]}" for t in times)]
    (root / "city.csv").write_bytes((newline.join(lines) + newline).encode())


def _csv_args(*extra: object):
    def args(root: Path) -> list[object]:
        return ["ingest", "csv", root / "city.csv", "--store", root / "store",
                "--time-col", "date", "--lon-col", "lon", "--lat-col", "lat", *extra]
    return args


DAY_FIRST = [f"{d:02d}/01/2020 14:30" for d in range(1, 32)]
AMBIGUOUS = [f"{d:02d}/{m:02d}/2020 10:00" for m in (1, 2, 3) for d in range(1, 13)]
MONTH_FIRST = [f"01/{d:02d}/2020 14:30" for d in range(1, 32)]


def _all_january(root: Path, result: Result) -> None:
    times = read_events(root / "store")["time"]
    assert len(times) == 31 and set(times.dt.month) == {1} and times.dt.day.max() == 31


def _warns_unreadable(root: Path, result: Result) -> None:
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    text = " ".join(" ".join(result.output.split()).split("warning:")[1:])
    assert warnings, result.output
    assert re.search(r"5 of 45 rows \(11\.1%\) have a --time-col 'date' that cannot be read "
                     r"\(e\.g\. row 41: 'yesterday'\)", text), text
    assert len(read_events(root / "store")) == 40


# --------------------------------------------------------------------------- item 13: CR


def _cr_only_police(root: Path) -> None:
    rows = _records(SAMPLE_FILE)
    _write_street(root / "in" / SAMPLE_FILE.name, rows, newline="\r")


def _cr_rows_all_read(base: Path):
    def after(root: Path, result: Result) -> None:
        report = _report(root)
        assert report["n_rows"] == _n_rows(SAMPLE_FILE)
        assert report["n_events"] == _events_of(base)
    return after


# --------------------------------------------------------------------------- item 14: all bad


def _far_area(root: Path) -> None:
    far = gpd.GeoDataFrame({"name": ["far"]}, geometry=[box(0, 0, 1000, 1000)], crs="EPSG:27700")
    far.to_file(root / "far.gpkg")


def _one_file_all_bad(root: Path) -> None:
    rows = _records(SAMPLE_FILE)
    for row in rows:
        row["Longitude"] = row["Latitude"] = ""
    _write_street(root / "in" / "2019-06" / "2019-06-city-of-london-street.csv",
                  [{**r, "Month": "2019-06"} for r in rows])
    _copy_month(root, "2020-02")


def _warns_all_quarantined(root: Path, result: Result) -> None:
    flat = " ".join(result.output.split())
    assert re.search(r"warning: \S*2019-06-city-of-london-street\.csv: all [\d,]+ rows were "
                     r"quarantined: no_coordinates", flat), result.output
    assert _events_of(root / "store", "2020-02") > 0


def cases(base: Path) -> list[Case]:
    def on_base(extra=None):
        def setup(root: Path) -> None:
            _base(root, base)
            if extra:
                extra(root)
        return setup

    return [
        # item 1
        Case("linked-month-folders", lambda r: _ingest(r, r / "tree"), exit_code=0,
             setup=lambda r: _linked_tree(r, ("2020-01", "2020-02"), ("2020-03",)),
             after=_every_row_of(("2020-01", "2020-02", "2020-03")),
             why="rglob skipped linked folders: 2 of 3 months lost without a word"),
        Case("all-linked-tree", lambda r: _ingest(r, r / "tree"), exit_code=0,
             setup=lambda r: _linked_tree(r, ("2020-01", "2020-02"), ()),
             after=_every_row_of(("2020-01", "2020-02")),
             why="was 'holds no police.uk street-level file'"),
        Case("link-loop-in-tree", lambda r: _ingest(r, r / "tree"), exit_code=0,
             setup=_loop_setup, after=_every_row_of(("2020-01", "2020-02")),
             why="a link back up the tree is entered once, not forever"),
        Case("broken-link", lambda r: _ingest(r, r / "tree"), error=r"is a link to .*which "
             r"does not exist", untouched=("store",),
             setup=lambda r: (_linked_tree(r, (), ("2020-02",)), os.symlink(
                 r / "gone", r / "tree" / "2020-01-city-of-london-street.csv")),
             why="a month the user gave must not vanish silently"),
        # item 2
        *(Case(f"month-as-{label}", lambda r: _ingest(r, r / "in"), exit_code=0,
               setup=lambda r, text=text: _month_file(r, text), after=_same_as(base),
               why="was 797 bad_month and the month emptied")
          for label, text in (("2020-1", "2020-1"), ("01-2020", "01/2020"),
                              ("Jan-20", "Jan-20"), ("2020-01-01", "2020-01-01"))),
        Case("unusable-month-keeps-store", lambda r: _ingest(r, r / "in"),
             error=r"would replace 2020-01 city-of-london \([\d,]+ events in the store\) with "
                   r"no event: all [\d,]+ of its rows are quarantined: bad_month",
             untouched=("store",), setup=on_base(lambda r: (_month_file(r, "sometime"),
                                                            _copy_month(r, "2020-02"))),
             why="a file of unreadable months replaced the good month with nothing"),
        Case("header-only-beside-a-month", lambda r: _ingest(r, r / "in"),
             error=r"would replace 2020-01 city-of-london .*it has no rows",
             untouched=("store",), setup=on_base(_header_only_beside),
             why="a header-only download emptied a month the store held"),
        # item 3
        Case("dayfirst-refused", _csv_args(), error=r"holds day-first dates.*row 13: "
             r"'13/01/2020 14:30'.*--dayfirst", untouched=("store",),
             setup=lambda r: _generic_csv(r, DAY_FIRST),
             why="was 19 bad_time, the rest spread over the year, exit 0"),
        Case("dayfirst-given", _csv_args("--dayfirst"), exit_code=0,
             setup=lambda r: _generic_csv(r, DAY_FIRST), after=_all_january),
        Case("dayfirst-by-format", _csv_args("--time-format", "%d/%m/%Y %H:%M"), exit_code=0,
             setup=lambda r: _generic_csv(r, DAY_FIRST), after=_all_january),
        Case("date-order-unknown", _csv_args(), error=r"day and month cannot be told apart",
             untouched=("store",), setup=lambda r: _generic_csv(r, AMBIGUOUS),
             why="every field <= 12: read month-first by a guess"),
        Case("monthfirst-shown", _csv_args(), exit_code=0,
             setup=lambda r: _generic_csv(r, MONTH_FIRST), after=_all_january,
             why="a second field above 12 shows the order: no option needed"),
        Case("unreadable-times-warned", _csv_args(), exit_code=0,
             setup=lambda r: _generic_csv(r, [f"2020-01-{d:02d} 10:00" for d in range(1, 29)]
                                          + [f"2020-02-{d:02d} 10:00" for d in range(1, 13)]
                                          + ["yesterday"] * 5),
             after=_warns_unreadable, why="5 bad_time rows in 45 passed without a word"),
        # item 13
        Case("cr-only-police-uk", lambda r: _ingest(r, r / "in"), exit_code=0,
             setup=_cr_only_police, after=_cr_rows_all_read(base), why="was _csv.Error traceback"),
        Case("cr-only-csv", _csv_args(), exit_code=0,
             setup=lambda r: _generic_csv(r, MONTH_FIRST, newline="\r"), after=_all_january,
             why="was _csv.Error traceback"),
        # item 14
        Case("epoch-times", _csv_args("--crs", "EPSG:27700"),
             error=r"nothing to ingest: all 31 rows of \S*city\.csv "
             r"were quarantined: bad_time 31 \(e\.g\. row 1: '1577836800'\)",
             untouched=("store",),
             setup=lambda r: _generic_csv(r, [str(1577836800 + 3600 * i) for i in range(31)]),
             why="exit 0, an empty store, no warning"),
        Case("time-format-matches-nothing",
             _csv_args("--time-format", "%Y%m%d", "--crs", "EPSG:27700"),
             error=r"nothing to ingest: .*bad_time 31", untouched=("store",),
             setup=lambda r: _generic_csv(r, MONTH_FIRST)),
        Case("area-misses-the-data", lambda r: [*_ingest(r, SAMPLE_FILE, area=False),
                                                "--area", r / "far.gpkg"],
             error=r"nothing to ingest: .*outside_study_area [\d,]+ .*--area",
             untouched=("store",), setup=on_base(_far_area),
             why="exit 0 and the month replaced by quarantine only"),
        Case("one-file-all-quarantined-warned", lambda r: _ingest(r, r / "in"), exit_code=0,
             setup=_one_file_all_bad, after=_warns_all_quarantined),
    ]


_IDS = [c.name for c in cases(Path("."))]


@pytest.mark.parametrize("index", range(len(_IDS)), ids=_IDS)
def test_ingest_parsing(index: int, tmp_path: Path, base_store: Path) -> None:
    check(cases(base_store)[index], tmp_path)


def test_dates_in_a_frame_are_still_exact(tmp_path: Path) -> None:
    """--dayfirst keeps minutes: the day-first sample's first time is 2020-01-01 14:30."""
    _generic_csv(tmp_path, DAY_FIRST)
    case = Case("minutes", _csv_args("--dayfirst"), exit_code=0)
    check(case, tmp_path)
    first = read_events(tmp_path / "store")["time"].iloc[0]
    assert first == pd.Timestamp("2020-01-01 14:30")
