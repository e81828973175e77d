"""meteostat as a weather source: bounded calls (offline-safe) and a download cache.

Every call is bounded by ``timeout_s`` (meteostat's own data download has no timeout, so it
runs in a daemon thread that is abandoned when late); a failure raises
:class:`WeatherUnavailable` so the caller may fall back to a local file. Downloads are kept
as ``<cache>/<station>_<start>_<end>.parquet`` and never fetched twice.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hotspot.ingest.weather_table import (
    VALUE_COLUMNS,
    WeatherData,
    complete_days,
    empty_daily,
    write_parquet,
)

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


def bounded(call: Callable[[], Any], timeout_s: float, what: str) -> Any:
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


def configure_meteostat(timeout_s: float) -> None:
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
        return complete_days(empty_daily(), start, end)
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
        configure_meteostat(timeout_s)
        fetcher = meteostat_fetcher
    frame = bounded(lambda: fetcher(station, start, end), timeout_s,
                     f"meteostat download for station {station}")
    daily = from_meteostat_frame(frame, start, end)
    if daily[VALUE_COLUMNS].isna().all().all():
        raise WeatherUnavailable(f"meteostat returned no daily data for station {station} in "
                                 f"{start}..{end} (offline, or the station has none)")
    target = write_parquet(daily, cache_dir / _cache_name(station, start, end))
    return WeatherData(daily, "meteostat", station=station, station_name=station_name,
                       cache_file=str(target))
