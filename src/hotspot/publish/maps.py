"""Maps of a published forecast: an interactive folium page and a static PNG.

The folium page loads Leaflet and its background tiles from the web when it is opened
(the file itself is complete and written offline); the PNG is drawn with matplotlib's
Agg renderer and needs nothing at viewing time.
"""

from __future__ import annotations

import html
import io

import branca.colormap as cm
import folium
import geopandas as gpd
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from hotspot.publish.cells import percent_label

WGS84 = "EPSG:4326"
_TOP_COLOURS = ["#fee391", "#fe9929", "#cc4c02", "#662506"]


def map_title(model: str, period: str, top_share: float, *,
              target_title: str = "All categories") -> str:
    """The maps' title: what is forecast (the target), for when, by which model."""
    return (f"{target_title} forecast {period} · {model} · top {percent_label(top_share)} "
            "of area")


def folium_html(
    table: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame, *, title: str, cell_size_m: float
) -> str:
    """A standalone HTML page: boundary, top cells coloured by expected count, legend."""
    boundary_ll = boundary.to_crs(WGS84)
    west, south, east, north = boundary_ll.total_bounds
    fmap = folium.Map(location=[(south + north) / 2, (west + east) / 2],
                      control_scale=True)
    folium.GeoJson(
        boundary_ll[["geometry"]],
        name="area boundary",
        style_function=lambda _: {"color": "#333333", "weight": 1.5, "fill": False},
        interactive=False,
    ).add_to(fmap)

    top = table.loc[table["in_top"], ["cell_id", "rank", "expected", "geometry"]].to_crs(WGS84)
    if not top.empty:
        low, high = float(top["expected"].min()), float(top["expected"].max())
        if high <= low:
            high = low + max(abs(low) * 1e-6, 1e-9)
        colormap = cm.LinearColormap(_TOP_COLOURS, vmin=low, vmax=high)
        colormap.caption = f"expected count per {cell_size_m:g} m cell (top cells)"
        top = top.assign(expected=top["expected"].round(3))
        folium.GeoJson(
            top,
            name="top cells",
            style_function=lambda feature: {
                "fillColor": colormap(feature["properties"]["expected"]),
                "color": "#222222", "weight": 0.8, "fillOpacity": 0.75,
            },
            tooltip=folium.GeoJsonTooltip(fields=["cell_id", "rank", "expected"],
                                          aliases=["cell", "rank", "expected"]),
        ).add_to(fmap)
        colormap.add_to(fmap)
    note = ("Background tiles and the Leaflet library load from the web when this page is "
            "opened; map.png is the offline view.")
    header = (
        '<div style="position: fixed; top: 10px; left: 50px; z-index: 1000; '
        'background: white; padding: 6px 10px; border: 1px solid #999; '
        'font: 14px sans-serif; max-width: 60%;">'
        f"<b>{html.escape(title)}</b><br><small>{html.escape(note)}</small></div>"
    )
    fmap.get_root().html.add_child(folium.Element(header))
    fmap.fit_bounds([[south, west], [north, east]])
    return fmap.get_root().render()


def static_png(
    table: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame, *, title: str, cell_size_m: float
) -> bytes:
    """PNG bytes: all cells shaded by expected density, top cells outlined, boundary drawn."""
    fig = Figure(figsize=(8, 6.5))
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.04, 0.80, 0.88))
    ax.set_axis_off()  # before plotting: geopandas redraws after each layer
    density = table["expected_per_km2"].to_numpy(dtype=float)
    vmax = float(np.max(density)) if density.size and np.max(density) > 0 else 1.0
    norm = Normalize(vmin=0.0, vmax=vmax)
    cmap = "YlOrRd"
    table.plot(ax=ax, column="expected_per_km2", cmap=cmap, norm=norm,
               edgecolor="#dddddd", linewidth=0.2)
    top = table[table["in_top"]]
    if not top.empty:
        top.boundary.plot(ax=ax, color="#1f3a93", linewidth=1.4)
    boundary.to_crs(table.crs).boundary.plot(ax=ax, color="#333333", linewidth=0.8)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=fig.add_axes((0.86, 0.15, 0.03, 0.7)),
                 label="expected events per km²")
    ax.legend(handles=[Line2D([], [], color="#1f3a93", linewidth=1.4,
                              label=f"top cells ({len(top)})")],
              loc="upper right", fontsize=8, frameon=True)
    ax.text(0.01, 0.01, f"cells: {cell_size_m:g} m · {table.crs.to_string()}",
            transform=ax.transAxes, fontsize=8, ha="left", va="bottom",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_title(title, fontsize=11)
    ax.set_aspect("equal")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    return buffer.getvalue()
