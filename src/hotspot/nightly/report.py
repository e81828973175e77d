"""The nightly section of a run's ``report.md``: data, warnings, drift, harm rankings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hotspot.core.markdown import escape_text, frame_table
from hotspot.features.harm import HarmWeights
from hotspot.nightly.records import Health
from hotspot.nightly.summary import drift_lines, warning_lines


def report_section(run_name: str, health: Health, data: dict[str, Any],
                   cells: pd.DataFrame, wards: pd.DataFrame, weights: HarmWeights,
                   top_n: int) -> str:
    """The markdown appended to the forecast's report for one nightly run."""
    lines = ["", f"## Nightly run {run_name}", ""]
    lines.append(f"Data: months {data['first_month']}..{data['last_month']} "
                 f"({data['n_months']}); new this run: {', '.join(data['new_months']) or '-'}. "
                 f"Rows ingested {health.rows_ingested:,} "
                 f"(events {health.events_ingested:,}, quarantined "
                 f"{health.quarantined:,}). Duration {health.duration_s:.1f} s.")
    lines += ["", "### Warnings", "", *warning_lines(health)]
    drift = drift_lines(health)
    if drift:
        lines += ["", *drift]
    if health.harm_hit_rate:
        table = pd.DataFrame(health.harm_hit_rate)
        wide = table.pivot_table(index="model", columns="coverage", values="value",
                                 sort=False)
        wide.columns = [f"{c:.0%}" for c in wide.columns]
        wide = wide.map(lambda v: f"{v:.3f}").reset_index()
        lines += ["", "### Harm-weighted hit rate (share of next month's harm in the top "
                  "cells), mean over the backtest months", ""] + frame_table(wide)
    top = cells.sort_values("harm_rank").head(top_n)
    frame = pd.DataFrame({
        "harm rank": top["harm_rank"], "count rank": top["count_rank"], "cell": top["cell_id"],
        "expected crimes": top["expected"].map(lambda v: f"{v:.2f}"),
        "harm per crime (days)": top["harm_per_crime"].map(lambda v: f"{v:.1f}"),
        "expected harm (days)": top["expected_harm_days"].map(lambda v: f"{v:.1f}"),
        "per km²": top["expected_harm_per_km2"].map(lambda v: f"{v:,.0f}")})
    lines += ["", f"### Expected harm: top {len(top)} cells", "",
              "Expected harm = expected count × the cell's harm per crime over the last "
              "months (shrunk towards the area's ratio); cells are ranked by expected harm "
              "per km², as the count ranking is by density.", ""] + frame_table(frame)
    if not wards.empty:
        head = wards.head(top_n)
        frame = pd.DataFrame({
            "rank": head["rank"], "place": head["name"], "crimes": head["n_crimes"],
            "harm (days)": head["harm_days"].map(lambda v: f"{v:,.0f}"),
            "share": head["harm_share"].map(lambda v: f"{v:.1%}")})
        lines += ["", f"### Harm by place, {head['first_month'].iloc[0]}.."
                  f"{head['last_month'].iloc[0]}", ""] + frame_table(frame)
    lines += ["", f"> {'APPROXIMATION: ' if weights.approximate else ''}harm weights from "
              f"{escape_text(Path(weights.source).name)}. "
              + ("No official mapping from police.uk categories to the Cambridge Crime Harm "
                 "Index exists; these weights are rough and for ranking only."
                 if weights.approximate else "User-supplied weights table."), ""]
    return "\n".join(lines)
