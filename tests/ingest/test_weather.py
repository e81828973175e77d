"""Daily weather into a store: ECA&D and plain CSV files, the meteostat cache, the offline
fallback and ``hotspot weather``.

meteostat's network is never touched: every test runs with its endpoints pointed at a
closed localhost port (``offline_meteostat``), and meteostat downloads are replaced by
fake fetchers where a test needs data from it.
"""

from __future__ import annotations

import gzip
import json
import socket
import sqlite3
import threading
import time
from datetime import date
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hotspot.cli import app
from hotspot.core.area import load_area
from hotspot.core.errors import ConfigError, DataError
from hotspot.ingest.schema import EVENT_COLUMNS
from hotspot.ingest.store import init_store, write_partition
from hotspot.ingest.weather import ingest_weather, load_weather, read_weather
from hotspot.ingest.weather_files import detect_format, read_ecad, read_plain_csv, read_weather_file
from hotspot.ingest.weather_table import DAILY_COLUMNS, restrict
from tests.conftest import EMBEDDED_DATA, SHARED_DATA

PROJECT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT / "tests" / "fixtures" / "weather"
ECAD = FIXTURES / "ecad-small.csv"
PLAIN = FIXTURES / "plain-small.csv"
WARDS = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"
HEATHROW = SHARED_DATA / "weather" / "heathrow-daily-1979-2023.csv"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def offline_meteostat(monkeypatch, tmp_path):
    """meteostat with every endpoint on a closed localhost port and a private cache."""
    from hotspot.ingest.weather_meteostat import _meteostat

    ms = _meteostat()
    import meteostat.providers.meteostat.daily as ms_daily

    dead = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setattr(ms.config, "stations_db_endpoints", [f"{dead}/stations.db"])
    monkeypatch.setattr(ms.config, "stations_db_file", str(tmp_path / "ms" / "stations.db"))
    monkeypatch.setattr(ms.config, "cache_directory", str(tmp_path / "ms" / "cache"))
    monkeypatch.setattr(ms.config, "cache_enable", False)
    monkeypatch.setattr(ms.config, "daily_endpoint", f"{dead}/daily/{{year}}/{{station}}.csv.gz")
    monkeypatch.setattr(ms_daily, "ENDPOINT", f"{dead}/daily/{{year}}/{{station}}.csv.gz")
    monkeypatch.setattr(ms.config, "network_max_retries", ms.config.network_max_retries)
    monkeypatch.setattr(ms.config, "network_timeout", ms.config.network_timeout)
    return ms


def make_store(root: Path, months: tuple[str, ...] = ()) -> Path:
    """A store (EPSG:27700) with the City of London as area and one event per month."""
    store = root / "store"
    init_store(store, "EPSG:27700", "month")
    load_area(WARDS).to_file(store / "area.gpkg")
    for month in months:
        event = pd.DataFrame([{
            "event_id": f"e-{month}", "time": pd.Timestamp(f"{month}-01"), "lon": -0.09,
            "lat": 51.515, "x": 532_500.0, "y": 181_300.0, "category": "Burglary",
            "area_code": "", "source": "test"}])[EVENT_COLUMNS]
        write_partition(store, "events", month, "test", event)
    return store


def fake_meteostat(start: str = "2020-01-01", end: str = "2020-03-31") -> pd.DataFrame:
    """A frame shaped like ``meteostat.daily(...).fetch()``: time index, temp/tmin/tmax/prcp."""
    index = pd.date_range(start, end, freq="D", name="time")
    day = np.arange(len(index), dtype=float)
    return pd.DataFrame({"temp": 5 + day / 10, "tmin": day / 10, "tmax": 10 + day / 10,
                         "prcp": day % 3, "wspd": 7.0}, index=index)


class CountingFetcher:
    def __init__(self, frame: pd.DataFrame | None) -> None:
        self.frame = frame
        self.calls: list[tuple[str, date, date]] = []

    def __call__(self, station: str, start: date, end: date) -> pd.DataFrame | None:
        self.calls.append((station, start, end))
        if self.frame is None:
            return None
        return self.frame.loc[str(start):str(end)]


# ---------------------------------------------------------------------------- files


