"""The published forecast's short markdown report."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.markdown import escape_cell, escape_text, markdown_table
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.compare import is_baseline
from hotspot.publish.cells import ForecastInfo, percent_label

#: (column header, metric, coverage) of the backtest table; coverage None for deviance.
BACKTEST_COLUMNS: list[tuple[str, str, float | None]] = [
    ("PAI@1 %", "pai", 0.01),
    ("PAI@5 %", "pai", 0.05),
    ("hit rate@5 %", "hit_rate", 0.05),
    ("PEI@5 %", "pei", 0.05),
    ("mean Poisson deviance", "poisson_deviance", None),
]

HOW_TO_READ = [
    "**Hit rate @ a %**: share of the period's crimes that fell in the top-ranked cells "
    "covering a % of the area (higher is better).",
    "**PAI** (predictive accuracy index): hit rate divided by the area share; 1 is what "
    "picking cells at random gives (higher is better).",
    "**PEI** (predictive efficiency index): hit rate divided by the best hit rate any choice "
    "of cells of that area could have had; between 0 and 1 (higher is better).",
    "**Poisson deviance**: mean over cells of how far the observed counts are from the "
    "expected counts under a Poisson model (lower is better).",
    "Intervals are 95 % bootstrap intervals over the backtest periods; overlapping intervals "
    "mean the backtest cannot separate the models, not that they are equal.",
]


def _row(table: pd.DataFrame, model: str, metric: str, coverage: float | None) -> pd.Series | None:
    mask = (table["model"] == model) & (table["metric"] == metric)
    if coverage is not None:
        mask &= np.isclose(table["coverage"].astype(float), coverage)
    rows = table[mask]
    return None if rows.empty else rows.iloc[0]


def _num(value: Any, digits: int = 3) -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "n/a"
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def _with_ci(row: pd.Series | None) -> str:
    if row is None or not math.isfinite(float(row["mean"])):
        return "n/a"
    return f"{_num(row['mean'])} [{_num(row['ci_low'])}, {_num(row['ci_high'])}]"


def _overlap(a: pd.Series, b: pd.Series) -> bool | None:
    bounds = [float(a["ci_low"]), float(a["ci_high"]), float(b["ci_low"]), float(b["ci_high"])]
    if not all(math.isfinite(v) for v in bounds):
        return None
    return bounds[0] <= bounds[3] and bounds[2] <= bounds[1]


def _compare_clause(
    table: pd.DataFrame, model: str, baselines: list[str], metric: str,
    coverage: float | None, label: str, higher_is_better: bool,
) -> str:
    own = _row(table, model, metric, coverage)
    candidates = [(name, _row(table, name, metric, coverage)) for name in baselines]
    candidates = [(name, row) for name, row in candidates
                  if row is not None and math.isfinite(float(row["mean"]))]
    if own is None or not math.isfinite(float(own["mean"])) or not candidates:
        return f"on {label} there is no value to compare"
    pick = max if higher_is_better else min
    best_name, best = pick(candidates, key=lambda item: float(item[1]["mean"]))
    mine, theirs = float(own["mean"]), float(best["mean"])
    if mine == theirs:
        verdict = "tied with"
    elif (mine > theirs) == higher_is_better:
        verdict = "beat"
    else:
        verdict = "did not beat"
    overlap = _overlap(own, best)
    if overlap is None:
        intervals = "their intervals are not available (too few periods)"
    elif overlap:
        intervals = "their 95 % intervals overlap, so the backtest does not clearly separate them"
    else:
        intervals = "their 95 % intervals do not overlap"
    return (f"on {label} {model} ({_num(mine)}) {verdict} the best baseline {best_name} "
            f"({_num(theirs)}), and {intervals}")


def baseline_comparison(table: pd.DataFrame, model: str) -> str:
    """One plain sentence: did ``model`` beat the best baseline on PAI@5 % and on deviance?"""
    models = list(dict.fromkeys(table["model"]))
    if model not in models:
        return (f"The published model {model} is not in this backtest record, so it cannot be "
                "compared with the baselines.")
    baselines = [name for name in models if is_baseline(name) and name != model]
    if not baselines:
        return (f"This backtest record has no baseline other than {model}, so there is nothing "
                "to compare it with.")
    pai = _compare_clause(table, model, baselines, "pai", 0.05, "PAI@5 %", True)
    deviance = _compare_clause(table, model, baselines, "poisson_deviance", None,
                               "mean Poisson deviance (lower is better)", False)
    prefix = (f"The published model {model} is itself a baseline, so it is compared with the "
              "best of the other baselines: " if is_baseline(model)
              else "Compared with the best baseline on each measure: ")
    return f"{prefix}{pai}; {deviance}."


def backtest_section(backtest: BacktestResult | None, model: str) -> list[str]:
    lines = ["## Backtest", ""]
    if backtest is None:
        lines += ["No backtest record is available for this forecast: run `hotspot backtest` "
                  "to see how well the model and the baselines would have done.", ""]
        return lines
    table = backtest.summary_table
    settings = backtest.settings
    first, last = settings.get("first_target", "?"), settings.get("last_target", "?")
    n = settings.get("n_targets", "?")
    lines += [f"Rolling-origin backtest over target periods {first} to {last} ({n} periods); "
              "each model refitted before every period.", ""]
    rows = []
    for name in dict.fromkeys(table["model"]):
        if name == model:
            role = "**published**" + (" (baseline)" if is_baseline(name) else "")
        elif is_baseline(name):
            role = "baseline"
        else:
            role = "candidate"
        label = f"**{escape_cell(name)}**" if name == model else escape_cell(name)
        rows.append([label, role, *(_with_ci(_row(table, name, metric, coverage))
                                    for _, metric, coverage in BACKTEST_COLUMNS)])
    lines += markdown_table(["model", "role", *(h for h, _, _ in BACKTEST_COLUMNS)], rows,
                            raw=(0, 1))
    lines += ["", "Values are mean [95 % interval] over the backtest periods.", "",
              baseline_comparison(table, model), ""]
    return lines


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


def render_report(
    table: gpd.GeoDataFrame,
    cube: xr.Dataset,
    info: ForecastInfo,
    *,
    top_share: float,
    backtest: BacktestResult | None,
    attribution: str | None,
    files: Sequence[str],
) -> str:
    """The markdown report for a table made by ``cell_table`` (sorted by rank)."""
    n_cells = len(table)
    cell_size = float(cube.attrs["cell_size_m"])
    total = float(table["expected"].sum())
    top = table[table["in_top"]]
    area_km2 = float(table["area_m2"].sum()) / 1e6
    top_area = float(top["area_m2"].sum()) / 1e6
    top_expected = float(top["expected"].sum())
    lines = [
        f"# Crime hotspot forecast for {info.target_label}",
        "",
        f"- model: **{escape_text(info.model)}**",
        f"- cutoff (last period used): {info.cutoff or 'not recorded'}",
        f"- target period: {info.target_label}",
        f"- cells: {n_cells} of {cell_size:g} m ({area_km2:.2f} km², {cube.attrs['crs']})",
        f"- total expected count: {total:.1f}",
    ]
    if len(top):
        share = f"{top_expected / total * 100:.0f} %" if total > 0 else "n/a"
        lines.append(f"- top {percent_label(top_share)} of the area: {len(top)} whole cells "
                     f"({top_area:.3f} km²) holding {share} of the expected count")
    else:
        lines.append(f"- top {percent_label(top_share)} of the area: no whole cell fits in it; "
                     "raise top_share to mark and map top cells")
    lines += ["", "![map](map.png)", "", "## Top 10 cells", ""]
    centres = pd.DataFrame({"x": cube["x"].values, "y": cube["y"].values},
                           index=np.asarray(cube["cell"].values).astype(str))
    rows = []
    for record in table.head(10).itertuples():
        x, y = centres.loc[str(record.cell_id)]
        rows.append([record.rank, record.cell_id, f"{record.expected:.3f}",
                     f"{x:.0f}", f"{y:.0f}"])
    lines += markdown_table(["rank", "cell_id", "expected", "centre x", "centre y"], rows)
    lines += ["", "Ranks order cells by expected count per km² (ties by cell id), as the "
              "backtest metrics do.", ""]
    lines += backtest_section(backtest, info.model)
    lines += ["## Data provenance", "", *_provenance(cube), ""]
    lines += ["## How to read this", "", *(f"- {text}" for text in HOW_TO_READ), ""]
    if attribution:
        lines += ["## Attribution", "", attribution, ""]
    lines += ["## Files", "", *(f"- `{name}`" for name in files), ""]
    return "\n".join(lines)
