"""Hostile cases for committing an ingest as one unit (issue 13, items 5 and 18b): dead
runs' leftovers, a full disk, stores of the layout before generations, an earlier copy of
an id the store holds in a later month."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hotspot.ingest.store import ensure_committed, generation, read_events
from tests._faults import fill_disk_at
from tests.hostile.harness import SAMPLE, WARDS, Case, Result, check, copy_store

JAN = SAMPLE / "2019-01"
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context\n")


def _legacy(root: Path, base: Path) -> None:
    """The base store in the layout before generations: real folders, no ``current``."""
    current = base / os.readlink(base / "current")
    shutil.copytree(current, root / "store")


def _with_leftovers(root: Path, base: Path) -> None:
    copy_store(base, root / "store")
    junk = root / "store" / "generations" / ".staging-deadbeef" / "events" / "month=2019-01"
    junk.mkdir(parents=True)
    (junk / "city-of-london.parquet").write_bytes(b"PAR1 half")
    (root / "store" / "generations" / "000099").mkdir()  # renamed, never made current


def _no_leftovers(root: Path, result: Result) -> None:
    store = root / "store"
    assert not list(store.rglob(".*")), list(store.rglob(".*"))
    assert not (store / "generations" / "000099").exists()
    ensure_committed(store)


def _migrated(root: Path, result: Result) -> None:
    store = root / "store"
    for name in ("events", "quarantine", "reports", "store.json", "area.gpkg"):
        assert (store / name).is_symlink(), name
    assert generation(store) == 1
    _no_leftovers(root, result)


def _later_copy(root: Path, base: Path) -> None:
    copy_store(base, root / "store")
    first = pq.read_table(next((root / "store/events/month=2019-01").glob("*.parquet")))
    crime_id = next(i for i in first.column("event_id").to_pylist() if not i.startswith("asb-"))
    # a file for 2018-12 bringing an earlier copy of one of January's crimes
    (root / "in").mkdir()
    (root / "in" / "2018-12-city-of-london-street.csv").write_text(
        HEADER + f"{crime_id},2018-12,City,City,-0.09,51.515,On Street,E01000001,City 001A,"
        "Burglary,,\n")


def _reads_like_base(base: Path):
    def after(root: Path, result: Result) -> None:
        assert read_events(root / "store").equals(read_events(base))
    return after


def _nothing_committed(root: Path, result: Result) -> None:
    store = root / "new"
    assert not (store / "store.json").exists() and not list(store.rglob("*.parquet"))
    assert not list(store.rglob(".*"))


def _cases(base: Path) -> list[Case]:
    return [
        Case("ingest-cleans-dead-runs-staging",
             lambda r: ("ingest", "police-uk", JAN, "--store", r / "store"), exit_code=0,
             setup=lambda r: _with_leftovers(r, base), after=_no_leftovers,
             why="a killed run's staging folder and uncommitted generation are removed"),
        Case("enospc-midway-changes-nothing",
             lambda r: ("ingest", "police-uk", SAMPLE, "--store", r / "store"),
             error=r"cannot write store .*No space left on device.*nothing was changed",
             untouched=("store",), setup=lambda r: copy_store(base, r / "store"),
             why="disk full on the 11th partition file: the old generation stays"),
        Case("enospc-in-new-store-leaves-no-store",
             lambda r: ("ingest", "police-uk", SAMPLE, "--store", r / "new"),
             error=r"No space left on device", after=_nothing_committed,
             why="a new store is not half-created (no events without area.gpkg)"),
        Case("legacy-store-is-migrated-on-first-write",
             lambda r: ("ingest", "police-uk", JAN, "--store", r / "store"), exit_code=0,
             setup=lambda r: _legacy(r, base), after=_migrated,
             why="a store of the previous layout reads as generation 0 and migrates"),
        Case("legacy-store-killed-mid-write-refused",
             lambda r: ("ingest", "police-uk", JAN, "--store", r / "store"), exit_code=0,
             setup=lambda r: (_legacy(r, base), (
                 r / "store/events/month=2019-02/.city-of-london.parquet.tmp-0badc0de"
             ).write_bytes(b"PAR1")),
             after=_migrated, why="the old layout's temporary files are cleaned too"),
        Case("earlier-copy-of-a-stored-id-refused",
             lambda r: ("ingest", "police-uk", r / "in", "--store", r / "store"),
             error=r"Crime ID .* of 2018-12 city-of-london is already an event of the store's "
                   r"later partition 2019-01 city-of-london",
             untouched=("store",), setup=lambda r: _later_copy(r, base),
             why="the result must not depend on the order months were ingested"),
        Case("reingest-of-same-month-is-a-clean-new-generation",
             lambda r: ("ingest", "police-uk", SAMPLE, "--store", r / "store", "--area", WARDS),
             exit_code=0,
             setup=lambda r: copy_store(base, r / "store"), after=_reads_like_base(base),
             why="re-ingesting everything gives the same events"),
    ]


CASE_NAMES = [
    "ingest-cleans-dead-runs-staging", "enospc-midway-changes-nothing",
    "enospc-in-new-store-leaves-no-store", "legacy-store-is-migrated-on-first-write",
    "legacy-store-killed-mid-write-refused", "earlier-copy-of-a-stored-id-refused",
    "reingest-of-same-month-is-a-clean-new-generation",
]
NO_SPACE = {"enospc-midway-changes-nothing", "enospc-in-new-store-leaves-no-store"}


@pytest.mark.parametrize("name", CASE_NAMES)
def test_ingest_commit_case(name, base_store, tmp_path, monkeypatch):
    case = {c.name: c for c in _cases(base_store)}[name]
    if name in NO_SPACE:
        fill_disk_at(monkeypatch)
    check(case, tmp_path)


def test_the_case_list_is_complete(base_store):
    assert [c.name for c in _cases(base_store)] == CASE_NAMES
