"""police.uk street CSVs → event store: sources, reasons, replacement, atomicity, errors."""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from shapely.geometry import box

from hotspot.core.area import StudyArea, load_area
from hotspot.core.errors import ConfigError, DataError
from hotspot.ingest._coordinates import project
from hotspot.ingest.police_uk import STREET_COLUMNS, force_slug, ingest_police_uk
from hotspot.ingest.schema import INVALID_MONTH
from hotspot.ingest.store import init_store, read_events, read_quarantine

TODAY = datetime.date(2019, 3, 15)


def ingest(paths, store, **kwargs):
    kwargs.setdefault("today", TODAY)
    return ingest_police_uk(paths if isinstance(paths, list) else [paths], store, **kwargs)


# --------------------------------------------------------------------------- sources


def test_folder_zip_and_single_files_give_the_same_events(data, tmp_path, area):
    root = data.tree()
    archive = data.zip_tree(root, tmp_path / "archive.zip")
    singles = sorted(root.rglob("*-street.csv"))

    from_folder = ingest(root, tmp_path / "a", area=area)
    from_zip = ingest(archive, tmp_path / "b", area=area)
    from_files = ingest(singles, tmp_path / "c", area=area)

    events = read_events(tmp_path / "a")
    assert len(events) == 5
    assert set(events["source"]) == {"city-of-london", "btp"}
    pd.testing.assert_frame_equal(events, read_events(tmp_path / "b"))
    pd.testing.assert_frame_equal(events, read_events(tmp_path / "c"))
    for report in (from_folder, from_zip, from_files):
        assert (report.n_rows, report.n_events, report.n_quarantined) == (7, 5, 2)
    assert any("!2019-01/2019-01-btp-street.csv" in f.file for f in from_zip.files)


def test_outcomes_and_stop_and_search_files_are_listed_as_skipped(data, tmp_path):
    report = ingest(data.tree(), tmp_path / "store")
    files = {Path(f.file).name: f for f in report.files}
    outcomes = files["2019-01-city-of-london-outcomes.csv"]
    stop_search = files["2019-02-city-of-london-stop-and-search.csv"]
    assert (outcomes.n_rows, stop_search.n_rows) == (0, 0)
    assert outcomes.note.startswith("skipped: outcomes")
    assert "stop-and-search" in stop_search.note and outcomes.sha256 is None
    street = files["2019-01-city-of-london-street.csv"]
    assert street.n_rows == 4 and street.note is None
    expected = hashlib.sha256(Path(street.file).read_bytes()).hexdigest()
    assert street.sha256 == expected


def test_canonical_event_fields(data, tmp_path):
    ingest(data.tree(), tmp_path / "store")
    events = read_events(tmp_path / "store").set_index("event_id")
    c2 = events.loc["c2"]
    assert c2["time"] == pd.Timestamp("2019-01-01")
    assert (c2["lon"], c2["lat"]) == (-0.08, 51.52)
    x, y = project(np.array([-0.08]), np.array([51.52]), "EPSG:4326", "EPSG:27700")
    assert (c2["x"], c2["y"]) == (x[0], y[0])
    assert 532000 < c2["x"] < 534000 and 181000 < c2["y"] < 182500
    assert (c2["category"], c2["area_code"], c2["source"]) == (
        "Robbery",
        "E01032739",
        "city-of-london",
    )
    assert pd.isna(events.loc["b1", "area_code"]) and events.loc["b1", "source"] == "btp"
    assert str(read_events(tmp_path / "store")["time"].dtype) == "datetime64[us]"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("2019-03-city-of-london-street.csv", "city-of-london"),
        ("2015-01-btp-street.csv", "btp"),
        ("My Crimes.csv", "my-crimes"),
    ],
)
def test_force_slug_from_file_name(name, slug):
    assert force_slug(name) == slug


# --------------------------------------------------------------------------- reasons


