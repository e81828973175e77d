"""Generic timestamped CSV → event store: time, coordinates, ids, CRS choice, errors."""

from __future__ import annotations

import datetime
import gzip
import json
import re
import time

import numpy as np
import pandas as pd
import pytest

from hotspot.core.area import bbox_area
from hotspot.core.errors import ConfigError, DataError
from hotspot.ingest._coordinates import project
from hotspot.ingest.csv_source import ingest_csv
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import read_events, read_quarantine, read_store_meta

TODAY = datetime.date(2016, 12, 31)
COLUMNS = ["when", "lon", "lat", "kind", "ref"]


def rows(*records: tuple[str, str, str, str, str]) -> list[dict[str, str]]:
    return [dict(zip(COLUMNS, record, strict=True)) for record in records]


CHICAGO = rows(
    ("2016-01-05 23:59", "-87.6277", "41.7922", "street", "r1"),  # 1 event
    ("2016-01-31 00:01", "-87.6683", "41.7513", "residence", "r2"),  # 2 event
    ("2016-02-01 08:30", "-87.6242", "41.8727", "street", "r3"),  # 3 event
    ("not a date", "", "", "street", "r4"),  # 4 bad_time beats no_coordinates
    ("2016-02-02 10:00", "", "41.8", "street", "r5"),  # 5 no_coordinates
    ("2016-02-02 10:00", "-87.6", "north", "street", "r6"),  # 6 bad_coordinates
    ("2017-01-01 00:00", "-91.0", "41.8", "street", "r7"),  # 7 future_time beats outside
    ("2016-02-03 12:00", "-91.0", "41.8", "street", "r8"),  # 8 outside_study_area
    ("2016-02-04 12:00", "-87.62", "41.79", "street", "r1"),  # 9 duplicate_crime_id
    ("2016-12-31 23:59", "-87.62", "41.79", "street", ""),  # 10 event, no id
)


@pytest.fixture
def chicago_csv(data, tmp_path):
    return data.write_csv(tmp_path / "Chicago Assaults.csv", CHICAGO, COLUMNS)


@pytest.fixture(scope="module")
def chicago_area():
    return bbox_area(-88.0, 41.6, -87.5, 42.0)


def ingest(path, store, **kwargs):
    options = {"time_col": "when", "lon_col": "lon", "lat_col": "lat", "today": TODAY}
    return ingest_csv(path, store, **(options | kwargs))


def test_reasons_precedence_and_minute_timestamps(data, chicago_csv, tmp_path, chicago_area):
    store = tmp_path / "store"
    report = ingest(chicago_csv, store, category_col="kind", id_col="ref", area=chicago_area)

    assert data.reasons_by_row(read_quarantine(store), chicago_csv.name) == {
        4: "bad_time",
        5: "no_coordinates",
        6: "bad_coordinates",
        7: "future_time",
        8: "outside_study_area",
        9: "duplicate_crime_id",
    }
    assert report.n_rows == 10 == report.n_events + report.n_quarantined
    events = read_events(store).set_index("event_id")
    assert events.loc["r1", "time"] == pd.Timestamp("2016-01-05 23:59")
    assert events.loc["r2", "time"] == pd.Timestamp("2016-01-31 00:01")
    assert events.loc["r1", "category"] == "street"
    assert events.loc["chicago-assaults:10", "time"] == pd.Timestamp("2016-12-31 23:59")
    assert (events.loc["r1", "lon"], events.loc["r1", "lat"]) == (-87.6277, 41.7922)
    assert pd.isna(events["area_code"]).all() and set(events["source"]) == {"chicago-assaults"}
    counts = {(c.month, c.reason): c.n for c in report.counts}
    assert counts[("2016-01", "event")] == 2 and counts[("invalid", "bad_time")] == 1
    assert counts[("2017-01", "future_time")] == 1 and counts[("2016-12", "event")] == 1
    assert read_store_meta(store) == {"crs": "EPSG:32616", "time_resolution": "timestamp"}
    assert sorted(p.name for p in (store / "events").iterdir()) == [
        "month=2016-01", "month=2016-02", "month=2016-12"
    ]  # fmt: skip


def test_default_ids_category_and_source(chicago_csv, tmp_path):
    ingest(chicago_csv, tmp_path / "store")
    events = read_events(tmp_path / "store")
    assert set(events["category"]) == {"all"}
    assert "chicago-assaults:1" in set(events["event_id"])
    # without an id column nothing is a duplicate: r1 twice gives two events
    assert {"chicago-assaults:1", "chicago-assaults:9"} <= set(events["event_id"])


def test_gzip_gives_the_same_store_as_plain(data, chicago_csv, tmp_path):
    packed = tmp_path / "chicago-assaults.csv.gz"
    packed.write_bytes(gzip.compress(chicago_csv.read_bytes()))
    plain = ingest(chicago_csv, tmp_path / "plain", id_col="ref", source="chicago-assaults")
    zipped = ingest(packed, tmp_path / "zipped", id_col="ref")
    pd.testing.assert_frame_equal(read_events(tmp_path / "plain"), read_events(tmp_path / "zipped"))
    assert [f.n_rows for f in zipped.files] == [10] == [f.n_rows for f in plain.files]
    assert [f.file for f in zipped.files] == [str(packed)]


