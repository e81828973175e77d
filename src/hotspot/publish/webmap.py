"""map.html: one self-contained Leaflet page that works with no network at all.

Leaflet 1.9.4 (BSD-2-Clause, ``static/LEAFLET-LICENSE``) is shipped in ``static/`` and
inlined with the data, so the page has no script or stylesheet to fetch; the OpenStreetMap
background is an optional layer whose tiles load only when the viewer is online (the
cells draw on white without them, and the OSM credit appears only once a tile has
loaded). Every cell is drawn, coloured by the shared rank classes (``publish.scale``);
the top-N boxes are outlined and carry permanent rank labels.

Folium is not used: it links Leaflet, jQuery and Bootstrap from CDNs, which is what left
the page blank offline.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files

import geopandas as gpd
import numpy as np
import shapely

from hotspot.publish.scale import BOX_COLOUR, class_colours, rank_classes

WGS84 = "EPSG:4326"
#: Decimals of the page's coordinates (about 0.1 m): small file, no visible rounding.
COORD_DECIMALS = 6
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">'
                   "OpenStreetMap</a> contributors")


def _static(name: str) -> str:
    return files("hotspot.publish").joinpath("static", name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    # inside <script>, "</" could close the element early (a ward named "</script>")
    return text.replace("</", "<\\/")


def _rounded(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))


def _features(geoms: np.ndarray, properties: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": json.loads(shapely.to_geojson(g))}
        for g, props in zip(_rounded(geoms), properties, strict=True)]}


def page_data(table: gpd.GeoDataFrame, boundary: gpd.GeoDataFrame) -> dict:
    """What the page's script draws: cells, boxes' label points, boundary, legend."""
    classes = rank_classes(table)
    cells = table.to_crs(WGS84)
    colours = class_colours(cells, classes)
    columns = ["cell_id", "rank", "expected", "density_per_km2", "area_name", "in_boxes"]
    props = [
        {"cell": str(cell), "rank": int(rank), "expected": round(float(exp), 3),
         "density": round(float(dens), 1), "name": str(name), "colour": str(colour),
         "box": bool(box)}
        for (cell, rank, exp, dens, name, box), colour in zip(
            cells[columns].itertuples(index=False, name=None), colours, strict=True)]
    boxes = cells.loc[cells["in_boxes"]].sort_values("rank")
    parts = boundary.to_crs(WGS84)
    west, south, east, north = (float(v) for v in parts.total_bounds)
    return {
        "cells": _features(np.asarray(cells.geometry.values), props),
        "labels": [[int(r), float(lat), float(lon)]
                   for r, lat, lon in zip(boxes["rank"], boxes["lat"], boxes["lon"],
                                          strict=True)],
        "boundary": _features(np.asarray(parts.geometry.values), [{}] * len(parts)),
        "bounds": [[south, west], [north, east]],
        "legend": [[cls.colour, cls.label] for cls in classes],
        "n_cells": len(cells),
    }


def leaflet_html(
    table: gpd.GeoDataFrame,
    boundary: gpd.GeoDataFrame,
    *,
    title: str,
    counted: str,
    attributions: list[str],
    cell_size_m: float,
) -> str:
    """The standalone page (a ``str`` of HTML).

    Parameters
    ----------
    table
        The published cell table (``cells.cell_table``), any CRS.
    boundary
        Outlines to draw (the study area or its parts).
    title
        Heading shown over the map.
    counted
        What the expected values are, e.g. "expected crimes" (tooltips, legend).
    attributions
        Plain-text data credits (escaped here), shown in Leaflet's attribution box.
    cell_size_m
        Cell size, for the legend.
    """
    data = page_data(table, boundary)
    n_boxes = len(data["labels"])
    text = {
        "counted": counted,
        "boxes": f"top {n_boxes} patrol boxes (outlined, labelled by rank)",
        "legend": f"{counted} per km², {cell_size_m:g} m cells",
        "attribution": " | ".join(html.escape(a) for a in attributions),
        "osm": OSM_ATTRIBUTION,
        "tiles": OSM_TILES,
        "box_colour": BOX_COLOUR,
    }
    payload = _script_safe(json.dumps({"data": data, "text": text}, ensure_ascii=False,
                                      separators=(",", ":")))
    return _TEMPLATE.format(
        title=html.escape(title),
        leaflet_css=_static("leaflet.css"),
        leaflet_js=_script_safe(_static("leaflet.js")),
        payload=payload,
        script=_SCRIPT,
        box_colour=BOX_COLOUR,
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<!-- Leaflet 1.9.4, BSD-2-Clause: (c) 2010-2023 Volodymyr Agafonkin, (c) 2010-2011 CloudMade -->
<style>
{leaflet_css}
</style>
<style>
html, body {{ height: 100%; margin: 0; }}
#map {{ position: absolute; top: 0; bottom: 0; left: 0; right: 0; background: #ffffff; }}
.hs-title {{ background: #ffffff; padding: 6px 10px; border: 1px solid #999999;
  font: 14px sans-serif; max-width: 420px; }}
.hs-legend {{ background: #ffffff; padding: 6px 8px; border: 1px solid #999999;
  font: 12px sans-serif; line-height: 18px; }}
.hs-legend i {{ display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: -2px; border: 1px solid #777777; }}
.hs-rank {{ background: #ffffff; border: 2px solid {box_colour}; border-radius: 9px;
  color: #000000; font: bold 11px sans-serif; text-align: center; line-height: 14px; }}
</style>
</head>
<body>
<div id="map"></div>
<script>
{leaflet_js}
</script>
<script>
var HOTSPOT = {payload};
</script>
<script>
{script}
</script>
</body>
</html>
"""