def test_each_reason_with_month_row_and_precedence(data, tmp_path, area):
    row = data.street_row
    rows = [
        row("ok", "2019-02"),  # 1 event
        row("m", "2019-14", ("", "")),  # 2 bad_month beats no_coordinates
        row("n", "2019-02", ("", "51.5")),  # 3 no_coordinates
        row("b", "2019-02", ("east", "51.5")),  # 4 bad_coordinates (text)
        row("z", "2019-02", ("0", "0.000000")),  # 5 bad_coordinates (police.uk "no point")
        row("r", "2019-02", ("-0.09", "95")),  # 6 bad_coordinates (range)
        row("f", "2019-04", data.OUTSIDE),  # 7 bad_month: dated outside its file's month
        row("o", "2019-02", data.OUTSIDE),  # 8 outside_study_area
        row("ok", "2019-02", data.INSIDE_2),  # 9 duplicate_crime_id
        row("ok", "2019-02", ("", "")),  # 10 no_coordinates beats duplicate
        row("ok", "2019-02", data.OUTSIDE),  # 11 outside beats duplicate
        row("", "2019-02", crime_type="Anti-social behaviour"),  # 12 event
        row("", "2019-02", crime_type="Anti-social behaviour"),  # 13 event, not a duplicate
    ]
    path = data.street_file("2019-02", "city-of-london", rows)
    future = data.street_file("2019-04", "city-of-london", [row("f", "2019-04", data.OUTSIDE)])
    current = data.street_file("2019-03", "city-of-london", [row("ok2", "2019-03")])
    report = ingest([path, future, current], tmp_path / "store", area=area)

    quarantine = read_quarantine(tmp_path / "store")
    assert data.reasons_by_row(quarantine, path.name) == {
        2: "bad_month",
        3: "no_coordinates",
        4: "bad_coordinates",
        5: "bad_coordinates",
        6: "bad_coordinates",
        7: "bad_month",
        8: "outside_study_area",
        9: "duplicate_crime_id",
        10: "no_coordinates",
        11: "outside_study_area",
    }
    months = dict(zip(quarantine["row"], quarantine["month"], strict=True))
    assert months[2] == INVALID_MONTH and months[7] == "2019-02" and months[3] == "2019-02"
    assert data.reasons_by_row(quarantine, future.name) == {1: "future_time"}  # beats outside
    assert (tmp_path / "store/quarantine/month=invalid/city-of-london.parquet").exists()
    assert (tmp_path / "store/quarantine/month=2019-04/city-of-london.parquet").exists()
    events = read_events(tmp_path / "store")
    assert sorted(events["event_id"].str[:4]) == ["asb-", "asb-", "ok", "ok2"]
    assert events["event_id"].is_unique
    assert report.n_events == 4 and report.n_quarantined == 11


def test_raw_keeps_every_field_of_the_row(data, tmp_path):
    tricky = 'On or near "Bank", back\\slash\nnew line\ttab \u00e9'
    rows = [data.street_row("q", "2019-01", ("", ""), Location=tricky, Context="x,y"),
            data.street_row("ok", "2019-01")]  # one event: a run of only bad rows is refused
    path = data.street_file("2019-01", "city-of-london", rows)
    ingest(path, tmp_path / "store")
    quarantine = read_quarantine(tmp_path / "store")
    assert quarantine["file"].tolist() == [str(path.resolve())]
    assert quarantine["row"].tolist() == [1] and quarantine["source"].tolist() == ["city-of-london"]
    raw = json.loads(quarantine["raw"].iloc[0])
    assert raw == rows[0] and list(raw) == list(STREET_COLUMNS)


def test_asb_ids_are_a_hash_of_the_row_with_an_occurrence_counter(data, tmp_path):
    asb = data.street_row("", "2019-01", crime_type="Anti-social behaviour")
    other = data.street_row("", "2019-01", data.INSIDE_2, crime_type="Anti-social behaviour")
    path = data.street_file("2019-01", "city-of-london", [asb, other, asb])
    ingest(path, tmp_path / "store")
    ids = sorted(read_events(tmp_path / "store")["event_id"])
    digest = hashlib.sha1(
        "\x1f".join(["city-of-london", "2019-01", *asb.values()]).encode()
    ).hexdigest()[:20]
    assert f"asb-{digest}-0" in ids and f"asb-{digest}-1" in ids
    assert len(set(ids)) == 3
    ingest(path, tmp_path / "again")
    assert sorted(read_events(tmp_path / "again")["event_id"]) == ids