def test_ecad_tenths_become_degrees_and_millimetres():
    data = read_ecad(ECAD)
    daily = data.daily
    assert list(daily.columns) == DAILY_COLUMNS
    assert daily["date"].dt.strftime("%Y-%m-%d").tolist()[:2] == ["2020-01-01", "2020-01-02"]
    np.testing.assert_allclose(daily["tmax"], [10.5, 9.8, np.nan, 8.7, 11.0, 25.0])
    np.testing.assert_allclose(daily["tmin"], [-2.3, 1.2, 3.0, np.nan, 4.5, -0.1])
    np.testing.assert_allclose(daily["tavg"], [4.1, 5.5, 6.0, np.nan, 7.8, 12.5])
    np.testing.assert_allclose(daily["prcp"], [0.0, 2.5, np.nan, 0.3, 12.0, 1.0])


def test_ecad_quality_flags_missing_is_nan_and_suspect_is_kept_and_counted():
    data = read_ecad(ECAD)
    # flag 9 (with an empty value or -9999) -> NaN
    assert data.n_missing == {"tmax": 1, "tmin": 1, "tavg": 1, "prcp": 1}
    # flag 1 -> kept (the values are there) and counted per column
    assert data.daily.loc[1, "tmax"] == pytest.approx(9.8)
    assert data.daily.loc[5, "tmax"] == pytest.approx(25.0)
    assert data.n_suspect == {"tmax": 2, "tmin": 0, "tavg": 1, "prcp": 1}
    assert data.n_suspect_total == 4 and data.n_suspect_days == 3
    summary = data.summary()
    assert "6 days" in summary and "suspect values (kept): 4" in summary
    assert "ECA&D" in summary


def test_formats_are_detected_from_the_header(tmp_path):
    assert detect_format(ECAD) == "ecad"
    assert detect_format(PLAIN) == "csv"
    assert read_weather_file(ECAD).source == "ecad"
    odd = tmp_path / "odd.csv"
    odd.write_text("when,temperature\n2020-01-01,3\n")
    with pytest.raises(DataError, match="no header with a DATE"):
        read_weather_file(odd)
    with pytest.raises(DataError, match="not found"):
        read_weather_file(tmp_path / "absent.csv")


def test_plain_csv_fills_missing_days_and_columns(tmp_path):
    data = read_plain_csv(PLAIN)
    daily = data.daily
    assert len(daily) == 5  # 2020-01-03 is absent from the file: a NaN row
    assert daily.loc[2, ["tmax", "tmin", "tavg", "prcp"]].isna().all()
    np.testing.assert_allclose(daily["tmax"], [10.5, 9.8, np.nan, 8.7, 11.0])
    assert np.isnan(daily.loc[3, "tmin"]) and data.n_suspect_total == 0
    only_rain = tmp_path / "rain.csv"
    only_rain.write_text("Date,PRCP\n2020-02-01,1.5\n2020-02-02,0\n")
    rain = read_weather_file(only_rain).daily
    assert rain["tmax"].isna().all() and rain["prcp"].tolist() == [1.5, 0.0]


def test_plain_csv_in_tenths_or_with_text_is_refused(tmp_path):
    tenths = tmp_path / "tenths.csv"
    tenths.write_text("date,tmax,tmin,tavg,prcp\n2020-07-01,254,120,180,0\n")
    with pytest.raises(DataError, match="not tenths"):
        read_weather_file(tenths)
    text = tmp_path / "text.csv"
    text.write_text("date,tmax\n2020-07-01,warm\n")
    with pytest.raises(DataError, match="non-numeric"):
        read_weather_file(text)
    dup = tmp_path / "dup.csv"
    dup.write_text("date,tmax\n2020-07-01,20\n2020-07-01,21\n")
    with pytest.raises(DataError, match="duplicate dates"):
        read_weather_file(dup)


