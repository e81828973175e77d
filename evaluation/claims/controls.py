"""Candidate control units from polygons (wards, beats, districts, LSOAs) and the rules that
screen them before any pre-period fit is looked at.

A candidate is *excluded* when

1. it overlaps the treated area (it is, or is part of, the treated area);
2. it overlaps the exclusion zone, the treated area grown by the buffer ring: events
   displaced into the ring would leak into the controls;
3. less than :data:`MIN_COVERAGE` of its area lies inside the store's coverage (the study
   area the store was ingested with, else the cells holding its events,
   :data:`COVERAGE_CELL_M`): a ward half
   outside a force's area would show only half of its crime.

"Overlap" means an intersection of more than :data:`OVERLAP_TOL_M2`: wards that only share
a boundary line are neighbours, not overlapping, and boundary files carry digitisation
slivers of a fraction of a square metre between neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from hotspot.core.area import load_area
from hotspot.core.errors import ConfigError
from hotspot.core.names import name_column
from hotspot.ingest.store import AREA_FILE

#: A unit needs at least this share of its area inside the store's coverage.
MIN_COVERAGE = 0.9
#: Intersections smaller than this (square metres) are boundary slivers, not overlap.
OVERLAP_TOL_M2 = 1.0
#: Without a saved study area, coverage is the union of the square cells of this side
#: (metres) that hold an event, closed by the same distance (one-cell holes such as a
#: square or a park filled). Not the convex hull: a force's stray events (the City's
#: store has some 100 km away) would stretch a hull over half the country.
COVERAGE_CELL_M = 250.0
#: Name columns looked for first (then the first text column), as publish.places does.

#: The first columns of ``controls.csv`` (the rest follow in the table's order).
CONTROL_COLUMNS = ["unit", "id", "status", "reason", "pre_mean", "level_distance",
                   "trend_distance", "distance", "synth_weight", "coverage_share"]

KEPT = "kept"
EXCLUDED = "excluded"
CANDIDATE = "candidate"


@dataclass(frozen=True)
class ControlPool:
    """Candidate control polygons with their screening outcome.

    ``units`` has columns ``unit`` (name), ``id`` (feature number in the source file),
    ``status`` (``candidate`` or ``excluded``), ``reason`` and ``geometry``; ``source``
    says where the polygons came from (for the report).
    """

    units: gpd.GeoDataFrame
    source: str
    coverage: str = ""

    @property
    def candidates(self) -> gpd.GeoDataFrame:
        return self.units[self.units["status"] == CANDIDATE]


def unit_names(parts: gpd.GeoDataFrame, column: str | None = None) -> np.ndarray:
    """One unique label per polygon: its name, with ``#id`` added where names repeat."""
    column = column or name_column(parts, any_column=True)
    if column is None:
        return np.array([f"unit_{i}" for i in range(len(parts))], dtype=object)
    names = parts[column].astype(object).where(parts[column].notna(), "").astype(str)
    names = names.to_numpy(dtype=object)
    repeated = pd.Series(names).duplicated(keep=False).to_numpy()
    return np.array([f"{n}#{i}" if r or not n else n
                     for i, (n, r) in enumerate(zip(names, repeated, strict=True))], dtype=object)


def store_coverage(store: Path, x: np.ndarray, y: np.ndarray,
                   crs: str) -> tuple[BaseGeometry | None, str]:
    """The area a store's events cover: the study area it was ingested with, else the
    occupied cells of :data:`COVERAGE_CELL_M` (``None`` when there are fewer than three
    events)."""
    saved = Path(store) / AREA_FILE
    if saved.exists():
        area = gpd.read_file(saved)
        if len(area) and area.crs is not None:
            return shapely.make_valid(area.to_crs(crs).union_all()), "the store's study area"
    if len(x) < 3:
        return None, "no coverage (too few events)"
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    side = COVERAGE_CELL_M
    cells = np.unique(np.column_stack([np.floor(x / side), np.floor(y / side)]), axis=0)
    boxes = shapely.box(cells[:, 0] * side, cells[:, 1] * side, (cells[:, 0] + 1) * side,
                        (cells[:, 1] + 1) * side)
    covered = shapely.union_all(boxes).buffer(side, join_style="mitre").buffer(
        -side, join_style="mitre")
    return covered, f"the {side:g} m cells holding the store's events"


