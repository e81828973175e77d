"""Calendar covariates: what is known about a period before it starts.

``calendar_covariates(cube, ...)`` returns a DataFrame indexed by ``time`` (period
starts), one numeric column per covariate, for
``build_design(cube, covariates={"calendar": table})``:

==================  =================================================================
``month``           month of year of the period's start, 1..12
``month_sin``,      the month on the unit circle (``2π (month − 1) / 12``); the design
``month_cos``       already adds annual harmonics, so these matter to other consumers
``days``            days in the period (28..31 for months, 7, 1)
``weekday_share``   share of the period's days that are Monday..Friday
``weekend_share``   share that are Saturday or Sunday (``1 − weekday_share``)
``holidays``        public holidays in the period (``holidays`` package: substitute
                    days such as "Boxing Day (observed)" count; a date counts once)
``event_<name>``    per event name of the events table: share of the period's days
                    inside one of that name's ``[start, end]`` intervals (both ends
                    included), e.g. ``event_lockdown`` is 1.0 for April 2020
==================  =================================================================

The country defaults to ``GB`` (without ``subdiv``: only the holidays common to the whole
UK, so no Easter Monday; pass ``subdiv="ENG"`` for England and Wales).
:func:`country_for_store` picks ``(country, subdiv)`` from the study area: ``GB`` with its
nation (``ENG``, ``SCT``, ``NIR``) for British stores, ``US`` inside the United States,
where a state must be passed as ``subdiv`` when its own holidays matter. Explicit
``country``/``subdiv`` arguments override.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.area import BRITISH_NATIONAL_GRID, same_crs
from hotspot.core.errors import ConfigError, DataError
from hotspot.core.periods import PANDAS_FREQ, check_freq, period_starts
from hotspot.ingest.store import AREA_FILE, read_store_meta

#: lon_min, lat_min, lon_max, lat_max: contiguous United States, Alaska, Hawaii.
_US_BOXES = ((-125.0, 24.4, -66.9, 49.4), (-170.0, 51.0, -129.9, 71.5),
             (-160.5, 18.9, -154.7, 22.3))
_GB_BOX = (-8.7, 49.8, 1.9, 60.9)
EVENT_PREFIX = "event_"


def _periods_of(cube_or_periods: xr.Dataset | pd.PeriodIndex | pd.DatetimeIndex | object,
                freq: str | None) -> tuple[pd.PeriodIndex, str]:
    if isinstance(cube_or_periods, xr.Dataset):
        cube_freq = cube_or_periods.attrs.get("freq")
        if freq is not None and cube_freq is not None and freq != cube_freq:
            raise ConfigError(f"freq {freq!r} differs from the cube's {cube_freq!r}")
        freq = check_freq(freq or cube_freq)
        index = pd.DatetimeIndex(cube_or_periods["time"].values)
        return pd.PeriodIndex(index.to_period(PANDAS_FREQ[freq])), freq
    if isinstance(cube_or_periods, pd.PeriodIndex):
        freq = check_freq(freq or {"M": "M", "W": "W", "D": "D"}.get(
            cube_or_periods.freqstr[:1], ""))
        return cube_or_periods.asfreq(PANDAS_FREQ[freq]), freq
    if freq is None:
        raise ConfigError("calendar covariates need freq (M, W or D) with period starts")
    freq = check_freq(freq)
    try:
        index = pd.DatetimeIndex(cube_or_periods)
    except (TypeError, ValueError):
        raise ConfigError("periods must be a cube, a PeriodIndex or period start "
                          "timestamps") from None
    return pd.PeriodIndex(index.to_period(PANDAS_FREQ[freq])), freq


def country_for_lonlat(lon: float, lat: float) -> tuple[str, str | None] | None:
    """``(country, subdivision)`` of a point for the ``holidays`` package, or ``None``.

    In Great Britain the nation matters (Scotland and Northern Ireland have their own
    bank holidays; Wales shares England's): a coarse rule on the point gives ``SCT``,
    ``NIR`` or ``ENG``. In the United States the state is not guessed (``None``).
    """
    lon_min, lat_min, lon_max, lat_max = _GB_BOX
    if lon_min <= lon <= lon_max and lat_min <= lat <= lat_max:
        if lon < -5.4 and 54.0 <= lat <= 55.35:
            return "GB", "NIR"
        # the Anglo-Scottish border, roughly Solway Firth (-3.07, 54.98) to Berwick
        # (-2.03, 55.81)
        border = 54.98 + np.clip(lon + 3.07, 0.0, 1.04) * (0.83 / 1.04)
        if lat > 55.81 or (lon < -2.03 and lat > border):
            return "GB", "SCT"
        return "GB", "ENG"
    for lon_min, lat_min, lon_max, lat_max in _US_BOXES:
        if lon_min <= lon <= lon_max and lat_min <= lat <= lat_max:
            return "US", None
    return None


def country_for_store(store: Path | str,
                      default: tuple[str, str | None] = ("GB", None)) -> tuple[str, str | None]:
    """``(country, subdiv)`` for a store's holidays, from the centre of ``STORE/area.gpkg``.

    Without an area: ``("GB", None)`` for an EPSG:27700 store (the holidays common to the
    whole of the UK), else ``default``.
    """
    store = Path(store)
    crs = str(read_store_meta(store).get("crs", ""))
    area = store / AREA_FILE
    if area.is_file():
        parts = gpd.read_file(area)
        centre = gpd.GeoSeries([parts.union_all().centroid], crs=parts.crs).to_crs(4326)
        found = country_for_lonlat(float(centre.iloc[0].x), float(centre.iloc[0].y))
        if found:
            return found
    if crs and same_crs(crs, BRITISH_NATIONAL_GRID):
        return "GB", None
    return default


def _holiday_dates(country: str, subdiv: str | None, years: list[int]) -> set:
    import holidays

    try:
        table = holidays.country_holidays(country, subdiv=subdiv, years=years)
    except NotImplementedError as exc:
        raise ConfigError(f"holidays for country={country!r} subdiv={subdiv!r}: {exc}") from None
    return {pd.Timestamp(d) for d in table}


def read_events_table(events: pd.DataFrame | Path | str) -> pd.DataFrame:
    """An events table ``start, end, name`` (dates; ``end`` included) checked and typed."""
    if not isinstance(events, pd.DataFrame):
        path = Path(events)
        if not path.is_file():
            raise DataError(f"events table {path} not found: a CSV with start,end,name")
        events = pd.read_csv(path, dtype=str, skipinitialspace=True)
        source = str(path)
    else:
        source = "events table"
    events = events.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in ("start", "end", "name") if c not in events.columns]
    if missing:
        raise DataError(f"{source} lacks columns {missing}: expected start,end,name")
    out = pd.DataFrame({
        "start": pd.to_datetime(events["start"], errors="coerce"),
        "end": pd.to_datetime(events["end"], errors="coerce"),
        "name": events["name"].astype(str).str.strip(),
    })
    bad = out["start"].isna() | out["end"].isna() | (out["name"] == "")
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(f"{source}: {int(bad.sum())} rows without a readable start, end or "
                        f"name (first at line {line}); dates as YYYY-MM-DD")
    reversed_ = out["end"] < out["start"]
    if reversed_.any():
        row = out[reversed_].iloc[0]
        raise DataError(f"{source}: event {row['name']!r} ends ({row['end']:%Y-%m-%d}) before "
                        f"it starts ({row['start']:%Y-%m-%d})")
    out["start"] = out["start"].dt.normalize()
    out["end"] = out["end"].dt.normalize()
    return out


def event_column(name: str) -> str:
    """``event_<name>`` with the name reduced to lower-case letters, digits and ``_``."""
    slug = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    return EVENT_PREFIX + (slug or "unnamed")


def calendar_covariates(
    cube_or_periods: xr.Dataset | pd.PeriodIndex | pd.DatetimeIndex,
    freq: str | None = None,
    country: str = "GB",
    subdiv: str | None = None,
    events_table: pd.DataFrame | Path | str | None = None,
    *,
    ahead: int = 0,
) -> pd.DataFrame:
    """Calendar covariates per period (see the module doc), indexed by period start.

    ``cube_or_periods`` is a cube (its ``time`` and ``freq``), a ``PeriodIndex`` or period
    start timestamps (then ``freq`` is required). Works for any periods, future ones
    included: everything here is known in advance. ``ahead`` adds that many periods after
    the last (the forecast targets ``design_for_next`` reads).
    """
    periods, freq = _periods_of(cube_or_periods, freq)
    if len(periods) == 0:
        raise DataError("no periods to build calendar covariates for")
    if int(ahead) < 0:
        raise ConfigError(f"ahead must be 0 or more, got {ahead}")
    if ahead:
        periods = periods.append(pd.period_range(periods.max() + 1, periods=int(ahead),
                                                 freq=periods.freq))
    starts = periods.to_timestamp(how="start")
    first = starts.min()
    last = periods.to_timestamp(how="end").max().normalize()
    days = pd.date_range(first, last, freq="D")
    row = pd.PeriodIndex(days.to_period(PANDAS_FREQ[freq])).asi8
    wanted = pd.Index(periods.asi8)
    row = wanted.get_indexer(row)  # -1 for days of periods not asked for (gaps)
    keep = row >= 0
    days, row = days[keep], row[keep]
    n = len(periods)

    def per_period(weights: np.ndarray) -> np.ndarray:
        return np.bincount(row, weights=weights.astype(float), minlength=n)

    n_days = per_period(np.ones(len(days)))
    weekend = per_period(days.day_of_week.to_numpy() >= 5)
    years = sorted(set(days.year.tolist()))
    holiday_dates = _holiday_dates(country, subdiv, years)
    is_holiday = days.isin(pd.DatetimeIndex(sorted(holiday_dates))) if holiday_dates else (
        np.zeros(len(days), dtype=bool))
    month = starts.month.to_numpy()
    phase = 2 * np.pi * (month - 1) / 12
    table = pd.DataFrame({
        "month": month.astype(np.int64),
        "month_sin": np.sin(phase),
        "month_cos": np.cos(phase),
        "days": n_days.astype(np.int64),
        "weekday_share": (n_days - weekend) / n_days,
        "weekend_share": weekend / n_days,
        "holidays": per_period(np.asarray(is_holiday)).astype(np.int64),
    }, index=pd.DatetimeIndex(period_starts(periods), name="time"))
    if events_table is not None:
        events = read_events_table(events_table)
        for name in dict.fromkeys(events["name"]):  # first-seen order
            column = event_column(name)
            if column in table.columns:
                raise DataError(f"event names {name!r} and another give the same column "
                                f"{column!r}: rename one")
            inside = np.zeros(len(days), dtype=bool)
            for start, end in events.loc[events["name"] == name, ["start", "end"]].itertuples(
                    index=False):
                inside |= np.asarray((days >= start) & (days <= end))
            table[column] = per_period(inside) / n_days
    table.attrs.update({"freq": freq, "country": country, "subdiv": subdiv})
    return table
