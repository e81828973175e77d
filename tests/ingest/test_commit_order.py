"""Duplicate ids resolve the same whatever the order of ingests (issue 13, item 18): the
copy with the smallest (month, source, file, row) wins, in one run or across runs; a run
that would need to demote a copy the store already holds as an event is refused."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

from hotspot.core.errors import DataError
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import read_events, read_quarantine

TODAY = datetime.date(2019, 6, 15)


def _ingest(paths, store):
    return ingest_police_uk(list(paths), store, today=TODAY)


def _quarantine(store):
    table = read_quarantine(store)
    table["file"] = table["file"].str.rsplit("/", n=1).str[-1]  # where the file lay: no matter
    return table.sort_values(["file", "row"], ignore_index=True)


@pytest.fixture
def months(data):
    """January, February and March files sharing the id ``x`` (and ``y`` in Feb/Mar)."""
    row = data.street_row
    jan = data.street_file("2019-01", "city-of-london", [row("x"), row("a")])
    feb = data.street_file("2019-02", "city-of-london",
                           [row("x", "2019-02", data.INSIDE_2), row("y", "2019-02")])
    mar = data.street_file("2019-03", "city-of-london",
                           [row("b", "2019-03"), row("y", "2019-03", data.INSIDE_2)])
    return jan, feb, mar


def test_argument_order_does_not_matter_in_one_run(months, tmp_path):
    jan, feb, mar = months
    _ingest([jan, feb, mar], tmp_path / "a")
    _ingest([mar, jan, feb], tmp_path / "b")
    pd.testing.assert_frame_equal(read_events(tmp_path / "a"), read_events(tmp_path / "b"))
    pd.testing.assert_frame_equal(_quarantine(tmp_path / "a"), _quarantine(tmp_path / "b"))
    events = read_events(tmp_path / "a")
    assert events.set_index("event_id")["time"].dt.month.to_dict() == {
        "x": 1, "a": 1, "y": 2, "b": 3}  # the earliest copy of each id won
    assert sorted(_quarantine(tmp_path / "a")["reason"]) == ["duplicate_crime_id"] * 2


def test_one_run_and_runs_in_month_order_agree(months, tmp_path):
    jan, feb, mar = months
    _ingest([jan, feb, mar], tmp_path / "one")
    for path in (jan, feb, mar):
        _ingest([path], tmp_path / "runs")
    pd.testing.assert_frame_equal(read_events(tmp_path / "one"), read_events(tmp_path / "runs"))
    pd.testing.assert_frame_equal(_quarantine(tmp_path / "one"), _quarantine(tmp_path / "runs"))


def test_an_earlier_month_after_a_later_one_is_refused_then_one_run_agrees(months, tmp_path):
    jan, feb, mar = months
    store = tmp_path / "store"
    _ingest([mar], store)
    events, quarantine = read_events(store), read_quarantine(store)
    with pytest.raises(DataError, match=r"Crime ID 'y' .* of 2019-02 city-of-london is already "
                                        r"an event of the store's later partition 2019-03"):
        _ingest([feb], store)
    pd.testing.assert_frame_equal(read_events(store), events)  # nothing was written
    pd.testing.assert_frame_equal(read_quarantine(store), quarantine)
    _ingest([feb, mar], store)  # as the message says: both months in one run
    with pytest.raises(DataError, match=r"Crime ID 'x' .* later partition 2019-02"):
        _ingest([jan], store)
    _ingest([jan, feb, mar], store)
    _ingest([jan, feb, mar], tmp_path / "one")
    pd.testing.assert_frame_equal(read_events(store), read_events(tmp_path / "one"))
    pd.testing.assert_frame_equal(_quarantine(store), _quarantine(tmp_path / "one"))


def test_reingesting_a_corrected_earlier_month_keeps_the_order_independent_result(
        months, data, tmp_path):
    jan, feb, mar = months
    store = tmp_path / "store"
    _ingest([jan, feb, mar], store)
    _ingest([jan], store)  # January again: its x still wins over February's quarantined copy
    _ingest([jan, feb, mar], tmp_path / "one")
    pd.testing.assert_frame_equal(read_events(store), read_events(tmp_path / "one"))
    pd.testing.assert_frame_equal(_quarantine(store), _quarantine(tmp_path / "one"))
