"""The published forecast's short report: markdown, and the same as one HTML page with the
backtest's charts (``report.html``)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence

import geopandas as gpd
import pandas as pd
import shapely
import xarray as xr

from hotspot.core.markdown import escape_text, markdown_table
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.selection import Selection
from hotspot.publish.cells import ForecastInfo, percent_label
from hotspot.publish.charts import backtest_charts
from hotspot.publish.choice import choice_section
from hotspot.publish.html_report import CHARTS_HEADING, html_document
from hotspot.publish.track_record import backtest_section, baseline_comparison

__all__ = ["CHARTS_TEXT", "HOW_TO_READ", "UNIT_RULE", "baseline_comparison", "cell_areas",
           "charts_section", "render_report", "render_report_html", "study_area_line"]

#: What the charts section says, in report.md and above the charts in report.html.
CHARTS_TEXT = ("Drawn from the backtest record's per-cell predictions, per target: the top-N "
               "box hit rate of each model per held-out period; the hit rate against the "
               "share of the area covered, for each model and the oracle; observed against "
               "expected counts (calibration). `report.html` shows them; `report.md` only "
               "names them.")

HOW_TO_READ = [
    "**Boxes**: the top-N ranked cells, taken whole: the patrol list. **Box hit rate**: "
    "share of the period's crimes (or harm) that fell in them; **box PAI**: that hit rate "
    "divided by the boxes' share of the area (higher is better).",
    "**Hit rate @ a %**: share of the period's crimes that fell in the top-ranked cells "
    "covering a % of the area (higher is better).",
    "**PAI** (predictive accuracy index): hit rate divided by the area share; 1 is what "
    "picking cells at random gives (higher is better).",
    "**PEI** (predictive efficiency index): hit rate divided by the best hit rate any choice "
    "of cells of that area could have had (the **oracle**); between 0 and 1 (higher is "
    "better).",
    "**Log score**: mean over cells of the Poisson log probability of what happened under "
    "the forecast (higher is better; for harm a quasi-likelihood).",
    "**Poisson deviance**: mean over cells of how far the observed counts are from the "
    "expected counts under a Poisson model (lower is better).",
    "Intervals are 95 % bootstrap intervals over the backtest periods; overlapping intervals "
    "mean the backtest cannot separate the models, not that they are equal.",
]

#: The unit rule, as the grid applies it (``features.grid.MIN_CELL_SHARE``).
UNIT_RULE = ("Boundary slivers under a quarter of a cell are merged into the neighbour they "
             "share most edge with, so every box is at least a quarter of a {size:g} m cell.")


def _provenance(cube: xr.Dataset) -> list[str]:
    raw = cube.attrs.get("provenance", "{}")
    try:
        record = json.loads(raw) if isinstance(raw, str) else dict(raw)
    except (ValueError, TypeError):
        return [f"- provenance (unparsed): `{str(raw)[:300]}`"]
    if not isinstance(record, dict):
        return [f"- provenance: `{json.dumps(record, default=str)[:300]}`"]
    lines = []
    for key in ("source", "built_at", "crs"):
        if cube.attrs.get(key):
            lines.append(f"- {key}: {escape_text(cube.attrs[key])}")
    for key, value in sorted(record.items()):
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > 200:
            text = text[:197] + "..."
        lines.append(f"- {key}: {escape_text(text)}")
    return lines or ["- no provenance recorded"]


def cell_areas(cube: xr.Dataset) -> pd.Series:
    """Area in m² per cell id of the cube's grid (what the coverage chart ranks by)."""
    return pd.Series(cube["area_m2"].values.astype(float),
                     index=pd.Index(cube["cell"].values, name="cell_id"), name="area_m2")


def study_area_line(cube: xr.Dataset, info: ForecastInfo) -> str:
    """What the study area includes: its area in km² and whether water was clipped from it
    (``ForecastInfo.area_summary``), else the area of the boundary the cube was built on."""
    summary = getattr(info, "area_summary", None)
    if summary and getattr(info, "area_km2", None) is not None:
        return f"- {escape_text(summary)}"
    area_km2 = float(shapely.from_wkt(cube.attrs["area_wkt"]).area) / 1e6
    return (f"- Study area: {area_km2:.2f} km² inside the boundary the cube was built on "
            f"({cube.sizes['cell']} cells clipped to it).")


def charts_section(backtest: BacktestResult | None) -> list[str]:
    """The report's charts section (empty without a backtest record to draw)."""
    if backtest is None or backtest.metrics.empty:
        return []
    return [f"## {CHARTS_HEADING}", "", CHARTS_TEXT, ""]