def test_first_occurrence_by_month_then_file_then_row_wins(data, tmp_path):
    row = data.street_row
    feb = data.street_file("2019-02", "city-of-london", [row("x", "2019-02"), row("y", "2019-02")])
    jan = data.street_file("2019-01", "city-of-london", [row("y", "2019-01"), row("x", "2019-01")])
    btp = data.street_file("2019-01", "btp", [row("x", "2019-01", data.INSIDE_2)])
    ingest([feb, jan, btp], tmp_path / "store")  # argument order does not matter
    quarantine = read_quarantine(tmp_path / "store")
    assert data.reasons_by_row(quarantine, feb.name) == {
        1: "duplicate_crime_id",
        2: "duplicate_crime_id",
    }
    # same month: 2019-01-btp-street.csv sorts before 2019-01-city-of-london-street.csv
    assert data.reasons_by_row(quarantine, jan.name) == {2: "duplicate_crime_id"}
    events = read_events(tmp_path / "store").set_index("event_id")
    assert events.loc["x", "source"] == "btp" and events.loc["y", "time"].month == 1


def test_duplicates_against_events_already_in_the_store(data, tmp_path):
    row = data.street_row
    jan = data.street_file("2019-01", "city-of-london", [row("x", "2019-01"), row("y", "2019-01")])
    feb = data.street_file("2019-02", "city-of-london", [row("x", "2019-02"), row("z", "2019-02")])
    store = tmp_path / "store"
    ingest(jan, store)
    report = ingest(feb, store)
    assert data.reasons_by_row(read_quarantine(store), feb.name) == {1: "duplicate_crime_id"}
    assert report.n_events == 1
    # re-ingesting January replaces its own partition: its ids are not duplicates of themselves
    again = ingest(jan, store)
    assert again.n_events == 2 and again.n_quarantined == 0
    assert sorted(read_events(store)["event_id"]) == ["x", "y", "z"]


# --------------------------------------------------------------------------- accounting


def test_every_row_is_accounted_for_and_counted_per_month(data, tmp_path, area):
    report = ingest(data.tree(), tmp_path / "store", area=area)
    n_input = sum(len(pd.read_csv(p)) for p in data.root.rglob("*-street.csv"))
    assert report.n_rows == n_input == report.n_events + report.n_quarantined
    assert len(read_events(tmp_path / "store")) == report.n_events
    assert len(read_quarantine(tmp_path / "store")) == report.n_quarantined
    counts = {(c.month, c.reason): c.n for c in report.counts}
    assert counts == {
        ("2019-01", "event"): 4,
        ("2019-01", "no_coordinates"): 1,
        ("2019-02", "event"): 1,
        ("2019-02", "outside_study_area"): 1,
    }
    frame = report.to_frame().set_index("month")
    assert frame.loc["2019-01"].to_dict() == {
        "event": 4, "no_coordinates": 1, "outside_study_area": 0, "total": 5
    }  # fmt: skip


def test_report_is_saved_as_json_and_markdown(data, tmp_path):
    store = tmp_path / "store"
    report = ingest(data.tree(), store)
    saved = sorted(p.name for p in (store / "reports").iterdir())
    assert saved == [report.path.name, report.path.with_suffix(".md").name]
    content = json.loads(report.path.read_text())
    assert content["n_rows"] == 7 and content["n_events"] == 6 and len(content["files"]) == 5
    assert "2019-01" in report.path.with_suffix(".md").read_text()


def test_progress_is_reported_per_file(data, tmp_path):
    calls = []
    ingest(data.tree(), tmp_path / "store", progress=lambda *a: calls.append(a))
    reads = [c for c in calls if c[0] == "ingest police-uk"]
    assert reads[0] == ("ingest police-uk", 0, 3) and reads[-1] == ("ingest police-uk", 3, 3)
    assert len(reads) == 4


def test_header_only_file_counts_zero_rows(data, tmp_path):
    full = data.street_file("2019-01", "city-of-london", [data.street_row("a")])
    empty = data.street_file("2019-02", "city-of-london", [])
    report = ingest([full, empty], tmp_path / "store")
    assert [f.n_rows for f in report.files] == [1, 0]
    assert report.n_rows == 1


def test_area_is_saved_with_the_store(data, tmp_path, area):
    ingest(data.tree(), tmp_path / "store", area=area)
    saved = gpd.read_file(tmp_path / "store" / "area.gpkg")
    assert len(saved) == 1 and saved.crs.to_epsg() == 27700
    assert abs(saved.union_all().area - area.area_m2) < 1e-6 * area.area_m2
    assert not [p for p in (tmp_path / "store").iterdir() if p.name.startswith(".")]


