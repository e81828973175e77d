"""patrol.pdf: one printable A4 page an officer can take out: where the top-N boxes are.

The upper half maps the boxes (rank inside each) over the study area and its parts'
outlines and names (wards); the lower half lists each box's centre as a point inside it
(latitude, longitude to 5 decimals, as in the cell table), the nearest part (the one
containing the point, else the closest), and the expected count or harm. Drawn with
matplotlib's PDF backend; the file carries no creation date, so the same forecast gives
the same bytes.
"""

from __future__ import annotations

import io
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.backends.backend_pdf import FigureCanvasPdf
from matplotlib.figure import Figure

from hotspot.core.names import name_column
from hotspot.publish.maps import draw_boxes, draw_cells, legend_handles
from hotspot.publish.places import representative_points
from hotspot.publish.scale import rank_classes

A4_INCHES = (8.27, 11.69)
#: Rows the table holds on one page; with more boxes the map shows them all and the
#: sheet says the table lists the first ``MAX_ROWS`` (the full list is forecast_cells.csv).
MAX_ROWS = 40


def nearest_names(points: gpd.GeoSeries, parts: gpd.GeoDataFrame | None) -> list[str]:
    """For each point, the name of the part containing it or else the closest one;
    "" without parts or a name column."""
    if parts is None or parts.empty:
        return [""] * len(points)
    column = name_column(parts)
    if column is None:
        return [""] * len(points)
    parts = parts.to_crs(points.crs)
    geoms = np.asarray(parts.geometry.values, dtype=object)
    usable = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    if not usable.any():
        return [""] * len(points)
    tree = shapely.STRtree(geoms[usable])
    index = np.flatnonzero(usable)
    point_idx, part_idx = tree.query_nearest(np.asarray(points.values, dtype=object),
                                             all_matches=True)
    # on a shared edge both parts are at distance 0: the first listed names it
    chosen: dict[int, int] = {}
    for p, q in zip(point_idx, index[part_idx], strict=True):
        chosen[int(p)] = min(chosen.get(int(p), q), q)
    names = parts[column].astype(object).where(parts[column].notna(), "").astype(str)
    return [names.iloc[chosen[i]] if i in chosen else "" for i in range(len(points))]


def patrol_rows(table: gpd.GeoDataFrame, parts: gpd.GeoDataFrame | None) -> list[list[str]]:
    """Table rows (rank, lat, lon, nearest part, expected, cell id) of the boxes, by rank."""
    boxes = table[table["in_boxes"]].sort_values("rank")
    near = nearest_names(representative_points(boxes.geometry), parts)
    return [[str(int(r)), f"{lat:.5f}", f"{lon:.5f}", name or "—", f"{exp:.2f}", str(cell)]
            for r, lat, lon, name, exp, cell in zip(
                boxes["rank"], boxes["lat"], boxes["lon"], near, boxes["expected"],
                boxes["cell_id"], strict=True)]


def _part_labels(ax, parts: gpd.GeoDataFrame, crs) -> None:
    column = name_column(parts)
    if column is None:
        return
    parts = parts.to_crs(crs)
    parts = parts[~parts.geometry.is_empty]
    for name, point in zip(parts[column], parts.geometry.representative_point(), strict=True):
        ax.text(point.x, point.y, str(name), fontsize=5, color="#555555", ha="center",
                va="center", style="italic")


def patrol_pdf(table: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame,
               parts: gpd.GeoDataFrame | None, **text: Any) -> bytes:
    """PDF bytes of the one-page patrol sheet (arguments: :func:`patrol_figure`)."""
    fig = patrol_figure(table, boundary, parts, **text)
    FigureCanvasPdf(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="pdf", metadata={"CreationDate": None, "Creator": "hotspot"})
    return buffer.getvalue()


def patrol_figure(
    table: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame,
    parts: gpd.GeoDataFrame | None,
    *,
    title: str,
    counted: str,
    attributions: list[str],
) -> Figure:
    """The patrol sheet as an A4 matplotlib figure (no canvas attached).

    Parameters
    ----------
    table
        The published cell table (its ``in_boxes`` rows are the boxes).
    boundary
        The study area's outline.
    parts
        Named parts (wards) to outline, name and use as "nearest ward"; may be ``None``.
    title
        Heading (target, period, model).
    counted
        What the expected column holds, e.g. "expected crimes".
    attributions
        Data credits printed at the foot of the page.
    """
    classes = rank_classes(table)
    every_row = patrol_rows(table, parts)
    rows = every_row[:MAX_ROWS]
    listed = "" if len(rows) == len(every_row) else \
        f"; the table lists the first {len(rows)}, forecast_cells.csv all"
    fig = Figure(figsize=A4_INCHES)
    fig.text(0.5, 0.975, title, ha="center", va="top", fontsize=11, fontweight="bold",
             wrap=True)
    fig.text(0.5, 0.953, f"Patrol sheet: the top {len(every_row)} boxes by forecast density "
             f"(rank inside each box; cells coloured by rank class{listed})", ha="center",
             va="top", fontsize=9)
    ax = fig.add_axes((0.04, 0.47, 0.92, 0.47))
    ax.set_axis_off()
    draw_cells(ax, table, classes, alpha=0.6)
    if parts is not None:
        parts.to_crs(table.crs).boundary.plot(ax=ax, color="#888888", linewidth=0.4)
        _part_labels(ax, parts, table.crs)
    outline = gpd.GeoSeries([boundary.to_crs(table.crs).union_all()], crs=table.crs)
    outline.boundary.plot(ax=ax, color="#222222", linewidth=0.9)
    n_boxes = draw_boxes(ax, table, fontsize=7)
    ax.set_aspect("equal")
    ax.legend(handles=legend_handles(classes, n_boxes), loc="upper left",
              bbox_to_anchor=(0.0, 0.0), ncol=3, fontsize=5.5, frameon=False)

    table_ax = fig.add_axes((0.06, 0.05, 0.88, 0.36))
    table_ax.set_axis_off()
    if rows:
        cell_table = table_ax.table(
            cellText=rows, colLabels=["Rank", "Latitude", "Longitude", "Nearest ward",
                                      counted.capitalize(), "Cell"],
            colWidths=[0.07, 0.14, 0.14, 0.33, 0.16, 0.16], loc="upper center",
            cellLoc="left")
        cell_table.auto_set_font_size(False)
        cell_table.set_fontsize(7.5)
        cell_table.scale(1.0, 1.05)
    fig.text(0.5, 0.02, " | ".join(attributions), ha="center", va="bottom", fontsize=6,
             color="#444444", wrap=True)
    return fig
