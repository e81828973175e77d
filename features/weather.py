"""Weather covariates: the daily table aggregated to the cube's forecast periods.

``weather_covariates(daily, cube)`` returns a DataFrame indexed by ``time`` (the cube's
period starts), one numeric column per covariate, ready for
``build_design(cube, covariates={"weather": table})``:

=================  ============================================================
months and weeks
``tmax_mean``      mean of the daily maximum temperature, °C
``tmin_mean``      mean of the daily minimum temperature, °C
``prcp_total``     total precipitation, mm
``rain_days``      days with precipitation >= 1 mm
``hot_days``       days with maximum >= 25 °C
``frost_days``     days with minimum < 0 °C
days
``tmax, tmin,      the day's values
prcp``
``<v>_lag1``,      the same one and two days before
``<v>_lag2``
=================  ============================================================

**No period reads its future.** Row ``t`` uses only days inside period ``t`` (and, for
the daily lags, the days before it). That holds for the gap filling too: a missing day is
filled by linear interpolation only when its whole gap of consecutive missing days is at
most ``max_gap_days`` long *and* the observed day closing the gap is still inside what the
row may read (period ``t``'s last day; for a daily row, day ``t`` itself). A gap that
runs past the end of a period therefore stays missing in that period, and on daily rows
the day's own value is never filled (only its lags can be). A period with any day still
missing gets NaN for the aggregates of that variable (``prcp`` missing makes
``prcp_total`` and ``rain_days`` NaN, not a sum of the days that happen to be there).

**Forecasting with weather needs weather for the target period**: observed weather in
a backtest, a weather *forecast* in production. Periods beyond the data (the next month,
before it happened) are NaN rows here, listed in ``attrs["periods_without_weather"]``;
no weather is ever invented (no climatology, no carrying forward). What to do with the
NaN is the design's and the model's decision: ``build_design`` keeps NaN in history rows
and ``design_for_next`` refuses to forecast with a missing covariate; pass a forecast
table (same columns) for the target period to forecast with weather.

``df.attrs`` also holds ``interpolated`` and ``missing`` per variable (days of the cube's
periods filled / left missing; for daily periods ``interpolated`` counts days filled for
a later row's lags and ``missing`` the rows whose own day is NaN), ``periods_incomplete``
(periods with a day still missing), ``max_gap_days``, ``freq`` and ``summary`` (one line
of text).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError, DataError
from hotspot.core.periods import PANDAS_FREQ, period_label, period_starts
from hotspot.features.cube import check_cube, cube_periods

WEATHER_VARIABLES = ("tmax", "tmin", "prcp")
RAIN_DAY_MM = 1.0
HOT_DAY_C = 25.0
FROST_DAY_C = 0.0
DAILY_LAGS = (1, 2)
PERIOD_COLUMNS = ("tmax_mean", "tmin_mean", "prcp_total", "rain_days", "hot_days",
                  "frost_days")


def _daily_series(daily: pd.DataFrame) -> pd.DataFrame:
    """``daily`` indexed by day (no gaps), float columns ``tmax, tmin, prcp``."""
    frame = daily.copy()
    if "date" in frame.columns:
        frame = frame.set_index("date")
    try:
        index = pd.DatetimeIndex(frame.index).normalize()
    except (TypeError, ValueError):
        raise DataError("weather must have a 'date' column or a date index") from None
    if index.has_duplicates:
        raise DataError("weather has duplicate dates: one row per day expected")
    missing = [v for v in WEATHER_VARIABLES if v not in frame.columns]
    if missing:
        raise DataError(f"weather lacks the columns {missing}: expected the canonical "
                        f"daily table date,tmax,tmin,tavg,prcp")
    frame = frame[list(WEATHER_VARIABLES)].apply(pd.to_numeric, errors="coerce").astype(float)
    frame.index = index.astype("datetime64[ns]")
    return frame.sort_index()


def _observed_neighbours(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each position, the index of the last observed value at or before it and of the
    first observed at or after it (-1 / n where there is none)."""
    n = values.size
    observed = ~np.isnan(values)
    positions = np.arange(n)
    prev = np.maximum.accumulate(np.where(observed, positions, -1))
    nxt = np.minimum.accumulate(np.where(observed, positions, n)[::-1])[::-1]
    return prev, nxt


