"""The police.uk API client against a local stand-in server (tests/fakes), on 127.0.0.1."""

from __future__ import annotations

import socket

import httpx
import pytest

from hotspot.core.area import load_area
from hotspot.core.errors import DataError
from hotspot.ingest import police_api
from hotspot.ingest.police_api import PoliceAPIClient, download_month
from hotspot.ingest.police_api_geometry import encode_poly, query_polygon
from hotspot.ingest.police_api_records import (
    CATEGORY_NAMES,
    CURRENT_CATEGORIES,
    record_key,
    records_to_street_rows,
)
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import read_events, read_quarantine
from tests.conftest import EMBEDDED_DATA
from tests.fakes.police_api_server import FakePoliceAPI, load_month

AREA_FILE = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"
WINDOW = [f"{y}-{m:02d}" for y in (2018, 2019, 2020) for m in range(1, 13)][:35]  # ..2020-11


@pytest.fixture(scope="module")
def area():
    return load_area(AREA_FILE)


@pytest.fixture(scope="module")
def city_wgs84(area):
    return area.parts.to_crs("EPSG:4326").union_all()


@pytest.fixture
def api():
    with FakePoliceAPI(WINDOW) as server:
        yield server


def client_for(server: FakePoliceAPI, **kwargs) -> PoliceAPIClient:
    options = {"timeout_s": 5.0, "max_retries": 2, "backoff_s": 0.01, "max_rate_per_s": 1000.0}
    return PoliceAPIClient(server.base_url, **{**options, **kwargs})


def test_category_names_cover_the_fourteen_categories():
    assert len(CURRENT_CATEGORIES) == 14
    assert CATEGORY_NAMES["violent-crime"] == "Violence and sexual offences"
    assert "all-crime" not in CATEGORY_NAMES


def test_stand_in_reproduces_the_documented_routes_and_errors(api):
    base = api.base_url
    with httpx.Client(timeout=5) as http:
        dates = http.get(f"{base}/crimes-street-dates").json()
        assert dates[0]["date"] == "2020-11" and len(dates) == 35  # newest first
        assert len(http.get(f"{base}/crime-categories", params={"date": "2020-11"}).json()) == 15
        assert len(http.get(f"{base}/forces").json()) == 44
        assert http.get(f"{base}/crime-last-updated").json() == {"date": "2020-11-01"}
        poly = "51.52,-0.12:51.52,-0.07:51.50,-0.07:51.50,-0.12"
        street = f"{base}/crimes-street/all-crime"
        assert http.get(street, params={"poly": poly, "date": "2017-01"}).status_code == 404
        assert http.get(street, params={"poly": poly, "date": "2020-1"}).status_code == 404
        assert http.get(street, params={"poly": poly, "date": "2030-01"}).json() == []
        assert http.get(street, params={"poly": "51.52,-0.12:51.5,-0.07"}).status_code == 502
        assert http.get(street, params={"poly": "nonsense"}).status_code == 404
        assert http.post(street, json={"poly": poly}).status_code == 400
        long_poly = ":".join(["51.510000,-0.100000"] * 300)
        too_long = http.get(street, params={"poly": long_poly, "date": "2020-10"})
        assert too_long.status_code == 400 and b"Request Line is too large" in too_long.content
        crimes = http.post(street, data={"poly": poly, "date": "2020-10"}).json()
        asb = [c for c in crimes if c["category"] == "anti-social-behaviour"]
        assert asb and all(c["persistent_id"] == "" for c in asb)
        assert {"category", "location", "persistent_id", "id", "month", "outcome_status",
                "location_type", "location_subtype", "context"} <= set(crimes[0])
        unplaced = http.get(f"{base}/crimes-no-location",
                            params={"force": "city-of-london", "date": "2020-10"}).json()
        assert unplaced and all(c["location"] is None for c in unplaced)
        assert http.get(f"{base}/crimes-no-location",
                        params={"force": "nowhere", "date": "2020-10"}).status_code == 502
        pid = next(c["persistent_id"] for c in crimes if c["persistent_id"])
        outcome = http.get(f"{base}/outcomes-for-crime/{pid}").json()
        assert outcome["crime"]["persistent_id"] == pid
        assert http.get(f"{base}/outcomes-for-crime/nope").status_code == 404


def test_client_routes(api):
    with client_for(api) as client:
        assert client.available_months() == WINDOW
        assert client.last_updated() == "2020-11-01"
        assert len(client.forces()) == 44
        assert len(client.categories("2020-11")) == 15
        assert client.crimes_no_location("city-of-london", "2017-01") == []
        with pytest.raises(DataError, match="check the force id"):
            client.crimes_no_location("nowhere", "2020-10")


def test_tiling_on_503_returns_each_crime_once(api, city_wgs84):
    polygon = query_polygon(city_wgs84)
    with client_for(api) as client:
        whole = client.crimes_in_area(polygon, "2020-10")
    api.cap = 120
    stats = police_api.FetchStats()
    with client_for(api) as client:
        tiled = client.crimes_in_area(polygon, "2020-10", stats)
    assert stats.n_too_many >= 1 and stats.n_tiles > 4
    keys = [record_key(r) for r in tiled]
    assert len(keys) == len(set(keys))
    assert set(keys) == {record_key(r) for r in whole}
    assert len(whole) > 120