@pytest.mark.real_data
def test_real_heathrow_file():
    if not HEATHROW.exists():
        pytest.skip(f"real data {HEATHROW} is absent (../shared/data not beside the project)")
    data = read_weather_file(HEATHROW)
    daily = data.daily
    raw = pd.read_csv(HEATHROW, usecols=["DATE", "TX", "Q_TX", "Q_TG"])
    assert data.source == "ecad" and len(daily) == len(raw) == 16_436
    assert daily["date"].iloc[0] == pd.Timestamp("1979-01-01")
    assert daily["date"].iloc[-1] == pd.Timestamp("2023-12-31")
    assert daily["date"].diff().dropna().eq(pd.Timedelta(days=1)).all()
    assert daily.loc[0, "tmax"] == pytest.approx(2.3)  # 23 tenths
    assert daily["tavg"].isna().sum() == (raw["Q_TG"] == 9).sum() == 29
    assert data.n_suspect["tmax"] == (raw["Q_TX"] == 1).sum() > 0
    assert daily["tmax"].between(-15, 45).all() and daily["prcp"].min() >= 0
    # ECA&D TX and TN come from different 24-h windows: ~1.5% of days have TX < TN
    assert (daily["tmax"] >= daily["tmin"]).mean() > 0.97
    # restricted to a range running past the file: suspect counts follow, no invention
    part = restrict(data, date(2023, 1, 1), date(2024, 3, 31))
    in_2023 = raw["DATE"].between(20230101, 20231231)
    assert part.n_suspect["tmax"] == (raw.loc[in_2023, "Q_TX"] == 1).sum()
    assert part.n_missing["tmax"] == 91 and part.n_days == 365 + 91


# ---------------------------------------------------------------------------- meteostat


def test_meteostat_downloads_are_cached_and_never_fetched_twice(tmp_path):
    store = make_store(tmp_path)
    fetcher = CountingFetcher(fake_meteostat())
    first = load_weather(store, station="03772", start="2020-01-01", end="2020-02-29",
                         fetcher=fetcher)
    assert len(fetcher.calls) == 1 and not first.from_cache
    cache = store / "weather" / "cache" / "03772_2020-01-01_2020-02-29.parquet"
    assert cache.is_file() and first.cache_file == str(cache)
    assert first.daily["tavg"].iloc[0] == pytest.approx(5.0)  # meteostat's temp
    second = load_weather(store, station="03772", start="2020-01-01", end="2020-02-29",
                          fetcher=fetcher)
    assert len(fetcher.calls) == 1 and second.from_cache
    pd.testing.assert_frame_equal(first.daily, second.daily)
    # a range inside a cached one is read from it too
    inner = load_weather(store, station="03772", start="2020-02-01", end="2020-02-10",
                         fetcher=fetcher)
    assert len(fetcher.calls) == 1 and inner.from_cache and len(inner.daily) == 10
    # another range is a new download
    load_weather(store, station="03772", start="2020-03-01", end="2020-03-31",
                 fetcher=fetcher)
    assert len(fetcher.calls) == 2


def test_nearest_station_is_found_once_from_the_area_centre(tmp_path):
    store = make_store(tmp_path, months=("2020-01", "2020-02"))
    seen: list[tuple[float, float]] = []

    def finder(lon, lat, start, end):
        seen.append((lon, lat))
        return {"id": "03772", "name": "London Heathrow", "distance_m": 21_000.0}

    fetcher = CountingFetcher(fake_meteostat())
    data = load_weather(store, fetcher=fetcher, station_finder=finder)
    (lon, lat), = seen
    assert -0.12 < lon < -0.07 and 51.50 < lat < 51.53  # City of London, in WGS84
    assert data.station == "03772" and data.station_name == "London Heathrow"
    # default range: the store's event months
    assert fetcher.calls == [("03772", date(2020, 1, 1), date(2020, 2, 29))]
    again = load_weather(store, fetcher=fetcher, station_finder=finder)
    assert len(seen) == 1 and again.from_cache


def test_failed_download_is_not_cached_and_asks_for_a_file(tmp_path):
    store = make_store(tmp_path)
    fetcher = CountingFetcher(None)
    with pytest.raises(DataError, match="pass --file"):
        load_weather(store, station="03772", start="2020-01-01", end="2020-01-31",
                     fetcher=fetcher)
    assert not list((store / "weather" / "cache").glob("*.parquet"))
    with pytest.raises(DataError, match="pass --file"):
        load_weather(store, station="03772", start="2020-01-01", end="2020-01-31",
                     fetcher=fetcher)
    assert len(fetcher.calls) == 2


