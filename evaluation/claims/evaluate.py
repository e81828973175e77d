"""Check a claim against an event store: read the store and the areas, build the series,
analyse them (:func:`evaluate_claim`)."""

from __future__ import annotations

import dataclasses
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.claims.analyse import analyse_series
from hotspot.evaluation.claims.calibration import DEFAULT_CALIBRATION, load_calibration
from hotspot.evaluation.claims.claimed import parse_claimed
from hotspot.evaluation.claims.controls import MIN_COVERAGE
from hotspot.evaluation.claims.inputs import (
    control_pool,
    control_store,
    open_store,
    treated_geometry,
)
from hotspot.evaluation.claims.result import ClaimResult
from hotspot.evaluation.claims.series import (
    MAX_PRE_MONTHS,
    MIN_PRE_MONTHS,
    build_series,
    check_window,
    parse_month,
)
from hotspot.ingest.store import read_store_meta


def evaluate_claim(
    store: Path | str,
    area: Path | str | BaseGeometry | Any,
    start: str | pd.Period,
    end: str | pd.Period,
    *,
    area_filter: str | None = None,
    category: str | None = None,
    claimed: str | float | None = None,
    controls: str | Path | gpd.GeoDataFrame | None = "auto",
    controls_filter: str | None = None,
    controls_store: Path | str | None = None,
    buffer_m: float = 500.0,
    n_controls: int = 20,
    min_unit_mean: float = 5.0,
    min_coverage: float = MIN_COVERAGE,
    min_pre_months: int = MIN_PRE_MONTHS,
    max_pre_months: int | None = MAX_PRE_MONTHS,
    rtm_window: int = 6,
    calibration_path: Traversable | Path | str | None = DEFAULT_CALIBRATION,
) -> ClaimResult:
    """Check a claimed change in crime in ``area`` over ``start..end`` against the store.

    Parameters
    ----------
    store
        Event store folder (``hotspot ingest``).
    area
        Boundary file (all features matching ``area_filter`` are unioned), a
        ``StudyArea``/GeoDataFrame or a shapely geometry in the store's CRS.
    start, end
        First and last month of the claimed period (``YYYY-MM``), inclusive.
    area_filter
        ``COLUMN=VALUE`` (or ``COLUMN=A|B|C`` for several features).
    category
        Only events of this category (default: all).
    claimed
        The claimed change, e.g. ``"-12%"`` (a 12 % drop); optional.
    controls
        ``"auto"``: the other polygons of the area file (grid blocks when there are none,
        or when ``area`` is not a file); ``"grid"``: grid blocks of the treated area's size;
        or a boundary file / GeoDataFrame whose polygons are the candidate control units.
    controls_filter
        ``COLUMN=VALUE`` keeps only some control polygons.
    controls_store
        Count the control units' events in this second store (a neighbouring force): same
        time resolution, every analysed month present.
    buffer_m
        Ring around the treated area for displacement; no control may overlap it.
    min_coverage
        A control polygon needs this share of its area inside the (controls) store's
        coverage.
    min_pre_months, max_pre_months
        At least / at most this many months before ``start`` are analysed.
    n_controls, min_unit_mean
        Keep the ``n_controls`` candidates closest in pre-period level and trend among
        those with at least ``min_unit_mean`` events a month.
    calibration_path
        The calibration table (default: the shipped one); ``None``: none.

    Raises
    ------
    DataError
        Missing store, area or calibration table, a period outside the store's data, too
        few pre-period months, an empty treated area, a controls store that does not match.
    ConfigError
        Unreadable months, start after end, unknown category, unparsable claim.
    """
    store = Path(store)
    if not store.exists():
        raise DataError(f"store {store} not found: pass the folder 'hotspot ingest' wrote")
    meta = read_store_meta(store)
    start_p = start if isinstance(start, pd.Period) else parse_month(start, "--from")
    end_p = end if isinstance(end, pd.Period) else parse_month(end, "--to")
    if start_p > end_p:
        raise ConfigError(f"--from {start_p} is after --to {end_p}: the period must run "
                          "forwards")
    claimed_rr = parse_claimed(claimed)
    calibration = load_calibration(calibration_path)
    crs = meta["crs"]
    treated, label, area_file = treated_geometry(area, area_filter, crs)
    if treated.is_empty or treated.area <= 0:
        raise DataError(f"the treated area {label} is empty (no polygon area)")
    main = open_store(store, category)
    window = check_window(main.months, start_p, end_p, min_pre_months, max_pre_months)
    other = (control_store(controls_store, main, window, category)
             if controls_store is not None else None)
    pool, fallback = control_pool(controls, controls_filter, area_file, treated, crs=crs,
                                  buffer_m=buffer_m, coverage_store=other or main,
                                  window=window, min_coverage=min_coverage)
    series = build_series(main.events, treated, window, start_p, end_p, controls=pool,
                          buffer_m=buffer_m, n_controls=n_controls,
                          min_unit_mean=min_unit_mean,
                          control_events=other.events if other is not None else None)
    if fallback:
        series = dataclasses.replace(
            series, selection_note=f"{series.selection_note} (fallback: {fallback})")
    if series.treated.sum() == 0:
        raise DataError(
            f"the treated area {label} holds no {category or ''} events in {window[0]}.."
            f"{end_p}: is it inside the store's coverage ({store})?".replace("no  ", "no "))
    settings = {"store": str(store), "area": label, "category": category,
                "start": str(start_p), "end": str(end_p), "controls": str(
                    controls if isinstance(controls, str | Path) else "given"),
                "controls_filter": controls_filter,
                "controls_store": str(controls_store) if controls_store else None,
                "n_controls": n_controls, "min_unit_mean": min_unit_mean,
                "months_analysed": f"{window[0]}..{end_p}",
                "time_resolution": meta.get("time_resolution"), "crs": crs}
    return analyse_series(series, claimed_rr, buffer_m=buffer_m, rtm_window=rtm_window,
                          calibration=calibration, settings=settings)
