"""Publish one forecast: cell layers, maps and a short report, as one folder.

``publish_forecast`` checks and renders everything in memory first, so a bad input (a
forecast on another grid, say) raises before anything is written; the files then go into
a staging folder that replaces ``out_dir`` whole (``core.atomic.replace_folder``), so a
killed or out-of-disk run never leaves new maps beside an old report.
``write_forecast`` writes the same files into a folder a caller is already staging.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import xarray as xr

from hotspot.core.area import BRITISH_NATIONAL_GRID, same_crs
from hotspot.core.atomic import atomic_path, replace_folder, write_text_atomic
from hotspot.core.errors import DataError
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.selection import Selection
from hotspot.features.cube import grid_of
from hotspot.publish.cells import EXTRA_COLUMNS, LEADING_COLUMNS, ForecastInfo, cell_table
from hotspot.publish.gis_style import layer_metadata, style_geopackage
from hotspot.publish.maps import WGS84, map_title, static_png
from hotspot.publish.patrol import patrol_pdf
from hotspot.publish.report import render_report, render_report_html
from hotspot.publish.scale import rank_classes
from hotspot.publish.webmap import leaflet_html

__all__ = ["FILE_NAMES", "ForecastInfo", "cell_table", "publish_forecast", "write_forecast"]

#: Output file name by key of ``publish_forecast``'s result.
FILE_NAMES: dict[str, str] = {
    "gpkg": "forecast.gpkg",
    "geojson": "forecast.geojson",
    "cells_csv": "forecast_cells.csv",
    "html": "map.html",
    "png": "map.png",
    "patrol": "patrol.pdf",
    "report": "report.md",
    "report_html": "report.html",
}
GPKG_LAYER = "cells"
#: Year of the OS boundary statement: the shipped and shared London ward boundaries are
#: the London ward file dated 2025 (its zip entries are of 2025-03-27).
BOUNDARY_YEAR = 2025
OS_ATTRIBUTION = "Boundaries: Contains OS data © Crown copyright and database right {year}"
POLICE_UK_MAP_CREDIT = "Crime data: police.uk, Open Government Licence v3.0"


def _map_credits(cube: xr.Dataset, attribution: str | None) -> list[str]:
    """Data credits for the maps: the data licence, and the OS statement for British
    boundaries (OSM is credited by the web map itself, only when its tiles load)."""
    credits = []
    if attribution:
        credits.append(POLICE_UK_MAP_CREDIT if "Open Government Licence" in attribution
                       else attribution)
    if same_crs(cube.attrs["crs"], BRITISH_NATIONAL_GRID):
        credits.append(OS_ATTRIBUTION.format(year=BOUNDARY_YEAR))
    return credits


def _boundary(cube: xr.Dataset, area_parts: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if area_parts is None:
        return gpd.GeoDataFrame(geometry=[grid_of(cube).area], crs=cube.attrs["crs"])
    if not isinstance(area_parts, gpd.GeoDataFrame) or area_parts.empty:
        raise DataError("area_parts must be a non-empty GeoDataFrame of boundaries")
    if area_parts.crs is None:
        raise DataError("area_parts has no CRS: set one (e.g. parts.set_crs('EPSG:27700'))")
    return area_parts[["geometry"]].to_crs(cube.attrs["crs"])


def _named_parts(area_parts: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    # the patrol sheet names wards; a boundary without parts is outlined, not named
    if not isinstance(area_parts, gpd.GeoDataFrame) or area_parts.empty:
        return None
    return area_parts


def publish_forecast(
    forecast: xr.DataArray,
    cube: xr.Dataset,
    out_dir: Path | str,
    *,
    backtest: BacktestResult | None = None,
    area_parts: gpd.GeoDataFrame | None = None,
    top_share: float = 0.05,
    attribution: str | None = None,
    owned: tuple[str, ...] = (),
    replace: bool = True,
    selection: Selection | None = None,
    boxes: int = 20,
) -> dict[str, Path]:
    """Publish a forecast's cells, maps and report as the folder ``out_dir`` (replaced
    whole); return paths by key. ``owned`` names further entries a previous run of the
    caller left there; ``replace=False`` writes into ``out_dir`` as it is, for a caller
    staging a larger run folder (see :func:`write_forecast` for the rest)."""
    out_dir = Path(out_dir)
    options = {"backtest": backtest, "area_parts": area_parts, "top_share": top_share,
               "attribution": attribution, "selection": selection, "boxes": boxes}
    if not replace:
        return write_forecast(forecast, cube, out_dir, **options)
    with replace_folder(out_dir, owned=(*FILE_NAMES.values(), *owned)) as staging:
        paths = write_forecast(forecast, cube, staging, **options)
    return {key: out_dir / path.name for key, path in paths.items()}


def write_forecast(
    forecast: xr.DataArray,
    cube: xr.Dataset,
    out_dir: Path | str,
    *,
    backtest: BacktestResult | None = None,
    area_parts: gpd.GeoDataFrame | None = None,
    top_share: float = 0.05,
    attribution: str | None = None,
    selection: Selection | None = None,
    boxes: int = 20,
) -> dict[str, Path]:
    """Write a forecast's cells, maps and report into ``out_dir``; return paths by key.

    Parameters
    ----------
    forecast
        ``model.predict(1)`` output ``(time=1, cell)``, or the same squeezed to ``(cell,)``;
        its cells must be the cube's (``GridError`` otherwise).
    cube
        The cube the model was fitted on (grid, CRS, frequency, provenance).
    backtest
        A backtest record to summarise in the report, with the baseline comparison.
    area_parts
        Boundaries to draw (e.g. wards, any CRS); default the cube's study area. Their
        names (column ``NAME``, ``name`` or the first text column) become each cell's
        ``area_name``.
    top_share
        Area share whose whole top-ranked cells are marked ``in_top`` and mapped.
    attribution
        Data licence text for the report (e.g. the Open Government Licence notice).
    selection
        How ``forecast --model auto`` chose the model: the report opens with the choice.
    boxes
        N of the top-N boxes marked ``in_boxes`` and listed in the report (the patrol
        list; the backtest's box scores use the same N).

    Returns
    -------
    Paths by key (:data:`FILE_NAMES`): ``gpkg`` (styled for QGIS, with layer metadata),
    ``geojson``, ``cells_csv``, ``html`` (offline Leaflet map), ``png``, ``patrol`` (the
    one-page patrol sheet), ``report`` (and its HTML twin ``report_html``).
    """
    table, info = cell_table(forecast, cube, top_share, boxes=boxes, area_parts=area_parts)
    if not float(table["expected"].sum()) > 0:
        # ranking all-zero expectations would publish cells "ranked" by cell id alone
        what = "harm" if info.weighted else "crimes"
        raise DataError(
            f"the {info.model} forecast for {info.target_label} expects 0 {what} in every "
            "cell: there is nothing to rank, so nothing was published (does the cube count "
            f"any events of the target {info.target_title}? check its area, target and the "
            "latest periods)")
    table = table[LEADING_COLUMNS + EXTRA_COLUMNS]
    boundary = _boundary(cube, area_parts)
    cell_size = float(cube.attrs["cell_size_m"])
    title = map_title(info.model, info.target_label, float(top_share),
                      target_title=info.target_title)
    counted = "expected harm" if info.weighted else "expected crimes"
    credits = _map_credits(cube, attribution)
    html = leaflet_html(table, boundary, title=title, counted=counted, attributions=credits,
                        cell_size_m=cell_size)
    png = static_png(table, boundary, title=title, cell_size_m=cell_size, counted=counted)
    patrol = patrol_pdf(table, boundary, _named_parts(area_parts), title=title,
                        counted=counted, attributions=credits)
    csv = table.drop(columns="geometry").to_csv(index=False)
    report = render_report(table, cube, info, top_share=float(top_share), backtest=backtest,
                           attribution=attribution, files=list(FILE_NAMES.values()),
                           selection=selection)
    report_html = render_report_html(report, cube, backtest=backtest, images={"map.png": png})

    keywords, description = layer_metadata(info, attribution)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {key: out_dir / name for key, name in FILE_NAMES.items()}
    with atomic_path(paths["gpkg"]) as tmp, warnings.catch_warnings():
        # the temporary name lacks the .gpkg extension; the final name has it
        warnings.filterwarnings("ignore", message="The filename extension should be",
                                category=RuntimeWarning)
        table.to_file(tmp, driver="GPKG", layer=GPKG_LAYER,
                      layer_options={"IDENTIFIER": title, "DESCRIPTION": description},
                      layer_metadata=keywords)
        style_geopackage(tmp, GPKG_LAYER, rank_classes(table), title=title,
                         abstract=description, keywords=keywords,
                         licence=attribution or "see the data source's licence")
    with atomic_path(paths["geojson"]) as tmp:
        table.to_crs(WGS84).to_file(tmp, driver="GeoJSON", layer=GPKG_LAYER, RFC7946="YES")
    write_text_atomic(paths["cells_csv"], csv)
    write_text_atomic(paths["html"], html)
    with atomic_path(paths["png"]) as tmp:
        tmp.write_bytes(png)
    with atomic_path(paths["patrol"]) as tmp:
        tmp.write_bytes(patrol)
    write_text_atomic(paths["report"], report)
    write_text_atomic(paths["report_html"], report_html)
    return paths
