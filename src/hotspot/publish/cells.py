"""The published cell table: one row per cube cell with its rank and expected count.

Ranks come from ``evaluation.metrics.rank_cells`` (expected density, ties by cell id), so
the published ranking is exactly the one the backtest metrics scored. ``in_top`` marks the
cells taken whole, in rank order, while they fit inside ``top_share`` of the study area:
the whole-cell part of the metrics' coverage rule (the partially counted next cell is not
marked). ``in_boxes`` marks the first ``boxes`` cells of the same ranking, whole: the
patrol list the backtest's box scores measured. Each cell also gets a WGS84 point and the
name of the study-area part containing it (``publish.places``), and the target it counts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.area import land_clip_of
from hotspot.core.errors import ConfigError, DataError, GridError
from hotspot.core.periods import period_label, to_period
from hotspot.core.ranking import rank_cells
from hotspot.evaluation.metrics import check_boxes
from hotspot.features.cube import check_cube, grid_of
from hotspot.features.targets import cube_target
from hotspot.publish.places import area_names, lat_lon, representative_points

#: Leading columns of every published table, in this order.
LEADING_COLUMNS = ["cell_id", "rank", "expected", "geometry"]
#: Further columns, after ``LEADING_COLUMNS``.
EXTRA_COLUMNS = ["area_m2", "expected_per_km2", "density_per_km2", "in_top", "in_boxes",
                 "lat", "lon", "area_name", "target_period", "model", "target"]
#: Label of an untargeted cube (every row counted).
ALL_LABEL = "All categories"
#: What the expected values are, for count targets and for harm targets.
COUNTED_CRIMES = "expected crimes"
COUNTED_HARM = "expected harm (days of imprisonment, approximate CCHI-style weights)"


@dataclass(frozen=True)
class ForecastInfo:
    """What a forecast says about itself: model, cutoff and target period, and what it
    counts (``target_name`` the slug, ``target_title`` for people; ``weighted`` for harm).

    ``target`` is the *period* forecast (label ``target_label``), as it was before targets
    existed and callers still read it; what is counted is ``target_name``.
    """

    model: str
    cutoff: str | None
    target: pd.Period
    freq: str
    target_name: str = "all"
    target_title: str = ALL_LABEL
    weighted: bool = False
    boxes: int = 20
    area_name_column: str | None = None
    #: The study area the cells cover (km², the sum of the clipped cells' areas).
    area_km2: float | None = None
    #: The land polygon file the study area was clipped to (``--clip-water``), if any.
    area_clipped_to: str | None = None

    @property
    def target_label(self) -> str:
        return period_label(self.target)

    @property
    def area_summary(self) -> str:
        """What the study area includes, in one sentence for the reports."""
        if self.area_km2 is None:
            return "Study area: unknown."
        size = f"Study area: {self.area_km2:.2f} km² of cells"
        if self.area_clipped_to:
            return f"{size}, clipped to the land polygons of {self.area_clipped_to}."
        return (f"{size}: the whole boundary, water included (not clipped to land; "
                "see --clip-water).")

    @property
    def counted(self) -> str:
        """What the expected values are, in words."""
        return COUNTED_HARM if self.weighted else COUNTED_CRIMES


def percent_label(share: float) -> str:
    """``0.05`` -> ``"5 %"``, ``0.025`` -> ``"2.5 %"``."""
    return f"{round(share * 100, 6):g} %"


def check_top_share(top_share: float) -> float:
    try:
        share = float(top_share)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0 < share <= 1:
        raise ConfigError(f"top_share must be a fraction in (0, 1], e.g. 0.05 for 5 %; got "
                          f"{top_share!r}")
    return share


def forecast_values(forecast: xr.DataArray, cube: xr.Dataset) -> tuple[np.ndarray, ForecastInfo]:
    """The forecast's expected counts in cube cell order, and its model and periods.

    ``forecast`` is ``predict(1)`` output ``(time=1, cell)`` or the same squeezed to
    ``(cell,)``. Its cells must be the cube's (in any order); otherwise ``GridError``.
    """
    check_cube(cube)
    if not isinstance(forecast, xr.DataArray):
        raise DataError("forecast must be an xarray DataArray from model.predict(1)")
    if forecast.dims == ("time", "cell"):
        if forecast.sizes["time"] != 1:
            raise DataError(
                f"forecast has {forecast.sizes['time']} periods: publish one at a time, "
                "e.g. forecast.isel(time=[0])"
            )
        forecast = forecast.isel(time=0)
    elif forecast.dims != ("cell",):
        raise DataError(f"forecast has dims {forecast.dims}: expected ('time', 'cell') with one "
                        "period, or ('cell',)")
    if "cell" not in forecast.coords:
        raise GridError("forecast has no 'cell' coordinate: cannot match it to the cube's cells")

    cube_cells = np.asarray(cube["cell"].values).astype(str)
    fc_cells = np.asarray(forecast["cell"].values).astype(str)
    values = np.asarray(forecast.values, dtype=float)
    if not np.array_equal(fc_cells, cube_cells):
        fc_set, cube_set = set(fc_cells), set(cube_cells)
        if len(fc_set) != len(fc_cells) or fc_set != cube_set:
            missing, extra = sorted(cube_set - fc_set), sorted(fc_set - cube_set)
            raise GridError(
                f"forecast cells do not match the cube's: the forecast has {len(fc_cells)} cells "
                f"({len(fc_cells) - len(fc_set)} duplicated), the cube {len(cube_cells)}; "
                f"{len(missing)} cube cells missing (e.g. {missing[:3]}), {len(extra)} not in "
                f"the cube (e.g. {extra[:3]}): forecast from a model fitted on this cube"
            )
        position = pd.Index(fc_cells).get_indexer(cube_cells)
        values = values[position]
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise DataError("forecast has negative or non-finite expected counts")

    freq = cube.attrs["freq"]
    if forecast.attrs.get("freq", freq) != freq:
        raise DataError(f"forecast frequency {forecast.attrs['freq']!r} differs from the cube's "
                        f"{freq!r}")
    cutoff = forecast.attrs.get("cutoff")
    if "time" in forecast.coords:
        target = to_period(pd.Timestamp(forecast["time"].values), freq)
    elif cutoff is not None:
        target = to_period(cutoff, freq) + 1
    else:
        raise DataError("forecast has neither a time coordinate nor a 'cutoff' attribute: "
                        "cannot tell which period it is for")
    model = str(forecast.attrs.get("model") or forecast.name or "unknown model")
    return values, ForecastInfo(model=model, cutoff=None if cutoff is None else str(cutoff),
                                target=target, freq=freq,
                                target_name=cube_target(cube),
                                target_title=str(cube.attrs.get("target_label") or ALL_LABEL),
                                weighted="target_weights" in cube.attrs)


def top_mask(order: np.ndarray, area_m2: np.ndarray, top_share: float) -> np.ndarray:
    """Cells taken whole in ``order`` while their total area fits in ``top_share`` of it all."""
    area = np.asarray(area_m2, dtype=float)
    cum_area = np.cumsum(area[order])
    budget = top_share * area.sum()
    # a relative tolerance so top_share=1 (or a budget equal to a cell sum) keeps that cell
    n_whole = int(np.searchsorted(cum_area, budget * (1 + 1e-12), side="right"))
    mask = np.zeros(area.size, dtype=bool)
    mask[order[:n_whole]] = True
    return mask


def _clipped_to(cube: xr.Dataset, area_parts: gpd.GeoDataFrame | None) -> str | None:
    """The land file the cube's area was clipped to: its provenance says so when the
    store built it, the parts (a clipped ``StudyArea``'s) otherwise."""
    try:
        record = json.loads(cube.attrs.get("provenance") or "{}")
    except (TypeError, ValueError):
        record = {}
    clipped = record.get("area_clipped_to") if isinstance(record, dict) else None
    return str(clipped) if clipped else land_clip_of(area_parts)


def cell_table(
    forecast: xr.DataArray, cube: xr.Dataset, top_share: float = 0.05, *,
    boxes: int = 20, area_parts: gpd.GeoDataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, ForecastInfo]:
    """The published table in the cube's CRS, sorted by rank (1 = highest expected density).

    Columns: :data:`LEADING_COLUMNS` then :data:`EXTRA_COLUMNS`. ``in_boxes`` marks the
    ``boxes`` top-ranked cells; ``area_name`` is the name of the ``area_parts`` part (e.g.
    ward) holding the cell's point, "" without parts (the column used is in the info).
    """
    top_share = check_top_share(top_share)
    boxes = check_boxes(boxes)
    values, info = forecast_values(forecast, cube)
    cells = grid_of(cube).cells
    cell_ids = np.asarray(cube["cell"].values).astype(str)
    if not np.array_equal(cells["cell_id"].to_numpy().astype(str), cell_ids):
        raise GridError("cube cells and its restored grid disagree: rebuild the cube")
    area_m2 = np.asarray(cube["area_m2"].values, dtype=float)
    order = rank_cells(values, area_m2, cell_ids)
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(1, order.size + 1)
    geometry = gpd.GeoSeries(cells.geometry.to_numpy(), crs=cube.attrs["crs"])
    points = representative_points(geometry)
    lat, lon = lat_lon(points)
    names, name_col = area_names(points, area_parts)
    density = values / area_m2 * 1e6
    table = gpd.GeoDataFrame(
        {
            "cell_id": cell_ids.astype(object),
            "rank": rank,
            "expected": values,
            "geometry": geometry.to_numpy(),
            "area_m2": area_m2,
            "expected_per_km2": density,
            "density_per_km2": density,
            "in_top": top_mask(order, area_m2, top_share),
            # the ranking is the one rank_cells gives the box scores: the same N cells
            "in_boxes": rank <= boxes,
            "lat": lat,
            "lon": lon,
            "area_name": names,
            "target_period": info.target_label,
            "model": info.model,
            "target": info.target_name,
        },
        geometry="geometry",
        crs=cube.attrs["crs"],
    )
    info = dataclasses.replace(info, boxes=boxes, area_name_column=name_col,
                               area_km2=float(area_m2.sum()) / 1e6,
                               area_clipped_to=_clipped_to(cube, area_parts))
    return table.iloc[order].reset_index(drop=True), info
