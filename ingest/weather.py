"""Daily weather for a store: meteostat (cached, bounded, offline-safe) or a local file.

Layout::

    STORE/weather/daily.parquet                     canonical daily table (below)
    STORE/weather/daily.json                        provenance: source, range, missing, suspect
    STORE/weather/cache/<station>_<start>_<end>.parquet  meteostat downloads, never fetched twice
    STORE/weather/cache/stations.json               nearest station found per study-area centre

The **canonical daily table** has one row per calendar day of the range, no gaps (a day
without data is a row of NaN), and the columns

==========  ======================================================
``date``    the day (``datetime64``, midnight)
``tmax``    daily maximum temperature, °C
``tmin``    daily minimum temperature, °C
``tavg``    daily mean temperature, °C
``prcp``    precipitation, mm
==========  ======================================================

Where it comes from is provenance, not a column: ``source``, the station, the file, and
``n_suspect`` (values an ECA&D file flags as suspect, kept).

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

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hotspot.core.atomic import atomic_path, write_text_atomic
from hotspot.core.errors import ConfigError, DataError
from hotspot.ingest.store import AREA_FILE, list_months, read_store_meta

logger = logging.getLogger("hotspot.weather")
logger.addHandler(logging.NullHandler())  # warnings also travel in WeatherData.warnings

WEATHER_DIR = "weather"
DAILY_FILE = "daily.parquet"
PROVENANCE_FILE = "daily.json"
CACHE_DIR = "cache"
STATIONS_FILE = "stations.json"

VALUE_COLUMNS = ["tmax", "tmin", "tavg", "prcp"]
DAILY_COLUMNS = ["date", *VALUE_COLUMNS]
UNITS = {"tmax": "degC", "tmin": "degC", "tavg": "degC", "prcp": "mm"}
#: ECA&D element -> canonical column (all four in tenths).
ECAD_ELEMENTS = {"TX": "tmax", "TN": "tmin", "TG": "tavg", "RR": "prcp"}
ECAD_MISSING = -9999
FLAG_VALID, FLAG_SUSPECT, FLAG_MISSING = 0, 1, 9
#: Plain CSV header aliases (lower-cased) -> canonical column.
CSV_ALIASES = {"date": "date", "time": "date", "day": "date", "tmax": "tmax", "tmin": "tmin",
               "tavg": "tavg", "temp": "tavg", "prcp": "prcp", "precip": "prcp"}
#: Beyond these a plain CSV is almost certainly in other units (tenths, °F, ...).
PLAUSIBLE = {"temperature": (-90.0, 60.0), "prcp": (0.0, 2000.0)}

NEAREST = "nearest"
DEFAULT_TIMEOUT_S = 30.0
#: Per-request timeout and retries meteostat gets unless the user set MS_* variables.
_NETWORK_TIMEOUT_S = 10
_NETWORK_MAX_RETRIES = 0

#: ``fetcher(station_id, start, end)`` returns meteostat's daily frame (time index;
#: ``tmax, tmin, temp, prcp`` columns) or ``None`` / an empty frame when it has nothing.
Fetcher = Callable[[str, date, date], "pd.DataFrame | None"]
#: ``finder(lon, lat, start, end)`` returns ``{"id": ..., "name": ..., "distance_m": ...}``.
StationFinder = Callable[[float, float, date, date], dict]


class WeatherUnavailable(Exception):
    """meteostat could not deliver (network, station, timeout); the caller may fall back."""


# ---------------------------------------------------------------------------- results


@dataclass
class WeatherData:
    """A canonical daily table and where it came from.

    ``suspect`` (same rows as ``daily``, boolean value columns) marks values a source
    flagged as suspect and that were kept; ``n_suspect`` counts them per column.
    """

    daily: pd.DataFrame
    source: str  # "meteostat", "ecad" or "csv"
    station: str | None = None
    station_name: str | None = None
    file: str | None = None
    suspect: pd.DataFrame | None = None
    from_cache: bool = False
    cache_file: str | None = None
    warnings: list[str] = field(default_factory=list)
    file_sha256: str | None = None

    @property
    def n_suspect(self) -> dict[str, int]:
        if self.suspect is None:
            return dict.fromkeys(VALUE_COLUMNS, 0)
        return {c: int(self.suspect[c].sum()) for c in VALUE_COLUMNS}

    @property
    def n_suspect_days(self) -> int:
        if self.suspect is None:
            return 0
        return int(self.suspect[VALUE_COLUMNS].any(axis=1).sum())

    @property
    def n_days(self) -> int:
        return len(self.daily)

    @property
    def n_missing(self) -> dict[str, int]:
        return {c: int(self.daily[c].isna().sum()) for c in VALUE_COLUMNS}

    @property
    def n_suspect_total(self) -> int:
        return int(sum(self.n_suspect.values()))

    def describe_source(self) -> str:
        if self.source == "meteostat":
            name = f" ({self.station_name})" if self.station_name else ""
            return f"meteostat station {self.station}{name}" + (
                " [cache]" if self.from_cache else "")
        kind = "ECA&D file" if self.source == "ecad" else "CSV file"
        return f"{kind} {self.file}"

    def provenance(self) -> dict[str, Any]:
        dates = self.daily["date"]
        return {
            "source": self.source,
            "station": self.station,
            "station_name": self.station_name,
            "file": self.file,
            "file_sha256": self.file_sha256,
            "start": dates.min().strftime("%Y-%m-%d") if len(dates) else None,
            "end": dates.max().strftime("%Y-%m-%d") if len(dates) else None,
            "n_days": self.n_days,
            "n_missing": self.n_missing,
            "n_suspect": dict(self.n_suspect),
            "n_suspect_total": self.n_suspect_total,
            "n_suspect_days": self.n_suspect_days,
            "units": UNITS,
            "from_cache": self.from_cache,
            "cache_file": self.cache_file,
            "warnings": list(self.warnings),
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def summary(self) -> str:
        """Days, missing, suspect and source in a few lines."""
        dates = self.daily["date"]
        span = (f"{dates.min():%Y-%m-%d}..{dates.max():%Y-%m-%d}" if len(dates) else "empty")
        missing = ", ".join(f"{c} {n}" for c, n in self.n_missing.items())
        suspect = (", ".join(f"{c} {n}" for c, n in self.n_suspect.items() if n)
                   or "none")
        return (f"weather: {self.n_days} days {span} from {self.describe_source()}\n"
                f"  missing days: {missing}\n"
                f"  suspect values (kept): {self.n_suspect_total} ({suspect})")


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


# ---------------------------------------------------------------------------- tables


def _empty_daily() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.DatetimeIndex([], dtype="datetime64[ns]"),
                         **{c: pd.Series(dtype=float) for c in VALUE_COLUMNS}})


def complete_days(daily: pd.DataFrame, start: date | None = None,
                  end: date | None = None) -> pd.DataFrame:
    """``daily`` restricted to ``start..end`` (default: its own span) with one row per day.

    Days the table lacks become NaN rows; duplicate dates are a ``DataError``.
    """
    frame = daily.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize().astype("datetime64[ns]")
    dup = frame["date"].duplicated()
    if dup.any():
        raise DataError(f"weather has {int(dup.sum())} duplicate dates, first "
                        f"{frame.loc[dup, 'date'].iloc[0]:%Y-%m-%d}")
    for column in VALUE_COLUMNS:
        frame[column] = (pd.to_numeric(frame[column], errors="coerce").astype(float)
                         if column in frame else np.nan)
    if start is None and end is None and frame.empty:
        return _empty_daily()
    first = pd.Timestamp(start) if start is not None else frame["date"].min()
    last = pd.Timestamp(end) if end is not None else frame["date"].max()
    if pd.isna(first) or pd.isna(last) or first > last:
        return _empty_daily()
    days = pd.date_range(first, last, freq="D").astype("datetime64[ns]")
    frame = frame.set_index("date")[VALUE_COLUMNS].reindex(days)
    return frame.rename_axis("date").reset_index()


def _raise_bad_values(path: Path, column: str, raw: pd.Series, parsed: pd.Series) -> None:
    bad = raw.notna() & (raw.astype(str).str.strip() != "") & parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(f"{path}: column {column} has {int(bad.sum())} non-numeric values "
                        f"(first at line {row}: {raw[bad].iloc[0]!r})")


def _parse_dates(path: Path, raw: pd.Series, fmt: str | None) -> pd.Series:
    text = raw.astype(str).str.strip()
    if fmt is None:
        fmt = "%Y%m%d" if text.str.fullmatch(r"\d{8}").all() else "ISO8601"
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0]) + 2
        raise DataError(f"{path}: {int(parsed.isna().sum())} dates cannot be read (first at "
                        f"line {row}: {raw[parsed.isna()].iloc[0]!r}); write YYYY-MM-DD")
    return parsed


def _header_line(path: Path) -> tuple[int, list[str]]:
    """Index and tokens of the first line that looks like a header (ECA&D has a preamble)."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            for number, line in enumerate(handle):
                tokens = [t.strip() for t in line.strip().split(",")]
                upper = [t.upper() for t in tokens]
                if "DATE" in upper and len(tokens) > 1:
                    return number, tokens
                if number >= 60:
                    break
    except OSError as exc:
        raise DataError(f"weather file {path} cannot be read: {exc}") from None
    raise DataError(f"{path}: no header with a DATE/date column in the first lines; expected "
                    f"an ECA&D file or a CSV 'date,tmax,tmin,tavg,prcp'")


