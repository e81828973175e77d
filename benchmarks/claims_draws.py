"""The random draws of the claim-check validation (``bench_claims.py``): the real data sets,
a random treated area and six-month window, planted effects, one row per method and draw."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from _common import CHICAGO_CSV, city_area, need
from shapely.geometry.base import BaseGeometry

from hotspot.evaluation.claims import ClaimResult, ClaimSeries, analyse_series
from hotspot.evaluation.claims.series import (
    build_series,
    check_window,
    month_codes,
    square_around,
    store_months,
)
from hotspot.ingest.csv_source import ingest_csv
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import read_events

WINDOW = 6
MIN_PRE = 24  # drawn windows have at least this many pre-period months
EFFECTS = (0.88, 0.75)
#: Effect methods whose rate ratio, interval and p-value are validated.
METHODS = ("its", "did", "synthetic_control", "placebo_time")
RUN = ("its", "did", "synthetic_control", "placebo_time", "power", "mde")
SQUARE_M = 3000.0
MIN_TREATED_MEAN = 3.0


@dataclass(frozen=True)
class DataSet:
    """One data set's events and where treated areas are drawn: Chicago's square
    ``centres`` (x, y rows) or the City's ``wards``."""

    name: str
    events: pd.DataFrame
    months: pd.PeriodIndex
    centres: np.ndarray | None = None
    wards: pd.DataFrame | None = None


def load_chicago(data: Path, tmp: Path) -> DataSet:
    """Chicago aggravated assaults 2010-2016, ingested into a store under ``tmp``."""
    store = tmp / "chicago"
    ingest_csv(need(data, *CHICAGO_CSV), store, time_col="date", lon_col="longitude",
               lat_col="latitude", category_col="loc_cat")
    events = read_events(store)
    # centres: the middles of the 500 m cells holding >= 100 events (about 1.2 a month),
    # drawn uniformly, so draws spread over the city instead of piling onto its densest
    # blocks (event-weighted draws repeat the same few places and correlate the tests)
    cell = 500.0
    ix = np.floor(events["x"].to_numpy() / cell).astype(int)
    iy = np.floor(events["y"].to_numpy() / cell).astype(int)
    cells, counts = np.unique(np.column_stack([ix, iy]), axis=0, return_counts=True)
    centres = (cells[counts >= 100] + 0.5) * cell
    return DataSet("chicago", events, store_months(events, {}), centres=centres)


def load_city(data: Path, tmp: Path) -> DataSet:
    """City of London police.uk, ingested into a store under ``tmp``."""
    store = tmp / "city"
    city = city_area(data)
    ingest_police_uk([need(data, "police-uk")], store, area=city)
    events = read_events(store)
    wards = city.parts[["NAME", "geometry"]].reset_index(drop=True)
    return DataSet("city", events, store_months(events, {}), wards=wards)


LOADERS = {"chicago": load_chicago, "city": load_city}


def draw_area(data: DataSet, rng: np.random.Generator) -> tuple[BaseGeometry, str]:
    """A random treated area and its label."""
    if data.wards is None:
        x, y = data.centres[int(rng.integers(len(data.centres)))]
        return square_around(x, y, SQUARE_M), f"square@{x:.0f},{y:.0f}"
    wards = data.wards
    i = int(rng.integers(len(wards)))
    geom = wards.geometry.iat[i]
    names = [wards["NAME"].iat[i]]
    if rng.random() < 0.5:
        touching = [j for j in range(len(wards))
                    if j != i and wards.geometry.iat[j].touches(geom)]
        if touching:
            j = int(rng.choice(touching))
            geom = geom.union(wards.geometry.iat[j])
            names.append(wards["NAME"].iat[j])
    return geom, "+".join(names)


def draw_window(months: pd.PeriodIndex, rng: np.random.Generator) -> tuple[pd.Period, pd.Period]:
    """A random ``WINDOW``-month window with at least ``MIN_PRE`` months before it."""
    s = int(rng.integers(MIN_PRE, len(months) - WINDOW + 1))
    return months[s], months[s + WINDOW - 1]


def thin(series: ClaimSeries, codes: np.ndarray, keep_rr: float,
         rng: np.random.Generator) -> ClaimSeries:
    """The series with the treated area's window events each kept with prob ``keep_rr``."""
    post_idx = np.flatnonzero(series.post)
    in_window = (codes >= post_idx[0]) & (codes <= post_idx[-1])
    kept = rng.random(int(in_window.sum())) < keep_rr
    treated = series.treated.copy()
    removed = np.bincount(codes[in_window][~kept], minlength=len(treated))
    treated -= removed[: len(treated)]
    return dataclasses.replace(series, treated=treated)


def rows_for(result: ClaimResult, dataset: str, draw: int, condition: str, true_rr: float,
             extra: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per validated method, the predicted power and the verdict."""
    base = {"dataset": dataset, "draw": draw, "condition": condition, "true_rr": true_rr}
    out = []
    for m in METHODS:
        e = result.details.get(m)
        if e is None:
            continue
        out.append({**base, "method": m, "estimate": e.estimate, "ci_low": e.ci_low,
                    "ci_high": e.ci_high, "p_value": e.p_value, **extra})
    power = result.details.get("power")
    blank = {"ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
    out.append({**base, "method": "power", "estimate": power.estimate if power else np.nan,
                **blank, **extra})
    out.append({**base, "method": "verdict", "estimate": np.nan, **blank,
                "verdict": result.verdict.category, **extra})
    return out


def run_dataset(data: DataSet, n_null: int, n_effect: int, seed: int) -> list[dict[str, Any]]:
    """``n_null`` null draws, the first ``n_effect`` of them also with planted effects."""
    rng = np.random.default_rng(seed)
    events = data.events
    x = events["x"].to_numpy(float)
    y = events["y"].to_numpy(float)
    rows: list[dict[str, Any]] = []
    draw = 0
    attempts = 0
    started = time.perf_counter()
    while draw < n_null:
        attempts += 1
        geom, label = draw_area(data, rng)
        start, end = draw_window(data.months, rng)
        window = check_window(data.months, start, end, 12)
        series = build_series(events, geom, window, start, end)
        if series.treated[series.pre].mean() < MIN_TREATED_MEAN:
            continue
        inside = shapely.contains_xy(geom, x, y)
        codes = month_codes(events["time"][inside], window[0])
        covid = bool(start <= pd.Period("2020-06", "M") and end >= pd.Period("2020-03", "M"))
        extra = {"area": label, "start": str(start), "n_controls": series.n_controls,
                 "treated_mean": float(series.treated[series.pre].mean()), "covid": covid}
        for condition, rr in [("null", 1.0)] + ([(f"drop{round((1 - r) * 100)}", r)
                                                 for r in EFFECTS] if draw < n_effect else []):
            s = series if rr == 1.0 else thin(series, codes, rr, rng)
            claimed = rr if rr < 1 else EFFECTS[0]
            result = analyse_series(s, claimed, methods=RUN)
            rows += rows_for(result, data.name, draw, condition, rr, extra)
        draw += 1
        if draw % 25 == 0:
            print(f"  {data.name}: {draw}/{n_null} draws "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"  {data.name}: {draw} draws from {attempts} attempts "
          f"({attempts - draw} areas with < {MIN_TREATED_MEAN:g} events/month redrawn)")
    return rows