def load_units(path: Path | str, unit_filter: str | None, crs: str,
               option: str = "--controls-filter") -> gpd.GeoDataFrame:
    """Polygons of a boundary file (optionally ``COLUMN=VALUE`` filtered) with ``unit``
    and ``id`` columns, in ``crs``."""
    parts = load_area(Path(path), None, crs).parts
    if unit_filter:
        column, sep, value = unit_filter.partition("=")
        column, value = column.strip(), value.strip()
        if not sep or not column:
            raise ConfigError(f"{option} {unit_filter!r} must look like COLUMN=VALUE")
        if column not in parts.columns:
            raise ConfigError(f"{option} column {column!r} is not in {path}; columns: "
                              + ", ".join(c for c in parts.columns if c != "geometry"))
        parts = parts[parts[column].astype(str) == value]
        if parts.empty:
            raise ConfigError(f"{option} {unit_filter!r} matches no polygon in {path}")
    return label_units(parts.reset_index(drop=True))


def label_units(parts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``parts`` reduced to ``unit``, ``id`` and ``geometry`` (``id``: the row number)."""
    return gpd.GeoDataFrame({"unit": unit_names(parts), "id": np.arange(len(parts))},
                            geometry=parts.geometry.to_numpy(), crs=parts.crs)


def screen_units(
    units: gpd.GeoDataFrame,
    treated: BaseGeometry,
    zone: BaseGeometry,
    coverage: BaseGeometry | None,
    *,
    buffer_m: float,
    min_coverage: float = MIN_COVERAGE,
    source: str = "",
    coverage_note: str = "",
) -> ControlPool:
    """Apply the exclusion rules of the module docstring; every unit keeps its row."""
    geoms = np.asarray(units.geometry.values)
    treated_overlap = shapely.area(shapely.intersection(geoms, treated))
    zone_overlap = shapely.area(shapely.intersection(geoms, zone))
    area = np.maximum(shapely.area(geoms), 1e-12)
    inside = (np.minimum(shapely.area(shapely.intersection(geoms, coverage)) / area, 1.0)
              if coverage is not None else np.ones(len(geoms)))
    status = np.full(len(geoms), CANDIDATE, dtype=object)
    reason = np.full(len(geoms), "", dtype=object)
    for k in range(len(geoms)):
        if treated_overlap[k] > OVERLAP_TOL_M2:
            status[k], reason[k] = EXCLUDED, "part of the treated area"
        elif zone_overlap[k] > OVERLAP_TOL_M2:
            status[k], reason[k] = EXCLUDED, f"overlaps the {buffer_m:g} m ring"
        elif inside[k] < min_coverage:
            status[k], reason[k] = EXCLUDED, (f"only {100 * inside[k]:.0f} % inside the "
                                              "store's coverage")
    out = units[["unit", "id"]].copy()
    out["coverage_share"] = inside
    out["status"] = status
    out["reason"] = reason
    return ControlPool(gpd.GeoDataFrame(out, geometry=geoms, crs=units.crs), source,
                       coverage_note)


def controls_frame(units: pd.DataFrame, weights: dict[str, float] | None = None) -> pd.DataFrame:
    """The donor-pool table for ``controls.csv``: no geometry, the
    :data:`CONTROL_COLUMNS` first, and each kept unit's synthetic-control weight when
    ``weights`` (unit -> weight) are given."""
    frame = pd.DataFrame(units.drop(columns="geometry", errors="ignore"))
    if weights:
        frame["synth_weight"] = frame["unit"].astype(str).map(weights)
    first = [c for c in CONTROL_COLUMNS if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    # kept units first (closest first), then the excluded ones in file order
    order = np.lexsort((frame["distance"].fillna(np.inf).to_numpy()
                        if "distance" in frame else np.zeros(len(frame)),
                        (frame["status"] != KEPT).to_numpy()))
    return frame.iloc[order].reset_index(drop=True)