def detect_format(path: Path | str) -> str:
    """``"ecad"`` for a DATE header with ``Q_`` flags, ``"csv"`` for ``date,tmax,...``."""
    _, tokens = _header_line(Path(path))
    upper = [t.upper() for t in tokens]
    if any(t.startswith("Q_") for t in upper) and any(t in ECAD_ELEMENTS for t in upper):
        return "ecad"
    lower = {CSV_ALIASES.get(t.lower()) for t in tokens}
    if "date" in lower and lower & set(VALUE_COLUMNS):
        return "csv"
    raise DataError(f"{path}: header {tokens} is neither ECA&D (DATE, TX, Q_TX, TN, ...) nor "
                    f"a CSV with date,tmax,tmin,tavg,prcp")


def read_ecad(path: Path | str) -> WeatherData:
    """Read an ECA&D daily file: tenths to °C/mm, flag 9 (or -9999) to NaN, flag 1 counted."""
    path = Path(path)
    skip, _ = _header_line(path)
    raw = pd.read_csv(path, skiprows=skip, dtype=str, skipinitialspace=True,
                      keep_default_na=False, na_values=[""])
    raw.columns = [str(c).strip().upper() for c in raw.columns]
    present = [e for e in ECAD_ELEMENTS if e in raw.columns]
    if not present:
        raise DataError(f"{path}: ECA&D file has none of the columns {list(ECAD_ELEMENTS)}")
    dates = _parse_dates(path, raw["DATE"], "%Y%m%d")
    daily = pd.DataFrame({"date": dates})
    suspect = pd.DataFrame({"date": dates})
    for element, column in ECAD_ELEMENTS.items():
        if element not in raw.columns:
            daily[column] = np.nan
            suspect[column] = False
            continue
        values = pd.to_numeric(raw[element], errors="coerce")
        _raise_bad_values(path, element, raw[element], values)
        flag_col = f"Q_{element}"
        if flag_col in raw.columns:
            flags = pd.to_numeric(raw[flag_col], errors="coerce").fillna(FLAG_VALID).astype(int)
        else:
            flags = pd.Series(FLAG_VALID, index=raw.index)
        missing = (flags == FLAG_MISSING) | (values == ECAD_MISSING) | values.isna()
        daily[column] = (values / 10.0).where(~missing)
        suspect[column] = (flags == FLAG_SUSPECT) & ~missing  # only values that are kept
    return WeatherData(complete_days(daily), "ecad", file=str(path),
                       suspect=_complete_flags(suspect))


