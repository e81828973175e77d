"""The random draws of the claim-check validation (``bench_claims.py``): the real data sets,
a random treated area of real polygons (City wards, Chicago police districts) with the
other polygons as controls, a random six-month window, planted effects, one row per method
and draw."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from _common import CHICAGO_CSV, city_area, need
from shapely.geometry.base import BaseGeometry

from hotspot.evaluation.claims import ClaimResult, ClaimSeries, analyse_series
from hotspot.evaluation.claims.series import build_series, check_window, month_codes, store_months
from hotspot.evaluation.claims.verdict import make_verdict
from hotspot.ingest.csv_source import ingest_csv
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import read_events, read_store_meta

WINDOW = 6
MIN_PRE = 24  # drawn windows have at least this many pre-period months
EFFECTS = (0.88, 0.75)
#: Effect methods whose rate ratio, interval and p-value are validated.
METHODS = ("its", "cits", "sts", "did", "did_fepois", "synthetic_control", "synth_pysyncon",
           "placebo_time")
RUN = ("its", "cits", "sts", "did", "did_fepois", "synthetic_control", "placebo_time",
       "power", "mde")
#: pysyncon refits once per control unit for its placebos (~1 s a claim): only the first
#: draws of each data set run it (``--pysyncon-draws``).
SLOW = ("synth_pysyncon",)
MIN_TREATED_MEAN = 3.0
#: Most wards in one City treated area (1 to this many neighbouring wards).
MAX_WARDS = 3
#: Buffer ring (metres) per data set. City wards are a few hundred metres across: a 100 m
#: ring drops the wards touching the treated ones and keeps 8-19 controls (median 15; a
#: 200 m ring keeps 5-17, no ring 20 of 22 but lets spill-over into neighbours in).
#: Chicago districts keep 15-19 controls with a 500 m ring.
BUFFER_M = {"city": 100.0, "chicago": 500.0}
CHICAGO_DISTRICTS = ("boundaries", "chicago_police_districts.gpkg")


@dataclass(frozen=True)
class DataSet:
    """One data set's events and its polygons (``units``: column ``NAME`` and geometry, in
    the events' CRS) from which treated areas are drawn; the rest are the controls."""

    name: str
    events: pd.DataFrame
    months: pd.PeriodIndex
    units: gpd.GeoDataFrame
    #: Draws treat 1..max_units neighbouring units.
    max_units: int = 1


def load_chicago(data: Path, tmp: Path) -> DataSet:
    """Chicago aggravated assaults 2010-2016 in a store under ``tmp``; units: the police
    districts (multi-part districts dissolved)."""
    store = tmp / "chicago"
    ingest_csv(need(data, *CHICAGO_CSV), store, time_col="date", lon_col="longitude",
               lat_col="latitude", category_col="loc_cat")
    events = read_events(store)
    districts = gpd.read_file(need(data, *CHICAGO_DISTRICTS), layer="districts")
    districts = districts.dissolve("district", as_index=False)
    districts["NAME"] = "district " + districts["district"].astype(str)
    units = districts[["NAME", "geometry"]].to_crs(read_store_meta(store)["crs"])
    return DataSet("chicago", events, store_months(events, {}), units.reset_index(drop=True))


def load_city(data: Path, tmp: Path) -> DataSet:
    """City of London police.uk in a store under ``tmp``; units: the 25 City wards."""
    store = tmp / "city"
    city = city_area(data)
    ingest_police_uk([need(data, "police-uk")], store, area=city)
    events = read_events(store)
    wards = city.parts[["NAME", "geometry"]].reset_index(drop=True)
    return DataSet("city", events, store_months(events, {}), wards, max_units=MAX_WARDS)


LOADERS = {"chicago": load_chicago, "city": load_city}


