"""Reading what a claim check needs: the store's events, the treated area, the control
units (from the area file, a ``--controls`` file or grid blocks) and, optionally, the
events of a second store the controls are counted from.

Shared by :func:`~hotspot.evaluation.claims.evaluate.evaluate_claim` and
:func:`~hotspot.evaluation.claims.staggered.evaluate_staggered`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry.base import BaseGeometry

from hotspot.core.area import StudyArea, load_area, same_crs
from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.claims.controls import (
    CANDIDATE,
    ControlPool,
    label_units,
    load_units,
    screen_units,
    store_coverage,
)
from hotspot.evaluation.claims.series import store_months
from hotspot.ingest.store import list_months, read_events, read_store_meta


@dataclass(frozen=True)
class StoreEvents:
    """One store's metadata, all its months and its events of the claim's category."""

    path: Path
    meta: dict[str, Any]
    months: pd.PeriodIndex
    events: pd.DataFrame


def open_store(store: Path | str, category: str | None, option: str = "--store") -> StoreEvents:
    """Read a store's events, only ``category`` if given (``ConfigError`` listing the
    categories when it has none)."""
    store = Path(store)
    if not store.exists():
        raise DataError(f"{option} {store} not found: pass the folder 'hotspot ingest' wrote")
    meta = read_store_meta(store)
    events = read_events(store)
    if events.empty:
        raise DataError(f"store {store} holds no events: ingest data into it first")
    months = store_months(events, meta)
    if category is not None:
        available = sorted(events["category"].dropna().unique().tolist())
        if category not in available:
            where = "" if option == "--store" else f" of {option} {store}"
            raise ConfigError(f"--category {category!r} is not in the store{where}; "
                              "available: " + ", ".join(available))
        events = events[events["category"] == category]
    return StoreEvents(store, meta, months, events)


def control_store(path: Path | str, main: StoreEvents, window: pd.PeriodIndex,
                  category: str | None) -> StoreEvents:
    """The second store the controls come from, checked against the main one: the same
    time resolution and every analysed month present; events reprojected to the main
    store's CRS."""
    other = open_store(path, category, option="--controls-store")
    if other.meta.get("time_resolution") != main.meta.get("time_resolution"):
        raise DataError(
            f"--controls-store {other.path} has time resolution "
            f"{other.meta.get('time_resolution')!r}, the store {main.path} "
            f"{main.meta.get('time_resolution')!r}: controls must be counted the same way; "
            "use a store ingested at the same resolution")
    held = set(list_months(other.path))
    missing = [str(m) for m in window if str(m) not in held]
    if missing:
        raise DataError(
            f"--controls-store {other.path} lacks {len(missing)} of the {len(window)} months "
            f"analysed ({window[0]}..{window[-1]}), first {missing[0]}: ingest those months "
            "into it, or choose a period both stores cover")
    events = other.events
    if not same_crs(other.meta["crs"], main.meta["crs"]):
        points = gpd.GeoSeries(gpd.points_from_xy(events["x"], events["y"]),
                               crs=other.meta["crs"]).to_crs(main.meta["crs"])
        events = events.assign(x=points.x.to_numpy(), y=points.y.to_numpy())
    return StoreEvents(other.path, other.meta, other.months, events)


def treated_geometry(area: Any, area_filter: str | None,
                     crs: str) -> tuple[BaseGeometry, str, Path | None]:
    """The treated area as one geometry in ``crs``, its label, and the boundary file it
    came from (``None`` for a geometry or frame).

    ``area_filter`` is ``COLUMN=VALUE``; ``COLUMN=A|B|C`` keeps several features (three
    wards, say), unioned.
    """
    if isinstance(area, BaseGeometry):
        return area, "treated polygon", None
    if isinstance(area, StudyArea):
        return area.parts.to_crs(crs).union_all(), "treated area", None
    if isinstance(area, gpd.GeoDataFrame):
        return area.to_crs(crs).union_all(), "treated area", None
    path = Path(area)
    label = f"{path.name}" + (f" [{area_filter}]" if area_filter else "")
    if not area_filter or "|" not in area_filter:
        return load_area(path, area_filter, crs).geometry, label, path
    column, _, values = area_filter.partition("=")
    column = column.strip()
    parts = load_area(path, None, crs).parts
    if column not in parts.columns:
        raise ConfigError(f"--area-filter column {column!r} is not in {path}; columns: "
                          + ", ".join(c for c in parts.columns if c != "geometry"))
    wanted = [v.strip() for v in values.split("|")]
    have = set(parts[column].astype(str))
    unknown = [v for v in wanted if v not in have]
    if unknown:
        raise ConfigError(f"--area-filter {area_filter!r}: {', '.join(unknown)} match no "
                          f"feature of column {column} in {path}")
    return parts[parts[column].astype(str).isin(wanted)].union_all(), label, path


def control_pool(
    controls: str | Path | gpd.GeoDataFrame | None,
    controls_filter: str | None,
    area_file: Path | None,
    treated: BaseGeometry,
    *,
    crs: str,
    buffer_m: float,
    coverage_store: StoreEvents,
    window: pd.PeriodIndex,
    min_coverage: float,
) -> tuple[ControlPool | str, str]:
    """The screened candidate polygons, or ``"grid"`` for grid blocks, and a note saying
    which (the grid is the fallback when the area file has no usable other polygons)."""
    if isinstance(controls, str) and controls == "grid":
        return "grid", ""
    if isinstance(controls, gpd.GeoDataFrame):
        units, source = label_units(controls.to_crs(crs)), "given polygons"
    elif controls is None or (isinstance(controls, str) and controls == "auto"):
        if area_file is None:
            return "grid", "no area file to take control polygons from"
        units, source = load_units(area_file, controls_filter, crs), f"area file {area_file.name}"
    else:
        path = Path(controls)
        units = load_units(path, controls_filter, crs)
        source = f"--controls {path.name}"
    if controls_filter:
        source += f" [{controls_filter}]"
    events = coverage_store.events
    codes_ok = pd.PeriodIndex(pd.DatetimeIndex(events["time"]), freq="M").isin(window)
    coverage, where = store_coverage(coverage_store.path,
                                     events["x"].to_numpy(dtype=float)[codes_ok],
                                     events["y"].to_numpy(dtype=float)[codes_ok], crs)
    zone = treated.buffer(buffer_m) if buffer_m > 0 else treated
    pool = screen_units(units, treated, zone, coverage, buffer_m=buffer_m,
                        min_coverage=min_coverage, source=source, coverage_note=where)
    usable = int((pool.units["status"] == CANDIDATE).sum())
    if usable == 0 and (controls is None or controls == "auto"):
        return "grid", (f"{source} has no polygon outside the treated area and its ring "
                        "inside the store's coverage")
    if usable == 0:
        reasons = pool.units["reason"].value_counts().to_dict()
        raise DataError(f"no control unit left in {source}: "
                        + "; ".join(f"{n} {r}" for r, n in reasons.items())
                        + ": pass --controls with units away from the treated area")
    return pool, ""