def _complete_flags(suspect: pd.DataFrame, start: date | None = None,
                    end: date | None = None) -> pd.DataFrame:
    """Suspect flags on the same complete day range as ``complete_days`` gives."""
    flags = complete_days(suspect.astype({c: float for c in VALUE_COLUMNS}), start, end)
    flags[VALUE_COLUMNS] = flags[VALUE_COLUMNS].fillna(0.0).astype(bool)
    return flags


def read_plain_csv(path: Path | str) -> WeatherData:
    """Read ``date,tmax,tmin,tavg,prcp`` (°C, mm); missing columns become NaN."""
    path = Path(path)
    skip, _ = _header_line(path)
    raw = pd.read_csv(path, skiprows=skip, dtype=str, skipinitialspace=True,
                      keep_default_na=False, na_values=["", "NA", "NaN", "nan"])
    raw.columns = [CSV_ALIASES.get(str(c).strip().lower(), str(c).strip().lower())
                   for c in raw.columns]
    if "date" not in raw.columns:
        raise DataError(f"{path}: no date column; expected date,tmax,tmin,tavg,prcp")
    daily = pd.DataFrame({"date": _parse_dates(path, raw["date"], None)})
    for column in VALUE_COLUMNS:
        if column not in raw.columns:
            daily[column] = np.nan
            continue
        values = pd.to_numeric(raw[column], errors="coerce")
        _raise_bad_values(path, column, raw[column], values)
        low, high = PLAUSIBLE["prcp" if column == "prcp" else "temperature"]
        outside = values.notna() & ((values < low) | (values > high))
        if outside.any():
            unit = "mm" if column == "prcp" else "°C"
            raise DataError(f"{path}: {int(outside.sum())} {column} values outside "
                            f"[{low:g}, {high:g}] {unit} (e.g. {values[outside].iloc[0]:g}); "
                            f"plain CSVs must be in °C and mm, not tenths or °F")
        daily[column] = values.astype(float)
    return WeatherData(complete_days(daily), "csv", file=str(path))