def test_tiling_is_bounded(api, city_wgs84):
    api.cap = 0  # every polygon is "too many"
    with client_for(api, max_tile_depth=2) as client, pytest.raises(
            DataError, match="still answers 503.*after splitting the area 2 times"):
        client.crimes_in_area(city_wgs84, "2020-10")
    assert len(api.requests("crimes-street")) <= 1 + 4 + 16


def test_long_polygon_is_posted(api, area):
    ring = list(area.parts.to_crs("EPSG:4326").union_all().exterior.coords)
    assert len(encode_poly(ring)) > police_api.MAX_GET_CHARS
    with client_for(api) as client:
        records = client.crimes_in_polygon(ring, "2020-10")
    assert records
    assert [r["method"] for r in api.requests("crimes-street")] == ["POST"]


def test_get_answered_400_is_retried_as_post(api, area, monkeypatch):
    monkeypatch.setattr(police_api, "MAX_GET_CHARS", 10**6)  # the client thinks GET is fine
    ring = list(area.parts.to_crs("EPSG:4326").union_all().exterior.coords)
    with client_for(api) as client:
        assert client.crimes_in_polygon(ring, "2020-10")
    assert [(r["method"], r.get("too_long", False)) for r in api.requests("crimes-street")] == [
        ("GET", True), ("POST", False)]


def test_month_outside_the_window(api, city_wgs84):
    with client_for(api) as client:
        with pytest.raises(DataError, match="no street-level crimes for 2016-01.*404"):
            client.crimes_in_area(city_wgs84, "2016-01")
        assert client.crimes_in_area(city_wgs84, "2031-01") == []


def test_rate_limit_429_is_retried_with_backoff():
    with FakePoliceAPI(WINDOW, rate_per_s=10, burst=2) as server, \
            client_for(server, max_retries=5, backoff_s=0.1) as client:
        for _ in range(4):
            assert client.available_months()[-1] == "2020-11"
        assert client.n_requests > 4  # some were answered 429 and retried


def test_rate_limit_that_never_lifts_fails_clearly():
    with FakePoliceAPI(WINDOW, rate_per_s=0.01, burst=1) as server, \
            client_for(server, max_retries=2) as client:
        client.available_months()
        with pytest.raises(DataError, match=r"kept failing \(HTTP 429\) after 3 tries"):
            client.available_months()


def test_timeout_is_retried_then_fails_clearly():
    with FakePoliceAPI(WINDOW, delays={"crimes-street-dates": 1.5}) as server:
        with client_for(server, timeout_s=0.2, max_retries=2) as client, pytest.raises(
                DataError, match=r"police.uk API unreachable at .*crimes-street-dates: timed out"):
            client.available_months()
        assert len(server.requests("crimes-street-dates")) == 3


def test_offline_is_a_clear_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    with PoliceAPIClient(url, max_retries=1, backoff_s=0.01) as client, pytest.raises(
            DataError, match=f"police.uk API unreachable at {url}/crimes-street-dates"):
        client.available_months()


def test_request_budget_is_bounded(api):
    with client_for(api, max_requests=2) as client:
        client.available_months()
        client.available_months()
        with pytest.raises(DataError, match="bound of 2 requests"):
            client.available_months()


def test_records_become_street_rows():
    records = load_month("2020-10")
    rows = records_to_street_rows(records, "2020-10", "City of London Police")
    assert len(rows) == len(records)
    asb = [r for r in rows if r["Crime type"] == "Anti-social behaviour"]
    assert asb and all(r["Crime ID"] == "" for r in asb)
    unplaced = [r for r in rows if not r["Longitude"]]
    assert unplaced and all(r["Latitude"] == "" for r in unplaced)
    assert {r["Crime type"] for r in rows} <= set(CURRENT_CATEGORIES)
    assert all(r["LSOA code"] == "" and r["Month"] == "2020-10" for r in rows)


def test_api_month_ingests_like_the_bulk_file(api, area, tmp_path):
    """The same month through the API and through the CSV gives the same events."""
    wgs84 = area.parts.to_crs("EPSG:4326").union_all()
    api.cap = 150  # and tiled on the way
    with client_for(api) as client:
        got = download_month(client, wgs84, "2020-10", tmp_path / "api-store",
                             force="city-of-london", include_no_location=True)
    assert got.path == tmp_path / "api-store" / "raw" / "api" / "2020-10" / \
        "2020-10-city-of-london-street.csv"
    assert got.n_too_many >= 1 and got.n_no_location > 0
    from_api = ingest_police_uk([got.path], tmp_path / "api-store", area=area)
    csv = EMBEDDED_DATA / "police-uk" / "2020-10"
    from_file = ingest_police_uk([csv], tmp_path / "file-store", area=area)
    assert from_api.n_events == from_file.n_events > 0
    api_events = read_events(tmp_path / "api-store")
    file_events = read_events(tmp_path / "file-store")
    assert set(api_events["event_id"].str.removeprefix("asb-").str.len()) == \
        set(file_events["event_id"].str.removeprefix("asb-").str.len())
    crimes = ~file_events["event_id"].str.startswith("asb-")
    assert set(api_events["event_id"]) >= set(file_events.loc[crimes, "event_id"])
    assert api_events["category"].value_counts().equals(file_events["category"].value_counts())
    by_reason = read_quarantine(tmp_path / "api-store")["reason"].value_counts()
    assert by_reason["no_coordinates"] == got.n_no_location