def test_a_point_on_the_area_boundary_is_inside(data, tmp_path):
    lon, lat = -0.09, 51.515
    x, y = project(np.array([lon]), np.array([lat]), "EPSG:4326", "EPSG:27700")
    parts = gpd.GeoDataFrame(geometry=[box(x[0], y[0], x[0] + 500, y[0] + 500)], crs="EPSG:27700")
    edge = StudyArea(parts=parts, crs="EPSG:27700")
    below = f"{lat - 0.001:.6f}"
    rows = [
        data.street_row("edge", lonlat=(str(lon), str(lat))),
        data.street_row("out", lonlat=(str(lon), below)),
    ]
    path = data.street_file("2019-01", "city-of-london", rows)
    ingest(path, tmp_path / "store", area=edge)
    assert read_events(tmp_path / "store")["event_id"].tolist() == ["edge"]


# --------------------------------------------------------------------------- re-ingest


def test_reingest_is_idempotent_byte_for_byte(data, tmp_path, area):
    root, store = data.tree(), tmp_path / "store"
    ingest(root, store, area=area)
    events, quarantine, files = read_events(store), read_quarantine(store), data.store_files(store)
    ingest(root, store, area=area)
    pd.testing.assert_frame_equal(read_events(store), events)
    pd.testing.assert_frame_equal(read_quarantine(store), quarantine)
    assert data.store_files(store) == files


def test_reingest_of_a_month_replaces_it(data, tmp_path, area):
    root, store = data.tree(), tmp_path / "store"
    ingest(root, store, area=area)
    before = data.store_files(store)
    # January is corrected: c3 got coordinates, c2 was withdrawn, c6 is new
    row = data.street_row
    data.street_file(
        "2019-01", "city-of-london", [row("c1"), row("c3"), row("c6", lonlat=data.INSIDE_2)]
    )
    jan = root / "2019-01" / "2019-01-city-of-london-street.csv"
    report = ingest(jan, store, area=area)

    assert report.n_quarantined == 0
    events = read_events(store)
    assert sorted(events.loc[events["time"].dt.month == 1, "event_id"]) == ["b1", "c1", "c3", "c6"]
    assert not (store / "quarantine/month=2019-01/city-of-london.parquet").exists()
    after = data.store_files(store)
    for untouched in (
        "events/month=2019-02/city-of-london.parquet",
        "quarantine/month=2019-02/city-of-london.parquet",
        "events/month=2019-01/btp.parquet",
    ):
        assert after[untouched] == before[untouched]


def test_a_header_only_file_never_empties_a_month_with_events(data, tmp_path):
    """A file with no usable row must not replace a month the store holds (issue 13)."""
    store = tmp_path / "store"
    path = data.street_file("2019-01", "city-of-london", [data.street_row("a")])
    ingest(path, store)
    before = data.store_files(store)
    other = data.street_file("2019-02", "city-of-london", [data.street_row("b", "2019-02")])
    data.street_file("2019-01", "city-of-london", [])
    with pytest.raises(DataError, match="would replace 2019-01 city-of-london .*it has no rows"):
        ingest([path, other], store)
    assert data.store_files(store) == before


def test_invalid_month_rows_of_other_files_survive_a_reingest(data, tmp_path):
    store, row = tmp_path / "store", data.street_row
    jan = data.street_file("2019-01", "city-of-london", [row("a"), row("bad", "sometime")])
    feb = data.street_file("2019-02", "city-of-london", [row("b", "2019-02"), row("bad2", "??")])
    ingest(jan, store)
    ingest(feb, store)
    assert sorted(read_quarantine(store, [INVALID_MONTH])["row"]) == [2, 2]
    data.street_file("2019-01", "city-of-london", [row("a")])  # January fixed
    ingest(jan, store)
    invalid = read_quarantine(store, [INVALID_MONTH])
    assert invalid["file"].tolist() == [str(feb.resolve())]