def test_projected_coordinates_in_input_crs(data, tmp_path):
    x, y = project(np.array([-0.09]), np.array([51.515]), "EPSG:4326", "EPSG:27700")
    records = [{"t": "2016-01-01 10:00", "e": repr(float(x[0])), "n": repr(float(y[0]))}]
    records.append({"t": "2016-01-01 11:00", "e": "0", "n": "0"})
    path = data.write_csv(tmp_path / "london.csv", records, ["t", "e", "n"])
    report = ingest_csv(
        path,
        tmp_path / "store",
        time_col="t",
        x_col="e",
        y_col="n",
        input_crs="EPSG:27700",
        today=TODAY,
    )
    events = read_events(tmp_path / "store")
    assert read_store_meta(tmp_path / "store")["crs"] == "EPSG:27700"
    assert events["lon"].iloc[0] == pytest.approx(-0.09, abs=1e-6)
    assert (events["x"].iloc[0], events["y"].iloc[0]) == (x[0], y[0])  # kept exactly
    assert report.by_reason["bad_coordinates"] == 1


@pytest.mark.parametrize(
    "columns",
    [
        {},
        {"lon_col": "lon"},
        {"lon_col": "lon", "lat_col": "lat", "x_col": "lon", "y_col": "lat"},
        {"x_col": "lon"},
    ],
)
def test_exactly_one_coordinate_pair(chicago_csv, tmp_path, columns):
    with pytest.raises(ConfigError, match="either --lon-col and --lat-col"):
        ingest_csv(chicago_csv, tmp_path / "store", time_col="when", **columns)
    assert not (tmp_path / "store").exists()


def test_missing_columns_are_named(chicago_csv, tmp_path):
    with pytest.raises(DataError) as error:
        ingest(chicago_csv, tmp_path / "store", category_col="offense", time_col="date")
    message = str(error.value)
    assert str(chicago_csv) in message and "date, offense" in message
    assert "its columns: when, lon, lat, kind, ref" in message
    assert not (tmp_path / "store").exists()


def test_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=re.escape(f"{missing} not found")):
        ingest(missing, tmp_path / "store")


def test_time_format(data, tmp_path):
    records = [{"d": "05/01/2016 23:59", "lon": "-87.6", "lat": "41.8"}]
    records.append({"d": "2016-01-05 23:59", "lon": "-87.6", "lat": "41.8"})
    path = data.write_csv(tmp_path / "uk-style.csv", records, ["d", "lon", "lat"])
    report = ingest(path, tmp_path / "store", time_col="d", time_format="%d/%m/%Y %H:%M")
    assert read_events(tmp_path / "store")["time"].tolist() == [pd.Timestamp("2016-01-05 23:59")]
    assert report.by_reason["bad_time"] == 1


def test_store_crs_choice(chicago_csv, tmp_path):
    # an explicit crs, then the existing store's
    ingest(chicago_csv, tmp_path / "a", crs="EPSG:26916")
    ingest(chicago_csv, tmp_path / "a")
    assert read_store_meta(tmp_path / "a")["crs"] == "EPSG:26916"
    # the area's
    area = bbox_area(-88.0, 41.6, -87.5, 42.0, crs="EPSG:26971")
    ingest(chicago_csv, tmp_path / "b", area=area)
    assert read_store_meta(tmp_path / "b")["crs"] == "EPSG:26971"
    # an explicit crs that the store does not hold is refused
    with pytest.raises(DataError, match="EPSG:26916"):
        ingest(chicago_csv, tmp_path / "a", crs="EPSG:32616")


def test_month_store_is_refused(data, chicago_csv, tmp_path):
    street = data.street_file("2019-01", "city-of-london", [data.street_row("a")])
    ingest_police_uk([street], tmp_path / "store", today=datetime.date(2019, 2, 1))
    with pytest.raises(DataError, match="time_resolution"):
        ingest(chicago_csv, tmp_path / "store", crs="EPSG:27700")


def test_bad_source_name(chicago_csv, tmp_path):
    with pytest.raises(ConfigError, match="--source 'Chicago PD'"):
        ingest(chicago_csv, tmp_path / "store", source="Chicago PD")


def test_reingest_is_idempotent_and_keeps_quarantine_raw(data, chicago_csv, tmp_path):
    store = tmp_path / "store"
    ingest(chicago_csv, store, id_col="ref")
    events, files = read_events(store), data.store_files(store)
    ingest(chicago_csv, store, id_col="ref")
    pd.testing.assert_frame_equal(read_events(store), events)
    assert data.store_files(store) == files
    quarantine = read_quarantine(store).set_index("row")
    assert json.loads(quarantine.loc[9, "raw"]) == CHICAGO[8]


def test_only_header_is_an_error(data, tmp_path):
    path = data.write_csv(tmp_path / "empty.csv", [], COLUMNS)
    with pytest.raises(DataError, match="no rows"):
        ingest(path, tmp_path / "store")
    assert not (tmp_path / "store").exists()


@pytest.mark.real_data
def test_real_chicago_assaults(data, tmp_path):
    path = data.shared("chicago", "aggravated-assaults-2010-2016.csv.gz")
    started = time.perf_counter()
    report = ingest_csv(
        path,
        tmp_path / "store",
        time_col="date",
        lon_col="longitude",
        lat_col="latitude",
        category_col="loc_cat",
    )
    assert time.perf_counter() - started < 10
    assert report.n_rows == 102_853 == report.n_events + report.n_quarantined
    events = read_events(tmp_path / "store")
    assert len(events) == report.n_events
    first = events.iloc[0]
    assert first["time"] == pd.Timestamp("2010-01-01 00:05")
    assert (first["lon"], first["lat"]) == (-87.6277, 41.7922)
    assert first["event_id"] == "aggravated-assaults-2010-2016:1"
    assert (events["time"].dt.second == 0).all()
    assert events["time"].dt.minute.nunique() == 60
    assert len(report.months) == 84
