"""Dev evaluation of the hotspot models by crime type, on VALIDATION periods only.

Compares ``naive-longrun``, ``hotspot-map``, ``kde``, ``etas-grid`` (cell and smoothed
background) and ``sepp`` per target on periods before the test span, which stays untouched:

- Vancouver 2020 (150 m cells, daily and weekly): Break and Enter Residential/Other and
  Theft from Vehicle; validation targets July–September 2020 (daily: one day in every
  ``--step``), test October–December 2020 never scored here. Rows with withheld locations
  (X = Y = 0) are dropped and counted.
- City of London (police.uk, monthly, 150 m): validation targets 2019-07..2020-06, test
  2020-07..2020-12 never scored here.

The top-20-cell hit rate and the mean Poisson log score per cell are computed here from the
backtest's predictions (so they do not depend on which metrics ``evaluation`` reports).
Writes ``validation_<dataset>.csv`` (per period), ``validation_summary_<which>.csv`` (means),
``validation_<which>.txt`` and ``choices.json`` (bandwidths chosen) under ``--out`` only.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.special import gammaln

from hotspot.core.area import StudyArea
from hotspot.evaluation.backtest import backtest
from hotspot.features.cube import build_cube, cube_periods
from hotspot.features.grid import build_grid
from hotspot.features.targets import apply_target, resolve_target
from hotspot.ingest.store import read_events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ingest_city, make_parser, need, write_json, write_text

VANCOUVER_CRS = "EPSG:26910"
VANCOUVER_TYPES = ("Break and Enter Residential/Other", "Theft from Vehicle")
CITY_TARGETS = ("burglary", "theft-from-the-person", "vehicle-crime",
                "violence-and-sexual-offences", "crime", "other-theft")
#: label -> (registered model, parameters)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "naive-longrun": ("naive-longrun", {}),
    "hotspot-map": ("hotspot-map", {}),
    "kde": ("kde", {}),
    "etas-grid": ("etas-grid", {}),
    "etas-grid[smoothed]": ("etas-grid", {"background": "smoothed"}),
    "sepp": ("sepp", {}),
}
BOXES = 20


def vancouver_events(data: Path) -> tuple[pd.DataFrame, int]:
    """The 2020 events as a canonical table, and how many rows had withheld locations."""
    raw = pd.read_csv(need(data, "vancouver", "crimes-2020.csv.gz"))
    withheld = (raw["X"] == 0) & (raw["Y"] == 0)
    raw = raw.loc[~withheld & raw["X"].notna() & raw["Y"].notna()]
    time_ = pd.to_datetime(raw[["YEAR", "MONTH", "DAY", "HOUR", "MINUTE"]].rename(
        columns=str.lower))
    events = pd.DataFrame({"event_id": np.arange(len(raw)).astype(str), "time": time_.values,
                           "x": raw["X"].to_numpy(float), "y": raw["Y"].to_numpy(float),
                           "category": raw["TYPE"].to_numpy(object), "source": "vancouver"})
    return events.sort_values("time", kind="stable").reset_index(drop=True), int(withheld.sum())


def vancouver_area(events: pd.DataFrame) -> StudyArea:
    """Union of all events buffered 200 m (points first snapped to 50 m: same union to
    within the snapping, far fewer discs)."""
    xy = np.unique(np.round(events[["x", "y"]].to_numpy() / 50.0) * 50.0, axis=0)
    union = shapely.union_all(shapely.buffer(shapely.points(xy), 200.0, quad_segs=4))
    parts = gpd.GeoDataFrame({"name": ["vancouver"]}, geometry=[union], crs=VANCOUVER_CRS)
    return StudyArea(parts=parts, crs=VANCOUVER_CRS)


def score_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per model and target period: top-20 hit rate and mean Poisson log score per cell."""
    rows = []
    for (model, period), group in predictions.groupby(["model", "target_period"], sort=False):
        expected = group["expected"].to_numpy(float)
        observed = group["observed"].to_numpy(float)
        top = np.argsort(-expected, kind="stable")[:BOXES]
        total = observed.sum()
        lam = np.maximum(expected, 1e-12)
        log_score = np.mean(observed * np.log(lam) - lam - gammaln(observed + 1.0))
        rows.append({"model": model, "target_period": str(period), "observed": total,
                     "box_hit_rate": observed[top].sum() / total if total > 0 else np.nan,
                     "log_score": log_score})
    return pd.DataFrame(rows)


def run_variants(cube: Any, events: pd.DataFrame | None, targets: list[pd.Period],
                 variants: list[str], choices: dict, key: str) -> tuple[pd.DataFrame, dict]:
    """Backtest each variant on ``targets`` (contiguous runs as one call each)."""
    scored, seconds = [], {}
    runs = _runs(targets)
    for label in variants:
        name, params = VARIANTS[label]
        started = time.perf_counter()
        for first, last in runs:
            try:
                result = backtest(cube, [name], first, last, events=events, n_bootstrap=10,
                                  model_params={name: params} if params else None)
            except (ValueError, RuntimeError, FloatingPointError, ImportError) as exc:
                # a model that fails on a data set is a finding: record it, go on
                seconds[f"{label} failed"] = f"{type(exc).__name__}: {exc}"
                print(f"  {key} {label}: FAILED {exc}", flush=True)
                break
            scored.append(score_predictions(result.predictions.assign(model=label)))
            for fitted in result.fitted_params:
                params_ = fitted.get("fitted", fitted)
                for field in ("bandwidth_m", "background_bandwidth_m"):
                    if field in params_:
                        choices.setdefault(key, {}).setdefault(label, []).append(
                            params_[field])
        seconds[label] = round(time.perf_counter() - started, 1)
        print(f"  {key} {label}: {seconds[label]} s", flush=True)
    return pd.concat(scored, ignore_index=True), seconds


