"""Self-exciting models at scale: fit ``sepp`` and ``etas-grid`` to 100,000 simulated events.

    .venv/bin/python benchmarks/bench_sepp.py [--events 100000] [--seed 0] [--out DIR]

Simulates a continuous SEPP (``models.simulate.simulate_sepp``: background 20 events/day,
40 % uniform and three Gaussian bumps, θ = 0.5, ω = 0.2/day, Gaussian trigger σ = 100 m) in
a 12 km × 12 km square on 150 m cells, for as many days as give about ``--events`` events,
then times one fit of each model (default parameters) on a monthly cube with the events,
with the peak memory the fit allocated (``tracemalloc``: numpy reports its buffers to it)
and the process's peak resident size. When ``chicago`` is under ``--data`` (default
../shared/data beside the checkout; and not ``--no-real``), also fits both models to the
~103,000 timestamped Chicago aggravated assaults 2010-2016 (city-wide, 150 m cells in UTM
16N, cutoff 2016-11) and compares the December 2016 forecast with the count. Prints
tables and writes ``sepp.json`` under ``--out`` (default ``benchmarks/results``), nothing
elsewhere. Timings, not tests.
"""

from __future__ import annotations

import os
import platform
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from _common import CHICAGO_CSV, make_parser, write_json
from shapely.geometry import box

from hotspot.core.area import StudyArea
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.models.registry import make_model
from hotspot.models.simulate import simulate_sepp

CELL = 150.0
SIDE_CELLS = 80  # 12 km
TRUTH = {"mu_total": 20.0, "theta": 0.5, "omega": 0.2, "sigma_m": 100.0}
START = pd.Timestamp("2015-01-01")


def _scenario(n_events: int, seed: int
              ) -> tuple[pd.DataFrame, xr.Dataset, pd.Period, int]:
    """Simulated events, their monthly cube, the last month and the number of days."""
    x0, y0 = 3500 * CELL, 1200 * CELL
    side = SIDE_CELLS * CELL
    bounds = (x0, y0, x0 + side, y0 + side)
    bumps = [(x0 + 0.3 * side, y0 + 0.3 * side, 0.08 * side, 1.0),
             (x0 + 0.7 * side, y0 + 0.6 * side, 0.05 * side, 1.0),
             (x0 + 0.5 * side, y0 + 0.8 * side, 0.12 * side, 1.0)]
    # whole months, long enough for n_events at the stationary rate μ / (1 − θ)
    rate = TRUTH["mu_total"] / (1 - TRUTH["theta"])
    end = (START + pd.Timedelta(days=n_events / rate)).to_period("M").end_time.normalize()
    days = (end + pd.Timedelta(days=1) - START).days
    events = simulate_sepp(bounds, TRUTH["mu_total"], TRUTH["theta"], TRUTH["omega"],
                           TRUTH["sigma_m"], days, bumps=bumps, uniform_share=0.4,
                           start=START, seed=seed)
    area = StudyArea(parts=gpd.GeoDataFrame({"name": ["square"]}, geometry=[box(*bounds)],
                                            crs="EPSG:27700"), crs="EPSG:27700")
    cube = build_cube(events, build_grid(area, CELL), "M", source="sim")
    return events, cube, end.to_period("M"), days


def _fit(name: str, cube: xr.Dataset, cutoff: pd.Period | str, events: pd.DataFrame
         ) -> dict[str, Any]:
    """Fit ``name`` once: time, traced peak memory, fitted parameters, next month's total."""
    model = make_model(name)
    tracemalloc.start()
    started = time.perf_counter()
    model.fit(cube, cutoff, events=events)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    started = time.perf_counter()
    forecast = model.predict(1).values[0]
    predict_s = time.perf_counter() - started
    fitted = model.fitted_params()
    return {
        "model": name,
        "fit_s": round(seconds, 2),
        "predict_s": round(predict_s, 3),
        "peak_traced_mb": round(peak / 2**20, 1),
        "n_events": fitted["n_events"],
        "n_pairs": fitted["n_pairs"],
        "em_runs": len(fitted["rounds"]),
        "em_iterations": sum(r["n_iter"] for r in fitted["rounds"]),
        "mu_total": round(fitted["mu_total_per_day"], 3),
        "theta": round(fitted["theta"], 4),
        "omega": round(fitted["omega_per_day"], 4),
        "sigma_m": round(fitted["sigma_m"], 1),
        "forecast_next_month": round(float(forecast.sum()), 1),
    }