def read_weather_file(path: Path | str) -> WeatherData:
    """Read an ECA&D or plain CSV weather file, whichever its header says."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"weather file {path} not found")
    data = read_ecad(path) if detect_format(path) == "ecad" else read_plain_csv(path)
    data.file_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return data


def restrict(data: WeatherData, start: date | None, end: date | None) -> WeatherData:
    """``data`` on ``start..end`` (NaN days where it has none); suspect counts follow."""
    if start is None and end is None:
        return data
    suspect = None if data.suspect is None else _complete_flags(data.suspect, start, end)
    return replace(data, daily=complete_days(data.daily, start, end), suspect=suspect,
                   warnings=list(data.warnings))


# ---------------------------------------------------------------------------- meteostat


def _meteostat():
    """Import meteostat with short network settings (env is read at its import)."""
    os.environ.setdefault("MS_NETWORK_MAX_RETRIES", str(_NETWORK_MAX_RETRIES))
    os.environ.setdefault("MS_NETWORK_TIMEOUT", str(_NETWORK_TIMEOUT_S))
    try:
        import meteostat
    except ImportError:
        raise WeatherUnavailable("the meteostat package is not installed") from None
    return meteostat


def meteostat_fetcher(station: str, start: date, end: date) -> pd.DataFrame | None:
    """Default fetcher: ``meteostat.daily(station, start, end).fetch()``."""
    ms = _meteostat()
    series = ms.daily(station, datetime.combine(start, datetime.min.time()),
                      datetime.combine(end, datetime.min.time()),
                      parameters=[ms.Parameter.TMAX, ms.Parameter.TMIN, ms.Parameter.TEMP,
                                  ms.Parameter.PRCP])
    return None if series is None else series.fetch()


def meteostat_station_finder(lon: float, lat: float, start: date, end: date) -> dict:
    """Default finder: the nearest meteostat station whose daily inventory overlaps the range."""
    ms = _meteostat()
    nearby = ms.stations.nearby(ms.Point(lat, lon), radius=100_000, limit=10)
    if nearby is None or nearby.empty:
        raise WeatherUnavailable(f"no meteostat station within 100 km of {lat:.4f}, {lon:.4f}")
    for station_id, row in nearby.iterrows():
        try:
            inventory = ms.stations.inventory(str(station_id), providers=[ms.Provider.DAILY])
            covers = (inventory.df is not None and inventory.start is not None
                      and inventory.start <= end and inventory.end >= start)
        except Exception:  # an inventory lookup is a nicety: take the nearest then
            covers = True
        if covers:
            return {"id": str(station_id), "name": str(row.get("name", "")),
                    "distance_m": float(row.get("distance", np.nan))}
    first = nearby.index[0]
    return {"id": str(first), "name": str(nearby.iloc[0].get("name", "")),
            "distance_m": float(nearby.iloc[0].get("distance", np.nan))}


def _bounded(call: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Run ``call`` in a daemon thread; raise ``WeatherUnavailable`` when late or failing.

    A late thread is abandoned (daemon threads never hold up the interpreter's exit);
    meteostat's download has no timeout of its own, so this is the only bound it gets.
    """
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=work, name=f"hotspot-weather-{what}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise WeatherUnavailable(f"{what} did not answer within {timeout_s:g} s "
                                 f"(network unreachable or silent?)")
    if "error" in outcome:
        exc = outcome["error"]
        if isinstance(exc, WeatherUnavailable):
            raise exc
        kind = "" if type(exc) is Exception else f"{type(exc).__name__}: "
        raise WeatherUnavailable(f"{what} failed ({kind}{exc}; no network?)") from exc
    return outcome.get("value")


def _configure_meteostat(timeout_s: float) -> None:
    """Short per-request timeouts and no retries, unless the user set MS_* themselves."""
    try:
        ms = _meteostat()
    except WeatherUnavailable:
        return
    if "MS_NETWORK_MAX_RETRIES" not in os.environ or os.environ[
            "MS_NETWORK_MAX_RETRIES"] == str(_NETWORK_MAX_RETRIES):
        ms.config.network_max_retries = _NETWORK_MAX_RETRIES
    per_request = max(1, min(_NETWORK_TIMEOUT_S, int(timeout_s)))
    ms.config.network_timeout = min(int(ms.config.network_timeout), per_request)