def _read_filled(values: np.ndarray, read: np.ndarray, limit: np.ndarray,
                 max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Values at positions ``read``, gaps filled where allowed; also which were filled.

    A missing position is filled by linear interpolation when its gap (consecutive
    missing days) is at most ``max_gap`` long and the observed day after the gap is at or
    before ``limit`` (the last day the reader may see).
    """
    n = values.size
    prev, nxt = _observed_neighbours(values)
    inside = (read >= 0) & (read < n)
    safe = np.clip(read, 0, n - 1)
    out = np.where(inside, values[safe], np.nan)
    p, q = prev[safe], nxt[safe]
    fillable = (inside & np.isnan(out) & (p >= 0) & (q < n) & (q - p - 1 <= max_gap)
                & (q <= limit))
    weight = np.where(fillable, (safe - p) / np.where(q > p, q - p, 1), 0.0)
    left = values[np.clip(p, 0, n - 1)]
    right = values[np.clip(q, 0, n - 1)]
    out = np.where(fillable, left + weight * (right - left), out)
    return out, fillable


def weather_covariates(
    daily: pd.DataFrame,
    cube: xr.Dataset,
    max_gap_days: int = 3,
    *,
    ahead: int = 0,
) -> pd.DataFrame:
    """Weather per period of ``cube`` (see the module doc); NaN where weather is missing.

    Parameters
    ----------
    daily
        The canonical daily table (``date, tmax, tmin, prcp``; °C and mm), e.g. from
        ``ingest.weather.read_weather(store)``.
    cube
        The counts cube; its ``time`` coordinate and ``freq`` attribute define the rows.
    max_gap_days
        Longest run of missing days that is interpolated; longer gaps stay NaN.
    ahead
        Also give rows for this many periods after the cube's last (the forecast
        targets, as ``design_for_next`` reads them); NaN unless ``daily`` covers them.
    """
    check_cube(cube)
    periods = cube_periods(cube)
    if int(ahead) < 0:
        raise ConfigError(f"ahead must be 0 or more, got {ahead}")
    if ahead:
        periods = periods.append(pd.period_range(periods[-1] + 1, periods=int(ahead),
                                                 freq=periods.freq))
    return weather_covariates_for_periods(daily, periods, cube.attrs["freq"], max_gap_days)


def weather_covariates_for_periods(
    daily: pd.DataFrame, periods: pd.PeriodIndex, freq: str, max_gap_days: int = 3
) -> pd.DataFrame:
    """As ``weather_covariates`` for any periods (e.g. the forecast target periods)."""
    if freq not in PANDAS_FREQ:
        raise ConfigError(f"freq {freq!r} is not one of M, W, D")
    if int(max_gap_days) < 0:
        raise ConfigError(f"max_gap_days must be 0 or more, got {max_gap_days}")
    periods = pd.PeriodIndex(periods).asfreq(PANDAS_FREQ[freq])
    if len(periods) == 0:
        raise DataError("no periods to build weather covariates for")
    return _covariates(_daily_series(daily), periods, freq, int(max_gap_days))


def _covariates(series: pd.DataFrame, periods: pd.PeriodIndex, freq: str,
                max_gap: int) -> pd.DataFrame:
    first_day = periods[0].start_time.normalize()
    last_day = periods[-1].end_time.normalize()
    lead = max(DAILY_LAGS) if freq == "D" else 0
    lo = min(first_day - pd.Timedelta(days=lead), series.index.min()) if len(series) else (
        first_day - pd.Timedelta(days=lead))
    hi = max(last_day, series.index.max()) if len(series) else last_day
    days = pd.date_range(lo, hi, freq="D").astype("datetime64[ns]")
    full = series.reindex(days)
    # position of every day of the cube's periods in ``days`` and its period's last day
    cube_days = pd.date_range(first_day, last_day, freq="D").astype("datetime64[ns]")
    pos = days.get_indexer(cube_days)
    day_periods = cube_days.to_period(PANDAS_FREQ[freq])
    row = day_periods.asi8 - periods[0].ordinal  # row of each day (periods are contiguous)
    period_end = days.get_indexer(periods.to_timestamp(how="end").normalize()
                                  .astype("datetime64[ns]"))
    in_cube = (row >= 0) & (row < len(periods))
    if not in_cube.all() or not np.array_equal(
            np.unique(row), np.arange(len(periods))):
        raise DataError("cube periods are not contiguous: rebuild the cube")
    limit = period_end[row]

    index = pd.DatetimeIndex(period_starts(periods), name="time")
    table = pd.DataFrame(index=index)
    interpolated: dict[str, int] = {}
    missing: dict[str, int] = {}
    incomplete = np.zeros(len(periods), dtype=bool)
    for variable in WEATHER_VARIABLES:
        values = full[variable].to_numpy(dtype=float)
        if freq == "D":
            own, filled = _read_filled(values, pos, pos, max_gap)
            table[variable] = own
            filled_any = filled.copy()
            for k in DAILY_LAGS:
                lagged, lag_filled = _read_filled(values, pos - k, pos, max_gap)
                table[f"{variable}_lag{k}"] = lagged
                # a day filled for a later row's lag counts once, at that day
                shifted = np.zeros_like(filled_any)
                shifted[: len(shifted) - k] = lag_filled[k:]
                filled_any |= shifted
            interpolated[variable] = int(filled_any.sum())
            missing[variable] = int(np.isnan(own).sum())  # rows whose own day is NaN
            day_missing = np.isnan(own)
        else:
            own, filled = _read_filled(values, pos, limit, max_gap)
            interpolated[variable] = int(filled.sum())
            missing[variable] = int(np.isnan(own).sum())
            day_missing = np.isnan(own)
            _aggregate(table, variable, own, row, len(periods))
        incomplete |= np.bincount(row, weights=day_missing, minlength=len(periods)) > 0
    if freq != "D":
        table = table[list(PERIOD_COLUMNS)]
    # periods wholly before the first or after the last day with any weather
    observed = series.dropna(how="all").index
    starts = periods.to_timestamp(how="start")
    ends = periods.to_timestamp(how="end").normalize()
    if len(observed):
        empty = np.asarray((ends < observed.min()) | (starts > observed.max()))
    else:
        empty = np.ones(len(periods), dtype=bool)
    labels = [period_label(p) for p in periods]
    beyond = [lab for lab, e in zip(labels, empty, strict=True) if e]
    partial = [lab for lab, i, e in zip(labels, incomplete, empty, strict=True) if i and not e]
    table.attrs.update({
        "freq": freq,
        "max_gap_days": max_gap,
        "interpolated": interpolated,
        "missing": missing,
        "periods_without_weather": beyond,
        "periods_incomplete": partial,
    })
    table.attrs["summary"] = _summary(table.attrs, len(periods))
    return table


def _aggregate(table: pd.DataFrame, variable: str, values: np.ndarray, row: np.ndarray,
               n_periods: int) -> None:
    """Per-period aggregates of one variable; NaN where any day of the period is missing."""
    ok = ~np.isnan(values)
    n_days = np.bincount(row, minlength=n_periods)
    complete = np.bincount(row, weights=ok, minlength=n_periods) == n_days
    clean = np.where(ok, values, 0.0)

    def per_period(weights: np.ndarray) -> np.ndarray:
        total = np.bincount(row, weights=weights, minlength=n_periods)
        return np.where(complete, total, np.nan)

    if variable == "tmax":
        table["tmax_mean"] = per_period(clean) / n_days
        table["hot_days"] = per_period((clean >= HOT_DAY_C) & ok)
    elif variable == "tmin":
        table["tmin_mean"] = per_period(clean) / n_days
        table["frost_days"] = per_period((clean < FROST_DAY_C) & ok)
    else:
        table["prcp_total"] = per_period(clean)
        table["rain_days"] = per_period((clean >= RAIN_DAY_MM) & ok)


def _summary(attrs: dict, n_periods: int) -> str:
    filled = ", ".join(f"{k} {v}" for k, v in attrs["interpolated"].items())
    missing = ", ".join(f"{k} {v}" for k, v in attrs["missing"].items())
    text = (f"weather covariates for {n_periods} periods ({attrs['freq']}): days interpolated "
            f"(gaps <= {attrs['max_gap_days']}) {filled}; days left missing {missing}")
    if attrs["periods_without_weather"]:
        beyond = attrs["periods_without_weather"]
        text += (f"; {len(beyond)} periods without weather (NaN, not invented): "
                 f"{_span(beyond)}")
    if attrs["periods_incomplete"]:
        text += (f"; {len(attrs['periods_incomplete'])} periods with missing days (NaN): "
                 f"{_span(attrs['periods_incomplete'])}")
    return text


def _span(labels: list[str]) -> str:
    return ", ".join(labels) if len(labels) <= 4 else f"{labels[0]} .. {labels[-1]}"