def _chicago(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both models on the real Chicago assaults (timestamps to the minute)."""
    raw = pd.read_csv(path).dropna(subset=["longitude", "latitude"])
    points = gpd.GeoSeries(gpd.points_from_xy(raw["longitude"], raw["latitude"]),
                           crs="EPSG:4326").to_crs("EPSG:32616")
    events = pd.DataFrame({
        "event_id": np.arange(len(raw)).astype(str), "time": pd.to_datetime(raw["date"]),
        "x": points.x.to_numpy(), "y": points.y.to_numpy(),
        "category": raw["loc_cat"].fillna("other").to_numpy(), "source": "chicago"})
    hull = points.union_all().convex_hull.buffer(CELL / 2)
    area = StudyArea(parts=gpd.GeoDataFrame({"name": ["chicago"]}, geometry=[hull],
                                            crs="EPSG:32616"), crs="EPSG:32616")
    cube = build_cube(events, build_grid(area, CELL), "M", source="chicago")
    observed = int(cube["counts"].sel(time="2016-12").sum())
    rows = [{**_fit(name, cube, "2016-11", events), "observed_2016_12": observed}
            for name in ("sepp", "etas-grid")]
    return rows, {"events": len(events), "cells": int(cube.sizes["cell"]),
                  "cutoff": "2016-11", "observed_2016_12": observed}


def _table(rows: list[dict[str, Any]], header: list[str]) -> None:
    print("  ".join(f"{h:>14}" for h in header))
    for row in rows:
        print("  ".join(f"{row[h]!s:>14}" for h in header))


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-real", action="store_true", help="skip the Chicago data")
    args = parser.parse_args(argv)
    chicago = args.data.joinpath(*CHICAGO_CSV)

    started = time.perf_counter()
    events, cube, cutoff, days = _scenario(args.events, args.seed)
    simulate_s = time.perf_counter() - started
    rows = [_fit(name, cube, cutoff, events) for name in ("sepp", "etas-grid")]
    real_rows, real = ([], {}) if args.no_real or not chicago.exists() else _chicago(chicago)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    header = ["model", "fit_s", "peak_traced_mb", "n_events", "n_pairs", "em_iterations",
              "mu_total", "theta", "omega", "sigma_m"]
    print(f"simulated {len(events):,} events over {days} days in {simulate_s:.1f} s "
          f"(truth: mu_total {TRUTH['mu_total']}, theta {TRUTH['theta']}, "
          f"omega {TRUTH['omega']}, sigma {TRUTH['sigma_m']} m)")
    _table(rows, header)
    if real_rows:
        print(f"Chicago aggravated assaults: {real['events']:,} events, {real['cells']:,} "
              f"cells, cutoff {real['cutoff']}, December 2016 observed "
              f"{real['observed_2016_12']}")
        _table(real_rows, header + ["forecast_next_month"])
    print(f"peak resident memory of the process: {peak_rss_mb:.0f} MB")

    out = write_json(args.out, "sepp.json", {
        "benchmark": "sepp",
        "events_simulated": len(events),
        "days": days,
        "cells": int(cube.sizes["cell"]),
        "cell_size_m": CELL,
        "truth": TRUTH,
        "seed": args.seed,
        "simulate_s": round(simulate_s, 2),
        "fits": rows,
        "chicago": {**real, "fits": real_rows} if real_rows else None,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "processor": platform.processor() or platform.machine(),
                    "cpus": os.cpu_count()},
    })
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