def test_crash_while_writing_leaves_only_complete_old_or_new_files(data, tmp_path, monkeypatch):
    root = data.tree()
    store, reference = tmp_path / "store", tmp_path / "reference"
    ingest(root, store)
    old = data.store_files(store)
    row = data.street_row
    data.street_file(
        "2019-01", "city-of-london", [row("n1"), row("n2"), row("n3", "2019-01", ("", ""))]
    )
    data.street_file("2019-02", "city-of-london", [row("n4", "2019-02")])
    ingest(root, reference)
    new = data.store_files(reference)
    assert set(new) != set(old) or new != old

    real_write = pq.write_table
    calls = []

    def crash_on_third_file(table, where, *args, **kwargs):
        calls.append(where)
        if len(calls) == 3:
            Path(where).write_bytes(b"PAR1 half a file")
            raise OSError("disk full")
        return real_write(table, where, *args, **kwargs)

    events_before = sorted(read_events(store)["event_id"])
    # writes: 2019-01 btp events (unchanged), 2019-01 city events, 2019-01 city quarantine
    monkeypatch.setattr(pq, "write_table", crash_on_third_file)
    with pytest.raises(OSError, match="disk full"):
        ingest(root, store)
    monkeypatch.undo()

    now = data.store_files(store)
    leftovers = [p for p in store.rglob("*") if p.name.startswith(".")]
    assert leftovers == []
    changed = 0
    for name, content in now.items():
        assert content in (old.get(name), new.get(name)), name
        changed += content != old.get(name)
    assert changed == 0  # the crash left the committed generation whole
    assert (
        now["quarantine/month=2019-01/city-of-london.parquet"]
        == old["quarantine/month=2019-01/city-of-london.parquet"]
    )
    assert sorted(read_events(store)["event_id"]) == events_before
    assert len(list((store / "reports").iterdir())) == 2  # only the first run's report (.json, .md)
    ingest(root, store)  # a rerun repairs the store
    assert data.store_files(store) == new


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def existing(data, tmp_path):
    """A store with one ingest in it, and a function that checks it did not change."""
    store = tmp_path / "store"
    ingest(data.tree(), store)
    snapshot = {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}

    def unchanged() -> bool:
        now = {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}
        return now == snapshot

    return store, unchanged


def test_missing_path_is_named(data, tmp_path, existing):
    store, unchanged = existing
    missing = tmp_path / "nowhere" / "2019-01-city-of-london-street.csv"
    with pytest.raises(DataError, match=f"{re.escape(str(missing))} not found"):
        ingest([data.root, missing], store)
    assert unchanged()


def test_corrupt_zip_is_named(data, tmp_path, existing):
    store, unchanged = existing
    bad = tmp_path / "latest.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(DataError, match=f"{re.escape(str(bad))} is not a readable zip"):
        ingest([data.root, bad], store)
    assert unchanged()


def test_corrupt_zip_member_is_named(data, tmp_path, existing):
    store, unchanged = existing
    archive = data.zip_tree(data.root, tmp_path / "archive.zip")
    blob = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("2019-01/2019-01-city-of-london-street.csv")
    start = info.header_offset + 30 + len(info.filename) + 5
    blob[start : start + 20] = b"\x00" * 20
    archive.write_bytes(bytes(blob))
    with pytest.raises(DataError, match="2019-01-city-of-london-street.csv"):
        ingest(archive, store)
    assert unchanged()


def test_csv_with_wrong_columns_is_named_with_what_is_missing(data, tmp_path, existing):
    store, unchanged = existing
    wrong = data.write_csv(
        tmp_path / "2019-03-city-of-london-street.csv",
        [{"Crime ID": "a", "Month": "2019-03", "Lat": "51.5"}],
        ["Crime ID", "Month", "Lat"],
    )
    with pytest.raises(DataError) as error:
        ingest([data.root, wrong], store)
    message = str(error.value)
    assert str(wrong) in message and "Longitude, Latitude, Crime type" in message
    assert "data.police.uk" in message
    assert unchanged()


def test_ragged_row_is_named(data, tmp_path, existing):
    store, unchanged = existing
    ragged = tmp_path / "2019-03-city-of-london-street.csv"
    ragged.write_text(",".join(STREET_COLUMNS) + "\nonly,three,fields\n")
    with pytest.raises(DataError, match=f"{re.escape(str(ragged))} cannot be read as CSV"):
        ingest(ragged, store)
    assert unchanged()


