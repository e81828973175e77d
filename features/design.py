"""The feature table: one row per (period, cell), every feature built from the past only.

``build_design(cube)`` turns a cube into a long table for regression models:

======================  ==============================================================
column                  meaning at period ``t`` for cell ``c``
======================  ==============================================================
``time``, ``cell``      period start and cell id (keys, not features)
``y``                   the count at ``t`` (the target)
``lag_k``               own count at ``t − k`` (NaN where ``t − k`` is before the cube)
``nb_lag_1``            sum of the queen neighbours' counts at ``t − 1``
``nb_mean_W``           mean over ``t − W .. t − 1`` of that neighbour sum (fewer periods
                        near the start of the cube; NaN at its first period)
``mean_W``              own mean over ``t − W .. t − 1`` (same rule)
``longrun``             own mean over every period before ``t`` (expanding, never ``t``)
``trend``               period index counted from the cube's first period
season                  ``M``: ``season_sin1, season_cos1, season_sin2, season_cos2``
                        (annual harmonics of the month) or, with
                        ``seasonality="onehot"``, ``month_2 .. month_12``;
                        ``W``: annual harmonics of the week's start day;
                        ``D``: ``dow_1 .. dow_6`` (Tuesday..Sunday against Monday) plus
                        annual harmonics of the day of year
``log_area``            log of the cell's (clipped) area in m²
covariates              one column per covariate series, joined on period (below)
``<cov>_x_longrun``     covariate × the cell's ``longrun``: lets a covariate move cells
                        with a high long-run rate more than others, i.e. change the
                        ranking, not only the total
======================  ==============================================================

Every count-derived feature at ``t`` reads periods ``< t`` only; calendar features are
known in advance. Covariates are taken as given at ``t``: pass values that are known
before ``t`` (a calendar, a published forecast) or lag them yourself.

**Covariates** are a mapping ``name -> DataFrame`` (or Series) indexed by period start
(or with a ``time`` column), numeric columns. A one-column frame gives the feature
``name``; a wider one gives ``name_<column>``. Periods the frame lacks are NaN.

**Forecast rows.** ``design_for_next(history, covariates, periods)`` gives the rows for
the ``periods`` periods after the history's last period from the history alone. For a
horizon above one the strategy is *recursive*: the counts of the forecast periods before
the last are unknown, so the caller passes its own expected counts for them as
``assumed`` (plug-in of the conditional mean, what ``glm`` and ``gbm`` do); any count not
assumed is NaN and so are the features that read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError, DataError
from hotspot.core.periods import PANDAS_FREQ, period_starts
from hotspot.features.cube import check_cube, cube_periods
from hotspot.features.spatial import queen_adjacency, spatial_lag

#: Key and target columns; every other column of a design table is a feature.
KEY_COLUMNS = ("time", "cell", "y")
#: Prefixes of features that are counts (models may log-transform these).
COUNT_PREFIXES = ("lag_", "nb_", "mean_", "longrun")
INTERACTION_SUFFIX = "_x_longrun"
SEASONALITY = ("harmonic", "onehot")

Covariates = Mapping[str, pd.DataFrame | pd.Series]


def feature_columns(design: pd.DataFrame) -> list[str]:
    """The feature columns of a design table (everything but ``time, cell, y``)."""
    return [c for c in design.columns if c not in KEY_COLUMNS]


def count_columns(design: pd.DataFrame) -> list[str]:
    """Features that are counts or means of counts (lags, spatial lags, long-run)."""
    return [c for c in feature_columns(design) if c.startswith(COUNT_PREFIXES)]


def default_lags(freq: str) -> tuple[int, ...]:
    """Own lags that make sense for a frequency: a year back plus the recent periods."""
    return {"M": (1, 2, 3, 12), "W": (1, 2, 3, 52), "D": (1, 2, 7, 14)}[freq]


def default_window(freq: str) -> int:
    """Window of the rolling means: a year of months or weeks, four weeks of days."""
    return {"M": 12, "W": 52, "D": 28}[freq]


def build_design(
    cube: xr.Dataset,
    covariates: Covariates | None = None,
    lags: Sequence[int] = (1, 2, 3, 12),
    *,
    window: int = 12,
    seasonality: str = "harmonic",
    interactions: bool = True,
    last_periods: int | None = None,
) -> pd.DataFrame:
    """Long feature table of ``cube``, rows ordered by period then cell.

    ``last_periods`` keeps only the rows of the last that many periods (the features
    still read the whole cube): large daily cubes need not materialise every row.
    """
    check_cube(cube)
    counts = cube["counts"].values.astype(float)
    periods = cube_periods(cube)
    n_t = len(periods)
    first = 0 if last_periods is None else max(0, n_t - int(last_periods))
    return _design(cube, counts, periods, range(first, n_t), covariates, lags, window,
                   seasonality, interactions, future=False)


def design_for_next(
    cube: xr.Dataset,
    covariates: Covariates | None = None,
    periods: int = 1,
    lags: Sequence[int] = (1, 2, 3, 12),
    *,
    assumed: np.ndarray | None = None,
    window: int = 12,
    seasonality: str = "harmonic",
    interactions: bool = True,
) -> pd.DataFrame:
    """Feature rows for the ``periods`` periods after the cube's last one (``y`` is NaN).

    Built only from ``cube`` (the history up to the cutoff). ``assumed`` is an array of
    shape ``(k, n_cells)``, ``k < periods``: counts to take for the first ``k`` forecast
    periods (the recursive strategy passes the model's own forecasts); features that
    would read a later forecast period are NaN. Covariates must cover the forecast
    periods.
    """
    check_cube(cube)
    if periods < 1:
        raise DataError(f"periods must be at least 1, got {periods}")
    history = cube["counts"].values.astype(float)
    n_t, n_c = history.shape
    future = np.full((periods, n_c), np.nan)
    if assumed is not None:
        assumed = np.atleast_2d(np.asarray(assumed, dtype=float))
        if assumed.shape[1] != n_c or assumed.shape[0] >= periods:
            raise DataError(f"assumed counts have shape {assumed.shape}; expected (k, {n_c}) "
                            f"with k < {periods}")
        future[: assumed.shape[0]] = assumed
    past = cube_periods(cube)
    ahead = pd.period_range(past[-1] + 1, periods=periods, freq=past.freq)
    table = _design(cube, np.vstack([history, future]), past.append(ahead),
                    range(n_t, n_t + periods), covariates, lags, window, seasonality,
                    interactions, future=True)
    return table


# -- the one place features are computed ------------------------------------------------


def _shift(values: np.ndarray, k: int) -> np.ndarray:
    """``out[t] = values[t − k]``, NaN where ``t − k < 0``."""
    out = np.full_like(values, np.nan)
    if k < len(values):
        out[k:] = values[: len(values) - k]
    return out


def _past_mean(values: np.ndarray, window: int) -> np.ndarray:
    """``out[t]`` = mean of ``values[max(0, t − window) : t]`` (NaN at ``t = 0``)."""
    n_t = len(values)
    cum = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(values, axis=0)])  # cum[t]=Σ_{s<t}
    t = np.arange(n_t)
    start = np.maximum(0, t - window)
    n = (t - start).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (cum[t] - cum[start]) / n[:, None]
    out[n == 0] = np.nan
    return out


def _season(periods: pd.PeriodIndex, freq: str, seasonality: str) -> dict[str, np.ndarray]:
    if seasonality not in SEASONALITY:
        raise ConfigError(f"seasonality {seasonality!r} is not one of {', '.join(SEASONALITY)}")
    out: dict[str, np.ndarray] = {}
    if freq == "M":
        month = np.asarray(periods.month)
        if seasonality == "onehot":
            for m in range(2, 13):
                out[f"month_{m}"] = (month == m).astype(float)
            return out
        phase = 2 * np.pi * (month - 1) / 12.0
    else:
        phase = 2 * np.pi * (np.asarray(periods.start_time.day_of_year) - 1) / 365.25
    if freq == "D":
        dow = np.asarray(periods.day_of_week)
        for d in range(1, 7):
            out[f"dow_{d}"] = (dow == d).astype(float)
    for h in (1, 2) if freq == "M" else (1,):
        out[f"season_sin{h}"] = np.sin(h * phase)
        out[f"season_cos{h}"] = np.cos(h * phase)
    return out


def _covariate_table(covariates: Covariates | None, periods: pd.PeriodIndex,
                     freq: str) -> pd.DataFrame:
    """Covariates reindexed to ``periods`` (one row per period), named as documented."""
    table = pd.DataFrame(index=np.arange(len(periods)))
    for name, frame in (covariates or {}).items():
        if isinstance(frame, pd.Series):
            frame = frame.to_frame(name)
        if "time" in frame.columns:
            frame = frame.set_index("time")
        index = frame.index
        if isinstance(index, pd.PeriodIndex):
            index = index.asfreq(PANDAS_FREQ[freq])
        else:
            try:
                index = pd.DatetimeIndex(index).to_period(PANDAS_FREQ[freq])
            except (TypeError, ValueError):
                raise DataError(f"covariate {name!r} must be indexed by period start "
                                f"(or have a 'time' column)") from None
        if index.has_duplicates:
            raise DataError(f"covariate {name!r} has more than one row for a period")
        bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad:
            raise DataError(f"covariate {name!r} has non-numeric columns {bad}")
        frame = frame.set_axis(index, axis=0).reindex(periods)
        for column in frame.columns:
            label = name if len(frame.columns) == 1 else f"{name}_{column}"
            if label in table.columns:
                raise DataError(f"covariate column {label!r} is given twice")
            table[label] = frame[column].to_numpy(dtype=float)
    return table


def _design(
    cube: xr.Dataset,
    counts: np.ndarray,
    periods: pd.PeriodIndex,
    rows: range,
    covariates: Covariates | None,
    lags: Sequence[int],
    window: int,
    seasonality: str,
    interactions: bool,
    future: bool,
) -> pd.DataFrame:
    """Features for the periods ``rows`` of ``counts (time, cell)`` (``periods`` labels)."""
    lags = sorted({int(k) for k in lags})
    if any(k < 1 for k in lags):
        raise ConfigError(f"lags must be at least 1 (a feature may not read its own period): "
                          f"{lags}")
    if int(window) < 1:
        raise ConfigError(f"window must be at least 1, got {window}")
    freq = cube.attrs["freq"]
    n_c = counts.shape[1]
    sel = np.asarray(rows, dtype=int)
    n_r = sel.size
    # Only the periods the features can reach are needed, plus the sum of all before them
    # for the long-run mean: a one-row forecast on years of days stays cheap.
    lo = max(0, int(sel.min()) - max(max(lags), int(window)))
    tail = counts[lo:]
    before = counts[:lo].sum(axis=0)
    at = sel - lo  # the wanted rows, counted in the tail

    def per_cell(values: np.ndarray) -> np.ndarray:
        return values[at].ravel()

    def per_period(values: np.ndarray) -> np.ndarray:
        return np.repeat(np.asarray(values)[sel], n_c)

    nb = spatial_lag(tail, queen_adjacency(cube["ix"].values, cube["iy"].values))
    summed = before + np.cumsum(tail, axis=0)[np.maximum(at - 1, 0)]  # Σ_{s < t} y[s]
    summed[at == 0] = np.nan  # (at == 0 only when lo == 0: the cube's first period)
    longrun = summed / np.maximum(sel, 1)[:, None]
    columns: dict[str, np.ndarray] = {
        "time": np.repeat(period_starts(periods[sel]), n_c),
        "cell": np.tile(cube["cell"].values, n_r),
        "y": np.full(n_r * n_c, np.nan) if future else per_cell(tail),
    }
    for k in lags:
        columns[f"lag_{k}"] = per_cell(_shift(tail, k))
    columns["nb_lag_1"] = per_cell(_shift(nb, 1))
    columns[f"nb_mean_{window}"] = per_cell(_past_mean(nb, int(window)))
    columns[f"mean_{window}"] = per_cell(_past_mean(tail, int(window)))
    columns["longrun"] = longrun.ravel()
    columns["trend"] = per_period(np.arange(len(periods), dtype=float))
    for label, values in _season(periods, freq, seasonality).items():
        columns[label] = per_period(values)
    columns["log_area"] = np.tile(np.log(cube["area_m2"].values.astype(float)), n_r)
    cov = _covariate_table(covariates, periods, freq)
    if future and len(cov.columns) and cov.iloc[sel].isna().any().any():
        missing = cov.columns[cov.iloc[sel].isna().any()].tolist()
        raise DataError(f"covariates {missing} have no value for the forecast period(s) "
                        f"{[str(p) for p in periods[sel]]}: extend them before forecasting")
    for label in cov.columns:
        clash = label in columns
        if clash:
            raise DataError(f"covariate {label!r} clashes with a built-in feature name")
        columns[label] = per_period(cov[label].to_numpy())
        if interactions:
            columns[f"{label}{INTERACTION_SUFFIX}"] = columns[label] * columns["longrun"]
    return pd.DataFrame(columns)


def usable_lags(lags: Sequence[int], n_periods: int, min_periods: int = 4) -> tuple[int, ...]:
    """The lags that leave at least ``min_periods`` periods with the lag known (at least lag 1).

    A lag of 12 on 14 months of history would leave two usable periods; models drop it
    rather than fit on almost nothing.
    """
    kept = tuple(sorted(k for k in {int(k) for k in lags} if n_periods - k >= min_periods))
    return kept or (1,)


def recursive_forecast(
    cube: xr.Dataset,
    covariates: Covariates | None,
    periods: int,
    predict_rows: Callable[[pd.DataFrame], np.ndarray],
    **design_options: Any,
) -> np.ndarray:
    """Expected counts ``(periods, cell)`` by the recursive strategy.

    Step ``h`` builds the rows of forecast period ``h`` with ``design_for_next``, taking the
    expected counts of steps ``1 .. h−1`` as the unknown counts, and asks ``predict_rows``
    (a fitted model's row predictor) for its expected counts.
    """
    n_c = cube.sizes["cell"]
    out = np.empty((periods, n_c))
    for h in range(periods):  # a loop over horizons; each step is vectorised over cells
        rows = design_for_next(cube, covariates, h + 1, assumed=out[:h] if h else None,
                               **design_options)
        out[h] = predict_rows(rows.iloc[h * n_c:(h + 1) * n_c].reset_index(drop=True))
    return out