def _runs(targets: list[pd.Period]) -> list[tuple[pd.Period, pd.Period]]:
    """Contiguous stretches of ``targets`` as (first, last)."""
    runs: list[tuple[pd.Period, pd.Period]] = []
    for p in targets:
        if runs and runs[-1][1] + 1 == p:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs


def vancouver(data: Path, variants: list[str], step: int, choices: dict, timing: dict,
              freqs: tuple[str, ...] = ("W", "D"), out: Path | None = None
              ) -> tuple[pd.DataFrame, dict]:
    events, withheld = vancouver_events(data)
    grid = build_grid(vancouver_area(events), 150.0)
    info = {"vancouver_rows_withheld_location": withheld, "vancouver_events": len(events),
            "vancouver_cells": grid.n_cells}
    print(f"vancouver: {len(events)} events, {withheld} withheld locations dropped, "
          f"{grid.n_cells} cells", flush=True)
    tables = []
    for freq in freqs:
        cube = build_cube(events, grid, freq, source="vancouver")
        periods = cube_periods(cube)
        starts = periods.start_time
        valid = [p for p, s in zip(periods, starts, strict=True)
                 if pd.Timestamp("2020-07-01") <= s <= pd.Timestamp("2020-09-30")
                 and (p + 1).start_time <= pd.Timestamp("2020-10-01")]
        if freq == "D":
            valid = valid[::step]
        for kind in VANCOUVER_TYPES:
            target = resolve_target(kind, [str(c) for c in cube["category"].values])
            targeted = apply_target(cube, target)
            key = f"vancouver-{freq}-{target.name}"
            table, seconds = run_variants(targeted, events, valid, variants, choices, key)
            timing[key] = seconds
            tables.append(table.assign(dataset="vancouver", freq=freq, target=target.name))
            if out is not None:  # what is done so far survives a later failure
                write_text(out, "validation_vancouver.csv",
                           pd.concat(tables, ignore_index=True).to_csv(index=False))
    return pd.concat(tables, ignore_index=True), info


def city(data: Path, tmp: Path, variants: list[str], choices: dict, timing: dict,
         out: Path | None = None) -> pd.DataFrame:
    area = ingest_city(data, tmp / "city")
    events = read_events(tmp / "city")
    cube = build_cube(events, build_grid(area, 150.0), "M", source="police-uk")
    valid = list(pd.period_range("2019-07", "2020-06", freq="M"))
    tables = []
    for name in CITY_TARGETS:
        target = resolve_target(name, [str(c) for c in cube["category"].values])
        key = f"city-M-{target.name}"
        table, seconds = run_variants(apply_target(cube, target), events, valid, variants,
                                      choices, key)
        timing[key] = seconds
        tables.append(table.assign(dataset="city-of-london", freq="M", target=target.name))
        if out is not None:  # what is done so far survives a later failure
            write_text(out, "validation_city.csv",
                       pd.concat(tables, ignore_index=True).to_csv(index=False))
    return pd.concat(tables, ignore_index=True)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    return (table.groupby(["dataset", "freq", "target", "model"], sort=False)
            .agg(periods=("target_period", "nunique"), crimes=("observed", "sum"),
                 box_hit_rate=("box_hit_rate", "mean"), log_score=("log_score", "mean"))
            .reset_index())


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__, out=Path("dev-targets"))
    parser.add_argument("--models", default=",".join(VARIANTS),
                        help="variants to compare, comma-separated")
    parser.add_argument("--step", type=int, default=7, help="daily: score every STEP-th day")
    parser.add_argument("--freqs", default="W,D", help="Vancouver cube frequencies")
    parser.add_argument("--only", choices=("vancouver", "city", "both"), default="both")
    args = parser.parse_args(argv)
    variants = [v for v in args.models.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}: choose from {', '.join(VARIANTS)}")
    choices: dict = {}
    timing: dict = {}
    info: dict = {}
    tables = []
    if args.only in ("city", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            table = city(args.data, Path(tmp), variants, choices, timing, args.out)
        write_text(args.out, "validation_city.csv", table.to_csv(index=False))
        tables.append(table)
    if args.only in ("vancouver", "both"):
        table, info = vancouver(args.data, variants, args.step, choices, timing,
                                tuple(args.freqs.split(",")), args.out)
        write_text(args.out, "validation_vancouver.csv", table.to_csv(index=False))
        tables.append(table)
    summary = summarise(pd.concat(tables, ignore_index=True))
    write_text(args.out, f"validation_summary_{args.only}.csv", summary.to_csv(index=False))
    write_text(args.out, f"validation_{args.only}.txt",
               summary.to_string(index=False, float_format="%.4f") + "\n")
    write_json(args.out, f"choices_{args.only}.json",
               {"bandwidths": choices, "seconds": timing, **info})
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