def test_a_hanging_service_falls_back_to_the_file_within_seconds(tmp_path, caplog):
    store = make_store(tmp_path)
    release = threading.Event()

    def hanging(station, start, end):
        release.wait(60)  # a silent network: no answer, no error
        return fake_meteostat()

    began = time.monotonic()
    try:
        with caplog.at_level("WARNING", logger="hotspot.weather"):
            data = load_weather(store, station="03772", file=ECAD, start="2020-01-01",
                                end="2020-01-06", fetcher=hanging, timeout_s=1.0)
    finally:
        release.set()
    assert time.monotonic() - began < 5
    assert data.source == "ecad" and data.n_days == 6
    assert any("did not answer within 1 s" in w and "falling back to the local file" in w
               for w in data.warnings)
    assert "meteostat unavailable" in caplog.text
    assert not list((store / "weather" / "cache").glob("*.parquet"))


def test_unreachable_meteostat_itself_falls_back_quickly(tmp_path, offline_meteostat):
    """The real meteostat client against a closed port: no hang, no retries, the file."""
    store = make_store(tmp_path)
    began = time.monotonic()
    data = load_weather(store, station="03772", file=ECAD, start="2020-01-01",
                        end="2020-01-06", timeout_s=10.0)
    assert time.monotonic() - began < 8
    assert data.source == "ecad"
    assert data.warnings and data.warnings[0].startswith("meteostat unavailable")
    assert offline_meteostat.config.network_max_retries == 0
    with pytest.raises(DataError, match="meteostat unavailable.*pass --file"):
        load_weather(store, station="nearest", start="2020-01-01", end="2020-01-06",
                     timeout_s=10.0)


class _QuietHandler(SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self):
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_meteostat(tmp_path, offline_meteostat, monkeypatch):
    """A tiny meteostat service on localhost: a stations database and 2020 daily data.

    Station 03779 is nearer the City but its daily inventory ends in 2010, so the
    nearest station with data is 03772.
    """
    import meteostat.providers.meteostat.daily as ms_daily

    www = tmp_path / "www"
    (www / "daily" / "2020").mkdir(parents=True)
    con = sqlite3.connect(www / "stations.db")
    con.executescript("""
        CREATE TABLE stations (id TEXT, country TEXT, region TEXT, latitude REAL,
                               longitude REAL, elevation INTEGER, timezone TEXT);
        CREATE TABLE names (station TEXT, language TEXT, name TEXT);
        CREATE TABLE identifiers (station TEXT, key TEXT, value TEXT);
        CREATE TABLE inventory (station TEXT, provider TEXT, parameter TEXT, start TEXT,
                                "end" TEXT, completeness REAL);
        INSERT INTO stations VALUES ('03772', 'GB', 'ENG', 51.4789, -0.449, 25,
                                     'Europe/London'),
                                    ('03779', 'GB', 'ENG', 51.5167, -0.1167, 5,
                                     'Europe/London');
        INSERT INTO names VALUES ('03772', 'en', 'London Heathrow'),
                                 ('03779', 'en', 'London Weather Centre');
        INSERT INTO inventory VALUES ('03772', 'daily', 'tmax', '1973-01-01', '2025-12-31', 1),
                                     ('03779', 'daily', 'tmax', '1973-01-01', '2010-12-31', 1);
    """)
    con.commit()
    con.close()
    days = pd.date_range("2020-01-01", "2020-12-31")
    year = pd.DataFrame({"year": days.year, "month": days.month, "day": days.day})
    for name, values in {"temp": 5.0, "tmin": 1.0, "tmax": np.arange(len(days)) / 10,
                         "prcp": 0.2}.items():
        year[name] = values
        year[f"{name}_source"] = "daily"
    with gzip.open(www / "daily" / "2020" / "03772.csv.gz", "wt") as handle:
        year.to_csv(handle, index=False)
    _QuietHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(www)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(offline_meteostat.config, "stations_db_endpoints",
                        [f"{base}/stations.db"])
    monkeypatch.setattr(ms_daily, "ENDPOINT", f"{base}/daily/{{year}}/{{station}}.csv.gz")
    yield _QuietHandler.requests
    server.shutdown()
    server.server_close()


