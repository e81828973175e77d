"""Daily weather for a store: meteostat (cached, bounded, offline-safe) or a local file.

Layout::

    STORE/weather/daily.parquet                     canonical daily table (below)
    STORE/weather/daily.json                        provenance: source, range, missing, suspect
    STORE/weather/cache/<station>_<start>_<end>.parquet  meteostat downloads, never fetched twice
    STORE/weather/cache/stations.json               nearest station found per study-area centre

The canonical daily table is described in :mod:`hotspot.ingest.weather_table`; the
sources live in :mod:`~hotspot.ingest.weather_meteostat` and
:mod:`~hotspot.ingest.weather_files`.

**Sources.** ``station`` (a meteostat id, or ``"nearest"`` for the station nearest the
study area's centre) reads meteostat: first the cache, then the network with every call
bounded by ``timeout_s`` (meteostat's own data download has no timeout, so it runs in a
daemon thread that is abandoned when late). When meteostat fails (no network, unknown
station, no data) the ``file`` is read instead with a warning, and without a ``file``
a :class:`~hotspot.core.errors.DataError` says to pass one. A ``file`` alone is read directly
and nothing touches the network. Files are either

- ECA&D (``DATE`` as ``YYYYMMDD``; ``TX, TN, TG`` in 0.1 °C, ``RR`` in 0.1 mm; each followed
  by its ``Q_`` flag: 0 valid, 1 suspect (kept, counted), 9 missing (NaN); ``-9999`` is
  missing too), recognised by a ``DATE`` header with ``Q_`` columns; or
- a plain CSV ``date,tmax,tmin,tavg,prcp`` (°C, mm; ISO dates; absent columns are NaN).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from hotspot.core.atomic import write_text_atomic
from hotspot.core.errors import ConfigError, DataError
from hotspot.ingest.store import AREA_FILE, list_months, read_store_meta
from hotspot.ingest.weather_files import read_weather_file
from hotspot.ingest.weather_meteostat import (
    DEFAULT_TIMEOUT_S,
    Fetcher,
    StationFinder,
    WeatherUnavailable,
    bounded,
    configure_meteostat,
    fetch_meteostat,
    meteostat_station_finder,
)
from hotspot.ingest.weather_table import (
    DAILY_COLUMNS,
    VALUE_COLUMNS,
    WeatherData,
    restrict,
    write_parquet,
)

logger = logging.getLogger("hotspot.weather")
logger.addHandler(logging.NullHandler())  # warnings also travel in WeatherData.warnings

WEATHER_DIR = "weather"
DAILY_FILE = "daily.parquet"
PROVENANCE_FILE = "daily.json"
CACHE_DIR = "cache"
STATIONS_FILE = "stations.json"
NEAREST = "nearest"


@dataclass
class WeatherRun:
    """What ``ingest_weather`` did: the data and the files it wrote."""

    data: WeatherData
    daily_path: Path
    provenance_path: Path

    @property
    def warnings(self) -> list[str]:
        return self.data.warnings

    def summary(self) -> str:
        return f"{self.data.summary()}\n  wrote {self.daily_path} (+ {self.provenance_path.name})"


def area_centre_lonlat(store: Path) -> tuple[float, float]:
    """Centre of ``STORE/area.gpkg`` in WGS84 degrees (centroid taken in the metric CRS)."""
    path = Path(store) / AREA_FILE
    if not path.is_file():
        raise DataError(f"store {store} has no {AREA_FILE} to find the nearest weather station: "
                        f"pass --station ID or --file PATH")
    parts = gpd.read_file(path)
    centre = gpd.GeoSeries([parts.union_all().centroid], crs=parts.crs).to_crs("EPSG:4326")
    return float(centre.iloc[0].x), float(centre.iloc[0].y)


def event_range(store: Path) -> tuple[date, date] | None:
    """First day of the store's first event month .. last day of its last, or ``None``."""
    months = list_months(store)
    if not months:
        return None
    first = pd.Period(months[0], freq="M")
    last = pd.Period(months[-1], freq="M")
    return first.start_time.date(), last.end_time.date()