def test_store_with_another_crs_is_refused(data, tmp_path):
    store = tmp_path / "store"
    init_store(store, "EPSG:32630", "month")
    before = sorted(store.rglob("*"))
    with pytest.raises(DataError, match="EPSG:32630"):
        ingest(data.tree(), store)
    assert sorted(store.rglob("*")) == before


def test_timestamp_store_is_refused(data, tmp_path):
    store = tmp_path / "store"
    init_store(store, "EPSG:27700", "timestamp")
    with pytest.raises(DataError, match="time_resolution"):
        ingest(data.tree(), store)


def test_non_metric_crs_is_refused(data, tmp_path):
    with pytest.raises(ConfigError, match="metres"):
        ingest(data.tree(), tmp_path / "store", crs="EPSG:4326")
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("kind", ["folder", "zip"])
def test_folder_or_zip_without_street_files_is_named(data, tmp_path, kind):
    folder = tmp_path / "outcomes-only"
    data.write_csv(folder / "2019-01" / "2019-01-city-of-london-outcomes.csv", [], ["Crime ID"])
    target = folder if kind == "folder" else data.zip_tree(folder, tmp_path / "o.zip")
    with pytest.raises(DataError, match=f"{re.escape(str(target))} holds no police.uk street"):
        ingest(target, tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_no_rows_at_all_is_an_error(data, tmp_path):
    empty = data.street_file("2019-01", "city-of-london", [])
    with pytest.raises(DataError, match="no rows"):
        ingest(empty, tmp_path / "store")
    assert not (tmp_path / "store").exists()


# --------------------------------------------------------------------------- real data


@pytest.mark.real_data
def test_real_city_of_london_48_months(data, tmp_path):
    folder = data.shared("police-uk")
    wards = load_area(data.shared("boundaries", "london_wards.zip"), "BOROUGH=City of London")
    report = ingest_police_uk([folder], tmp_path / "store", area=wards)

    raw = pd.concat(
        [
            pd.read_csv(p, dtype=str, keep_default_na=False)
            for p in sorted(folder.rglob("*-street.csv"))
        ]
    )
    assert len(raw) == report.n_rows == 31_824 == report.n_events + report.n_quarantined
    assert len(report.months) == 48
    by_reason = report.by_reason
    no_coordinates = ((raw["Longitude"] == "") | (raw["Latitude"] == "")).sum()
    assert by_reason["no_coordinates"] == no_coordinates > 0
    assert by_reason["outside_study_area"] > 0
    events = read_events(tmp_path / "store")
    quarantine = read_quarantine(tmp_path / "store")
    assert len(events) == report.n_events and len(quarantine) == report.n_quarantined
    assert events["event_id"].is_unique
    # The sample repeats some Crime IDs within a month (one crime at two map points). Only
    # the first valid record is an event; every duplicate's id is an event's id.
    duplicates = quarantine[quarantine["reason"] == "duplicate_crime_id"]
    duplicate_ids = duplicates["raw"].map(lambda r: json.loads(r)["Crime ID"])
    assert duplicate_ids.isin(events["event_id"]).all()
    assert set(quarantine["reason"]) <= {
        "no_coordinates",
        "outside_study_area",
        "duplicate_crime_id",
    }


def test_row_dated_outside_its_file_month_is_quarantined_not_moved(tmp_path):
    """A stray row must not replace another month's partition."""
    from hotspot.ingest.police_uk import ingest_police_uk
    from hotspot.ingest.store import list_months, read_quarantine

    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
              "LSOA name,Crime type,Last outcome category,Context\n")
    row = "{id},{month},X,X,-0.09,51.515,On or near X,E01,L,Burglary,,\n"
    folder = tmp_path / "in" / "2020-03"
    folder.mkdir(parents=True)
    (folder / "2020-03-city-of-london-street.csv").write_text(
        header + row.format(id="a", month="2020-03") + row.format(id="b", month="2019-07"))
    report = ingest_police_uk([tmp_path / "in"], tmp_path / "store")
    assert list_months(tmp_path / "store") == ["2020-03"]
    quarantined = read_quarantine(tmp_path / "store")
    assert quarantined[["month", "reason"]].values.tolist() == [["2020-03", "bad_month"]]
    assert report.n_events == 1
