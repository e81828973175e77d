"""The static map (map.png) and the drawing it shares with the patrol sheet.

Drawn with matplotlib's Agg renderer: nothing is needed at viewing time. Cells are
coloured by the shared rank classes (``publish.scale``), the top-N patrol boxes are
outlined and labelled with their rank at a point inside each box.
"""

from __future__ import annotations

import io

import geopandas as gpd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hotspot.publish.cells import percent_label
from hotspot.publish.places import representative_points
from hotspot.publish.scale import BOX_COLOUR, RankClass, class_colours, rank_classes

WGS84 = "EPSG:4326"
#: A white halo keeps the black rank numbers readable on the darkest class.
_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def map_title(model: str, period: str, top_share: float, *,
              target_title: str = "All categories") -> str:
    """The maps' title: what is forecast (the target), for when, by which model."""
    return (f"{target_title} forecast {period} · {model} · top {percent_label(top_share)} "
            "of area")


def draw_cells(ax: Axes, table: gpd.GeoDataFrame, classes: list[RankClass], *,
               alpha: float = 1.0) -> None:
    """Every cell filled with its rank class colour."""
    table.plot(ax=ax, color=list(class_colours(table, classes)), edgecolor="#cccccc",
               linewidth=0.2, alpha=alpha)


def draw_boxes(ax: Axes, table: gpd.GeoDataFrame, *, fontsize: float = 7.0) -> int:
    """Outline the top-N boxes (``in_boxes``) and write each one's rank inside it;
    return how many were drawn."""
    boxes = table[table["in_boxes"]]
    if boxes.empty:
        return 0
    boxes.boundary.plot(ax=ax, color=BOX_COLOUR, linewidth=1.3)
    points = representative_points(boxes.geometry)
    for rank, point in zip(boxes["rank"], points, strict=True):
        ax.text(point.x, point.y, str(int(rank)), fontsize=fontsize, fontweight="bold",
                ha="center", va="center", color="black", path_effects=_HALO)
    return len(boxes)


def legend_handles(classes: list[RankClass], n_boxes: int) -> list[Patch]:
    handles = [Patch(facecolor=cls.colour, edgecolor="#777777", label=cls.label)
               for cls in classes]
    handles.append(Patch(facecolor="none", edgecolor=BOX_COLOUR, linewidth=1.3,
                         label=f"top {n_boxes} boxes (rank inside)"))
    return handles


def static_png(
    table: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame, *, title: str, cell_size_m: float,
    counted: str = "expected events",
) -> bytes:
    """PNG bytes: all cells by rank class, top-N boxes outlined with rank labels, the
    boundary drawn, a legend of the classes (densities per km²)."""
    fig = Figure(figsize=(9, 6.5))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 0.04, 0.66, 0.88))
    ax.set_axis_off()  # before plotting: geopandas redraws after each layer
    classes = rank_classes(table)
    draw_cells(ax, table, classes)
    boundary.to_crs(table.crs).boundary.plot(ax=ax, color="#333333", linewidth=0.8)
    n_boxes = draw_boxes(ax, table)
    fig.legend(handles=legend_handles(classes, n_boxes), loc="center left",
               bbox_to_anchor=(0.68, 0.5), fontsize=8, frameon=False,
               title=f"{counted} per km²", title_fontsize=8)
    ax.text(0.01, 0.01, f"cells: {cell_size_m:g} m · {table.crs.to_string()}",
            transform=ax.transAxes, fontsize=8, ha="left", va="bottom",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    fig.suptitle(title, fontsize=11)
    ax.set_aspect("equal")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    return buffer.getvalue()