def _parse_day(value: str | date | None, option: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not a date: write YYYY-MM-DD") from None


def resolve_range(store: Path, start: str | date | None,
                  end: str | date | None) -> tuple[date | None, date | None]:
    """``start``/``end`` as dates; a missing one defaults to the store's event months."""
    first, last = _parse_day(start, "--from"), _parse_day(end, "--to")
    if first is None or last is None:
        span = event_range(store)
        if span is not None:
            first = first or span[0]
            last = last or span[1]
    if first is not None and last is not None and first > last:
        raise ConfigError(f"--from {first} is after --to {last}")
    return first, last


def _nearest_station(store: Path, start: date, end: date, finder: StationFinder | None,
                     timeout_s: float) -> dict:
    """The station nearest the area's centre, remembered in ``cache/stations.json``."""
    lon, lat = area_centre_lonlat(store)
    memo_path = Path(store) / WEATHER_DIR / CACHE_DIR / STATIONS_FILE
    key = f"{lat:.4f},{lon:.4f}"
    memo = json.loads(memo_path.read_text()) if memo_path.is_file() else {}
    if key in memo:
        return memo[key]
    if finder is None:
        configure_meteostat(timeout_s)
        finder = meteostat_station_finder
    found = bounded(lambda: finder(lon, lat, start, end), timeout_s,
                     "meteostat station lookup")
    if not found or not found.get("id"):
        raise WeatherUnavailable(f"no meteostat station found near {lat:.4f}, {lon:.4f}")
    memo[key] = {k: found.get(k) for k in ("id", "name", "distance_m")}
    write_text_atomic(memo_path, json.dumps(memo, indent=2, sort_keys=True))
    return memo[key]


def load_weather(
    store: Path,
    *,
    station: str | None = None,
    file: Path | str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    fetcher: Fetcher | None = None,
    station_finder: StationFinder | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> WeatherData:
    """Daily weather for ``store`` on ``start..end`` (default: its event months).

    ``station`` (an id or ``"nearest"``) reads meteostat, falling back to ``file`` with a
    warning; ``file`` alone is read without any network; neither means ``"nearest"``.
    ``fetcher`` and ``station_finder`` replace meteostat (tests, other services).
    """
    store = Path(store)
    read_store_meta(store)
    if file is not None and not Path(file).is_file():
        raise DataError(f"weather file {file} not found")
    first, last = resolve_range(store, start, end)
    if station is None and file is None:
        station = NEAREST
    warnings: list[str] = []
    if station is not None:
        if first is None or last is None:
            raise ConfigError(f"store {store} has no events to take the weather range from: "
                              f"pass --from YYYY-MM-DD --to YYYY-MM-DD")
        try:
            name = None
            if station == NEAREST:
                found = _nearest_station(store, first, last, station_finder, timeout_s)
                station, name = str(found["id"]), found.get("name")
            data = fetch_meteostat(station, first, last,
                                   store / WEATHER_DIR / CACHE_DIR, fetcher=fetcher,
                                   timeout_s=timeout_s, station_name=name)
            return data
        except WeatherUnavailable as exc:
            message = f"meteostat unavailable: {exc}"
            if file is None:
                logger.warning(message)
                raise DataError(f"{message}; pass --file PATH (an ECA&D file or a CSV "
                                f"date,tmax,tmin,tavg,prcp) to use local data") from None
            warnings.append(f"{message}; falling back to the local file {file}")
            logger.warning(warnings[-1])
    whole = read_weather_file(file)  # type: ignore[arg-type]
    data = restrict(whole, first, last)
    data.warnings = warnings + data.warnings
    covered = whole.daily.dropna(subset=VALUE_COLUMNS, how="all")["date"]
    if first is not None and last is not None and len(covered):
        outside = int(((data.daily["date"] < covered.min())
                       | (data.daily["date"] > covered.max())).sum())
        if outside:
            data.warnings.append(
                f"{file} has data for {covered.min():%Y-%m-%d}..{covered.max():%Y-%m-%d} "
                f"only: {outside} days of {first}..{last} are missing (NaN)")
    if data.daily[VALUE_COLUMNS].isna().all().all():
        raise DataError(f"weather file {file} has no values in {first}..{last}: "
                        f"it does not cover the store's period")
    return data


def write_weather(store: Path, data: WeatherData) -> tuple[Path, Path]:
    """Write ``STORE/weather/daily.parquet`` and its provenance JSON, each atomically."""
    folder = Path(store) / WEATHER_DIR
    daily = data.daily[DAILY_COLUMNS].reset_index(drop=True)
    daily_path = write_parquet(daily, folder / DAILY_FILE)
    prov_path = write_text_atomic(folder / PROVENANCE_FILE,
                                  json.dumps(data.provenance(), indent=2, default=str))
    return daily_path, prov_path


def ingest_weather(store: Path, **options: Any) -> WeatherRun:
    """``load_weather(store, **options)`` then ``write_weather``: what ``hotspot weather`` does."""
    data = load_weather(store, **options)
    daily_path, prov_path = write_weather(store, data)
    return WeatherRun(data, daily_path, prov_path)


def read_weather(store: Path) -> pd.DataFrame:
    """The canonical daily table written by ``hotspot weather`` (provenance in ``attrs``)."""
    path = Path(store) / WEATHER_DIR / DAILY_FILE
    if not path.is_file():
        raise DataError(f"store {store} has no {WEATHER_DIR}/{DAILY_FILE}: run "
                        f"'hotspot weather --store {store}' first")
    daily = pd.read_parquet(path)
    prov = path.with_name(PROVENANCE_FILE)
    if prov.is_file():
        daily.attrs["provenance"] = json.loads(prov.read_text())
    return daily