# Plain ES5 so any browser Leaflet supports runs it; text from the data goes in through
# esc() or textContent, never as markup.
_SCRIPT = r"""
(function () {
  var data = HOTSPOT.data, text = HOTSPOT.text;
  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  var map = L.map("map", {zoomSnap: 0.25, preferCanvas: false});
  map.attributionControl.addAttribution(text.attribution);
  var tiles = L.tileLayer(text.tiles, {maxZoom: 19, opacity: 0.6});
  var credited = false;
  tiles.on("tileload", function () {
    if (!credited) { map.attributionControl.addAttribution(text.osm); credited = true; }
  });
  tiles.addTo(map);
  var cells = L.geoJSON(data.cells, {
    style: function (f) {
      return {fillColor: f.properties.colour, fillOpacity: 0.8, color: "#999999",
              weight: 0.4};
    },
    onEachFeature: function (f, layer) {
      var p = f.properties;
      layer.bindTooltip(
        "<b>rank " + p.rank + "</b> of " + data.n_cells +
        "<br>" + esc(text.counted) + ": " + p.expected +
        "<br>per km²: " + p.density +
        (p.name ? "<br>area: " + esc(p.name) : "") +
        "<br>cell " + esc(p.cell), {sticky: true});
    }
  }).addTo(map);
  var boundary = L.geoJSON(data.boundary, {
    style: {color: "#333333", weight: 1.2, fill: false}, interactive: false
  }).addTo(map);
  var boxes = L.geoJSON(data.cells, {
    filter: function (f) { return f.properties.box; },
    style: {color: text.box_colour, weight: 2.5, fill: false}, interactive: false
  });
  var labels = L.layerGroup(data.labels.map(function (l) {
    return L.marker([l[1], l[2]], {
      interactive: false, keyboard: false,
      icon: L.divIcon({className: "hs-rank", html: String(l[0]), iconSize: [20, 18]})
    });
  }));
  var top = L.layerGroup([boxes, labels]).addTo(map);
  L.control.layers(null, {
    "OpenStreetMap background (online only)": tiles,
    "all cells": cells, "area boundary": boundary, "top boxes and ranks": top
  }, {collapsed: false}).addTo(map);
  var legend = L.control({position: "bottomleft"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "hs-legend");
    var head = document.createElement("b");
    head.textContent = text.legend;
    div.appendChild(head);
    data.legend.forEach(function (row) {
      var line = document.createElement("div");
      var swatch = document.createElement("i");
      swatch.style.background = row[0];
      line.appendChild(swatch);
      line.appendChild(document.createTextNode(row[1]));
      div.appendChild(line);
    });
    var box = document.createElement("div");
    var outline = document.createElement("i");
    outline.style.background = "#ffffff";
    outline.style.border = "2px solid " + text.box_colour;
    box.appendChild(outline);
    box.appendChild(document.createTextNode(text.boxes));
    div.appendChild(box);
    return div;
  };
  legend.addTo(map);
  var heading = L.control({position: "topleft"});
  heading.onAdd = function () {
    var div = L.DomUtil.create("div", "hs-title");
    var b = document.createElement("b");
    b.textContent = document.title;
    div.appendChild(b);
    return div;
  };
  heading.addTo(map);
  map.fitBounds(data.bounds);
})();
"""