def draw_area(data: DataSet, rng: np.random.Generator) -> tuple[list[int], BaseGeometry, str]:
    """1..``max_units`` neighbouring units (grown one touching unit at a time): their
    indices, union and label."""
    units = data.units
    geoms = units.geometry.to_numpy()
    chosen = [int(rng.integers(len(units)))]
    want = int(rng.integers(1, data.max_units + 1))
    while len(chosen) < want:
        union = shapely.union_all(geoms[chosen])
        touching = [j for j in range(len(units))
                    if j not in chosen and geoms[j].touches(union)]
        if not touching:
            break
        chosen.append(int(rng.choice(touching)))
    names = "+".join(units["NAME"].iloc[chosen])
    return chosen, shapely.union_all(geoms[chosen]), names


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
    return out


def verdict_rows(kept: list[dict[str, Any]], calibration: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """The verdict of every kept analysis under ``calibration`` (the table just measured:
    the verdicts are those a user gets once it ships)."""
    out = []
    for k in kept:
        v = make_verdict(k["details"], k["claimed"], calibration, n_controls=k["n_controls"])
        out.append({"dataset": k["dataset"], "draw": k["draw"], "condition": k["condition"],
                    "method": "verdict", "verdict": v.category,
                    "n_trusted": len(v.trusted)})
    return out


def run_dataset(data: DataSet, n_null: int, n_effect: int, seed: int, *, n_slow: int = 30,
                kept: list[dict[str, Any]] | None = None,
                timings: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """``n_null`` null draws, the first ``n_effect`` of them also with planted effects; the
    first ``n_slow`` also run :data:`SLOW`. Each analysis's estimates go to ``kept`` (for
    :func:`verdict_rows`); per-method fit times of the first draws to ``timings``."""
    rng = np.random.default_rng(seed)
    events = data.events
    x = events["x"].to_numpy(float)
    y = events["y"].to_numpy(float)
    buffer_m = BUFFER_M.get(data.name, 500.0)
    rows: list[dict[str, Any]] = []
    draw = 0
    attempts = 0
    started = time.perf_counter()
    while draw < n_null:
        attempts += 1
        chosen, geom, label = draw_area(data, rng)
        start, end = draw_window(data.months, rng)
        window = check_window(data.months, start, end, 12)
        controls = data.units.drop(index=chosen).reset_index(drop=True)
        series = build_series(events, geom, window, start, end, controls=controls,
                              buffer_m=buffer_m)
        if series.treated[series.pre].mean() < MIN_TREATED_MEAN:
            continue
        inside = shapely.contains_xy(geom, x, y)
        codes = month_codes(events["time"][inside], window[0])
        covid = bool(start <= pd.Period("2020-12", "M") and end >= pd.Period("2020-03", "M"))
        extra = {"area": label, "n_units": len(chosen), "start": str(start),
                 "n_controls": series.n_controls, "controls": "|".join(series.control_ids),
                 "treated_mean": float(series.treated[series.pre].mean()), "covid": covid}
        run = RUN + (SLOW if draw < n_slow else ())
        for condition, rr in [("null", 1.0)] + ([(f"drop{round((1 - r) * 100)}", r)
                                                 for r in EFFECTS] if draw < n_effect else []):
            s = series if rr == 1.0 else thin(series, codes, rr, rng)
            claimed = rr if rr < 1 else EFFECTS[0]
            result = analyse_series(s, claimed, methods=run, buffer_m=buffer_m)
            rows += rows_for(result, data.name, draw, condition, rr, extra)
            if kept is not None:
                kept.append({"dataset": data.name, "draw": draw, "condition": condition,
                             "details": result.details, "claimed": claimed,
                             "n_controls": series.n_controls})
        if timings is not None and draw < 5:
            timings.append({"dataset": data.name, **time_methods(series)})
        draw += 1
        if draw % 25 == 0:
            print(f"  {data.name}: {draw}/{n_null} draws "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"  {data.name}: {draw} draws from {attempts} attempts "
          f"({attempts - draw} areas with < {MIN_TREATED_MEAN:g} events/month redrawn)")
    return rows


def time_methods(series: ClaimSeries) -> dict[str, float]:
    """Seconds each effect method takes alone on ``series`` (ITS with its placebos)."""
    out = {}
    for m in METHODS:
        methods = ("its",) if m == "placebo_time" else (m,)
        t0 = time.perf_counter()
        analyse_series(series, 0.88, methods=methods)
        out[m] = time.perf_counter() - t0
    return out