def test_the_meteostat_client_end_to_end_against_a_local_service(tmp_path, local_meteostat):
    """The default station finder and fetcher with the real meteostat client."""
    store = make_store(tmp_path, months=("2020-01", "2020-02"))
    data = load_weather(store, timeout_s=10.0)
    assert (data.station, data.station_name) == ("03772", "London Heathrow")
    assert data.source == "meteostat" and not data.from_cache and data.n_days == 60
    np.testing.assert_allclose(data.daily["tmax"].iloc[:3], [0.0, 0.1, 0.2])
    assert data.daily["tavg"].eq(5.0).all() and data.n_missing["prcp"] == 0
    assert "/daily/2020/03772.csv.gz" in local_meteostat
    served = len(local_meteostat)
    again = load_weather(store, timeout_s=10.0)
    assert again.from_cache and len(local_meteostat) == served  # nothing downloaded twice
    pd.testing.assert_frame_equal(again.daily, data.daily)


def test_a_file_alone_never_touches_meteostat(tmp_path):
    store = make_store(tmp_path)

    def forbidden(*args):
        raise AssertionError("meteostat was called")

    data = load_weather(store, file=PLAIN, fetcher=forbidden, station_finder=forbidden,
                        start="2020-01-01", end="2020-01-10")
    assert data.source == "csv" and data.n_days == 10
    assert any("2020-01-01..2020-01-05 only: 5 days" in w for w in data.warnings)


def test_range_errors(tmp_path):
    store = make_store(tmp_path)
    with pytest.raises(ConfigError, match="--from"):
        load_weather(store, station="03772", fetcher=CountingFetcher(fake_meteostat()))
    with pytest.raises(ConfigError, match="is after"):
        load_weather(store, file=ECAD, start="2020-02-01", end="2020-01-01")
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        load_weather(store, file=ECAD, start="01/02/2020", end="2020-03-01")
    with pytest.raises(DataError, match="no values"):
        load_weather(store, file=ECAD, start="2021-01-01", end="2021-01-31")
    with pytest.raises(DataError, match="run 'hotspot ingest'"):
        load_weather(tmp_path / "nowhere", file=ECAD)


def test_written_table_and_provenance(tmp_path):
    store = make_store(tmp_path)
    run = ingest_weather(store, file=ECAD, start="2020-01-01", end="2020-01-08")
    daily = read_weather(store)
    assert list(daily.columns) == DAILY_COLUMNS and len(daily) == 8
    assert daily["tmax"].iloc[6:].isna().all()  # beyond the file: missing, not invented
    prov = json.loads(run.provenance_path.read_text())
    assert prov["source"] == "ecad" and prov["file"] == str(ECAD)
    assert len(prov["file_sha256"]) == 64
    assert prov["n_suspect"]["tmax"] == 2 and prov["n_suspect_total"] == 4
    assert prov["n_missing"]["tmax"] == 3 and prov["units"]["prcp"] == "mm"
    assert daily.attrs["provenance"]["start"] == "2020-01-01"
    assert not list((store / "weather").glob(".*tmp*"))  # atomic: no leftovers


# ---------------------------------------------------------------------------- the command


def test_cli_weather_with_a_file_end_to_end(tmp_path):
    store = make_store(tmp_path, months=("2020-01",))
    result = CliRunner().invoke(app, ["weather", "--store", str(store), "--file", str(ECAD)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "weather: 31 days 2020-01-01..2020-01-31" in out
    assert "ECA&D file" in out and "suspect values (kept): 4" in out
    assert "missing days: tmax 26" in out
    assert str(store / "weather" / "daily.parquet") in result.stdout.replace("\n", "")
    assert "warning:" in result.stderr and "25 days" in result.stderr
    assert len(read_weather(store)) == 31


def test_cli_weather_falls_back_with_a_warning_and_errors_without_a_file(tmp_path):
    store = make_store(tmp_path)
    runner = CliRunner()
    args = ["weather", "--store", str(store), "--start", "2020-01-01", "--end", "2020-01-06",
            "--timeout", "10"]
    began = time.monotonic()
    result = runner.invoke(app, [*args, "--station", "nearest", "--file", str(ECAD)])
    assert time.monotonic() - began < 10
    assert result.exit_code == 0, result.output
    assert "warning: meteostat unavailable" in " ".join(result.stderr.split())
    assert "falling back to the local file" in " ".join(result.stderr.split())
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("error: meteostat unavailable") and "--file" in result.stderr