def _boxes_lines(table: gpd.GeoDataFrame, info: ForecastInfo, cell_size: float) -> list[str]:
    """The patrol list: the top-N boxes with where they are, and how much they cover."""
    boxes = table[table["in_boxes"]]
    total = float(table["expected"].sum())
    share = float(boxes["area_m2"].sum() / table["area_m2"].sum())
    held = f"{boxes['expected'].sum() / total * 100:.0f} %" if total > 0 else "n/a"
    lines = [f"## Top {len(boxes)} boxes: {escape_text(info.target_title)}", "",
             f"The {len(boxes)} boxes cover {share * 100:.1f} % of the study area "
             f"({boxes['area_m2'].sum() / 1e6:.3f} km²) and hold {held} of the "
             f"{info.counted}.", ""]
    rows = [[r.rank, r.cell_id, f"{r.expected:.3f}", f"{r.density_per_km2:.1f}",
             r.area_name or "", f"{r.lat:.5f}, {r.lon:.5f}"] for r in boxes.itertuples()]
    lines += markdown_table(["rank", "cell", "expected", "density per km²", "area name",
                             "lat, lon"], rows)
    if info.area_name_column:
        where = (f"Area name: the study-area part containing the box's point (column "
                 f"`{escape_text(info.area_name_column)}` of the boundaries).")
    else:
        where = "Area names are empty: no named study-area parts were given."
    lines += ["", "Ranks order cells by expected value per km² (ties by cell id), as the "
              "backtest metrics do. " + UNIT_RULE.format(size=cell_size) + " Lat, lon "
              "(WGS84) is a point inside the box. " + where, ""]
    return lines


def render_report(
    table: gpd.GeoDataFrame,
    cube: xr.Dataset,
    info: ForecastInfo,
    *,
    top_share: float,
    backtest: BacktestResult | None,
    attribution: str | None,
    files: Sequence[str],
    selection: Selection | None = None,
) -> str:
    """The markdown report for a table made by ``cell_table`` (sorted by rank)."""
    n_cells = len(table)
    cell_size = float(cube.attrs["cell_size_m"])
    total = float(table["expected"].sum())
    top = table[table["in_top"]]
    area_km2 = float(table["area_m2"].sum()) / 1e6
    top_area = float(top["area_m2"].sum()) / 1e6
    top_expected = float(top["expected"].sum())
    title = escape_text(info.target_title)
    lines = [
        f"# {title} hotspot forecast for {info.target_label}",
        "",
        f"- target: **{title}** (`{escape_text(info.target_name)}`); values are "
        f"{info.counted}",
        f"- model: **{escape_text(info.model)}**",
        f"- cutoff (last period used): {info.cutoff or 'not recorded'}",
        f"- target period: {info.target_label}",
        f"- cells: {n_cells} of {cell_size:g} m ({area_km2:.2f} km², {cube.attrs['crs']})",
        study_area_line(cube, info),
        f"- total {info.counted}: {total:.1f}",
    ]
    if len(top):
        share = f"{top_expected / total * 100:.0f} %" if total > 0 else "n/a"
        lines.append(f"- top {percent_label(top_share)} of the area: {len(top)} whole cells "
                     f"({top_area:.3f} km²) holding {share} of the {info.counted}")
    else:
        lines.append(f"- top {percent_label(top_share)} of the area: no whole cell fits in it; "
                     "raise top_share to mark and map top cells")
    lines += ["", *choice_section(selection)]
    lines += ["![map](map.png)", "", *_boxes_lines(table, info, cell_size)]
    lines += backtest_section(backtest, info.model, target=info.target_name,
                              target_title=info.target_title, boxes=info.boxes)
    lines += charts_section(backtest)
    lines += ["## Data provenance", "", *_provenance(cube), ""]
    lines += ["## How to read this", "", *(f"- {text}" for text in HOW_TO_READ), ""]
    if attribution:
        lines += ["## Attribution", "", attribution, ""]
    lines += ["## Files", "", *(f"- `{name}`" for name in files), ""]
    return "\n".join(lines)


def render_report_html(report_md: str, cube: xr.Dataset, *, backtest: BacktestResult | None,
                       images: Mapping[str, bytes] | None = None) -> str:
    """``report.html``: the markdown report as one self-contained page, with the images it
    names (``images``, e.g. ``{"map.png": png}``) and the backtest's charts inline."""
    charts = backtest_charts(backtest, cell_areas(cube)) if backtest is not None else []
    first = report_md.lstrip().splitlines()[0] if report_md.strip() else "Hotspot forecast"
    return html_document(report_md, title=html.unescape(first.lstrip("# ").strip()), charts=charts,
                         images=images)