def from_meteostat_frame(frame: pd.DataFrame | None, start: date, end: date) -> pd.DataFrame:
    """meteostat's daily frame (time index, ``temp`` for the mean) as the canonical table."""
    if frame is None or len(frame) == 0:
        return complete_days(_empty_daily(), start, end)
    frame = frame.copy()
    if isinstance(frame.index, pd.MultiIndex):
        frame = frame.reset_index([n for n in frame.index.names if n != "time"], drop=True)
    if "time" in frame.columns:
        frame = frame.set_index("time")
    frame = frame.rename(columns={"temp": "tavg"})
    out = pd.DataFrame({"date": pd.DatetimeIndex(frame.index).tz_localize(None)
                        if getattr(frame.index, "tz", None) else pd.DatetimeIndex(frame.index)})
    for column in VALUE_COLUMNS:
        out[column] = (pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
                       if column in frame else np.nan)
    return complete_days(out, start, end)


def _cache_name(station: str, start: date, end: date) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "-", station)
    return f"{safe}_{start:%Y-%m-%d}_{end:%Y-%m-%d}.parquet"


def _find_cached(cache_dir: Path, station: str, start: date, end: date) -> Path | None:
    """A cache file of ``station`` whose range covers ``start..end`` (exact name first)."""
    exact = cache_dir / _cache_name(station, start, end)
    if exact.is_file():
        return exact
    prefix = _cache_name(station, start, end).rsplit("_", 2)[0] + "_"
    for candidate in sorted(cache_dir.glob(f"{prefix}*.parquet")):
        parts = candidate.stem.rsplit("_", 2)
        try:
            lo, hi = date.fromisoformat(parts[1]), date.fromisoformat(parts[2])
        except (IndexError, ValueError):
            continue
        if lo <= start and hi >= end:
            return candidate
    return None


def _write_parquet(frame: pd.DataFrame, target: Path) -> Path:
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)
    return target


def fetch_meteostat(
    station: str,
    start: date,
    end: date,
    cache_dir: Path,
    *,
    fetcher: Fetcher | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    station_name: str | None = None,
) -> WeatherData:
    """Daily data of ``station`` for ``start..end``: from the cache, else meteostat (cached).

    Raises ``WeatherUnavailable`` when the fetch fails, times out or returns nothing;
    failures are not cached, so a later run tries again.
    """
    cache_dir = Path(cache_dir)
    cached = _find_cached(cache_dir, station, start, end)
    if cached is not None:
        daily = complete_days(pd.read_parquet(cached), start, end)
        return WeatherData(daily, "meteostat", station=station, station_name=station_name,
                           from_cache=True, cache_file=str(cached))
    if fetcher is None:
        _configure_meteostat(timeout_s)
        fetcher = meteostat_fetcher
    frame = _bounded(lambda: fetcher(station, start, end), timeout_s,
                     f"meteostat download for station {station}")
    daily = from_meteostat_frame(frame, start, end)
    if daily[VALUE_COLUMNS].isna().all().all():
        raise WeatherUnavailable(f"meteostat returned no daily data for station {station} in "
                                 f"{start}..{end} (offline, or the station has none)")
    target = _write_parquet(daily, cache_dir / _cache_name(station, start, end))
    return WeatherData(daily, "meteostat", station=station, station_name=station_name,
                       cache_file=str(target))


# ---------------------------------------------------------------------------- the store


def area_centre_lonlat(store: Path) -> tuple[float, float]:
    """Centre of ``STORE/area.gpkg`` in WGS84 degrees (centroid taken in the metric CRS)."""
    import geopandas as gpd

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
    first, last = _parse_day(start, "--start"), _parse_day(end, "--end")
    if first is None or last is None:
        span = event_range(store)
        if span is not None:
            first = first or span[0]
            last = last or span[1]
    if first is not None and last is not None and first > last:
        raise ConfigError(f"--start {first} is after --end {last}")
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
        _configure_meteostat(timeout_s)
        finder = meteostat_station_finder
    found = _bounded(lambda: finder(lon, lat, start, end), timeout_s,
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
                              f"pass --start YYYY-MM-DD --end YYYY-MM-DD")
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
    daily_path = _write_parquet(daily, folder / DAILY_FILE)
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
