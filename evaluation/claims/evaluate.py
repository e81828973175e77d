"""Check a claim against an event store: read the store and the areas, build the series,
analyse them (:func:`evaluate_claim`)."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from hotspot.core.area import StudyArea, load_area
from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.claims.analyse import analyse_series
from hotspot.evaluation.claims.calibration import DEFAULT_CALIBRATION, load_calibration
from hotspot.evaluation.claims.claimed import parse_claimed
from hotspot.evaluation.claims.result import ClaimResult
from hotspot.evaluation.claims.series import (
    MAX_PRE_MONTHS,
    MIN_PRE_MONTHS,
    build_series,
    check_window,
    parse_month,
    store_months,
)
from hotspot.ingest.store import read_events, read_store_meta


def evaluate_claim(
    store: Path | str,
    area: Path | str | BaseGeometry | Any,
    start: str | pd.Period,
    end: str | pd.Period,
    *,
    area_filter: str | None = None,
    category: str | None = None,
    claimed: str | float | None = None,
    controls: str | Path | gpd.GeoDataFrame = "auto",
    buffer_m: float = 500.0,
    n_controls: int = 20,
    min_unit_mean: float = 5.0,
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
    category
        Only events of this category (default: all).
    claimed
        The claimed change, e.g. ``"-12%"`` (a 12 % drop); optional.
    controls
        ``"auto"`` (grid blocks of the treated area's size) or a boundary file whose
        polygons are the candidate control units.
    buffer_m
        Ring around the treated area for displacement, excluded from the controls.
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
        few pre-period months, an empty treated area.
    ConfigError
        Unreadable months, start after end, unknown category, unparsable claim.
    """
    store = Path(store)
    if not store.exists():
        raise DataError(f"store {store} not found: pass the folder 'hotspot ingest' wrote")
    meta = read_store_meta(store)
    start_p = start if isinstance(start, pd.Period) else parse_month(start, "--start")
    end_p = end if isinstance(end, pd.Period) else parse_month(end, "--end")
    if start_p > end_p:
        raise ConfigError(f"--start {start_p} is after --end {end_p}: the period must run "
                          "forwards")
    claimed_rr = parse_claimed(claimed)
    calibration = load_calibration(calibration_path)
    crs = meta["crs"]
    treated, label = _treated_geometry(area, area_filter, crs)
    if treated.is_empty or treated.area <= 0:
        raise DataError(f"the treated area {label} is empty (no polygon area)")
    events = read_events(store)
    if events.empty:
        raise DataError(f"store {store} holds no events: ingest data into it first")
    months = store_months(events, meta)
    if category is not None:
        available = sorted(events["category"].dropna().unique().tolist())
        if category not in available:
            raise ConfigError(f"--category {category!r} is not in the store; available: "
                              + ", ".join(available))
        events = events[events["category"] == category]
    window = check_window(months, start_p, end_p, min_pre_months, max_pre_months)
    series = build_series(events, treated, window, start_p, end_p,
                          controls=_control_units(controls, crs), buffer_m=buffer_m,
                          n_controls=n_controls, min_unit_mean=min_unit_mean)
    if series.treated.sum() == 0:
        raise DataError(
            f"the treated area {label} holds no {category or ''} events in {window[0]}.."
            f"{end_p}: is it inside the store's coverage ({store})?".replace("no  ", "no "))
    settings = {"store": str(store), "area": label, "category": category,
                "start": str(start_p), "end": str(end_p), "controls": str(
                    controls if isinstance(controls, str | Path) else "given"),
                "n_controls": n_controls, "min_unit_mean": min_unit_mean,
                "months_analysed": f"{window[0]}..{end_p}",
                "time_resolution": meta.get("time_resolution"), "crs": crs}
    return analyse_series(series, claimed_rr, buffer_m=buffer_m, rtm_window=rtm_window,
                          calibration=calibration, settings=settings)


def _treated_geometry(area: Any, area_filter: str | None, crs: str) -> tuple[BaseGeometry, str]:
    """The treated area as one geometry in ``crs`` and its label for the report."""
    if isinstance(area, BaseGeometry):
        return area, "treated polygon"
    if isinstance(area, StudyArea):
        return area.parts.to_crs(crs).union_all(), "treated area"
    if isinstance(area, gpd.GeoDataFrame):
        return area.to_crs(crs).union_all(), "treated area"
    study = load_area(Path(area), area_filter, crs)
    label = f"{Path(area).name}" + (f" [{area_filter}]" if area_filter else "")
    return study.geometry, label


def _control_units(controls: Any, crs: str) -> str | gpd.GeoDataFrame:
    """``"auto"`` or the candidate control polygons in ``crs``."""
    if isinstance(controls, gpd.GeoDataFrame):
        return controls.to_crs(crs)
    if controls is None or (isinstance(controls, str) and controls == "auto"):
        return "auto"
    return load_area(Path(controls), None, crs).parts
