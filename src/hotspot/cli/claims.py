"""``hotspot evaluate-claim``: check a claimed change in crime against the public data.

Registered in :mod:`hotspot.cli` with ``app.command("evaluate-claim")(evaluate_claim_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from hotspot.cli.common import ConfigOpt, StoreOpt, console, handle_errors
from hotspot.settings import load_settings


@handle_errors
def evaluate_claim_command(
    store: StoreOpt,
    area: Annotated[Path, typer.Option(
        "--area", help="Boundary file of the treated area (shapefile, .zip, .gpkg, .geojson).")],
    start: Annotated[str, typer.Option("--start", help="First month of the claimed period, "
                                                       "YYYY-MM.")],
    end: Annotated[str, typer.Option("--end", help="Last month of the claimed period, YYYY-MM "
                                                   "(inclusive).")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the report (replaced whole).")],
    area_filter: Annotated[str | None, typer.Option(
        "--area-filter", help="Keep features where COLUMN=VALUE; all matches are unioned.")] = None,
    category: Annotated[str | None, typer.Option(
        "--category", help="Only this crime category (default: all).")] = None,
    claimed: Annotated[str | None, typer.Option(
        "--claimed", help="The claimed change, e.g. -12% for a 12 % drop.")] = None,
    controls: Annotated[str | None, typer.Option(
        "--controls", help="'auto' (blocks of the treated area's size from the same store) "
                           "or a boundary file whose polygons are candidate controls "
                           "\\[default: claims.controls, 'auto']")] = None,
    buffer: Annotated[float | None, typer.Option(
        "--buffer", help="Ring (metres) around the treated area: displacement is measured "
                         "in it and controls may not touch it \\[default: claims.buffer_m, "
                         "500]")] = None,
    n_controls: Annotated[int | None, typer.Option(
        "--n-controls", help="Keep this many controls closest in pre-period level and "
                             "trend \\[default: claims.n_controls, 20]")] = None,
    min_unit_mean: Annotated[float | None, typer.Option(
        "--min-unit-events", help="Controls need at least this many events a month before "
                                  "the start \\[default: claims.min_unit_events, 5]")] = None,
    config: ConfigOpt = None,
) -> None:
    """Check a claim like "crime down 12 % in six months" with ITS, DiD, synthetic control,
    placebo tests, power, regression to the mean and displacement; writes estimates.csv,
    verdict.md and report.md/.html with plots to --out."""
    from hotspot.evaluation.claims import evaluate_claim

    settings = load_settings(config, store=store, claims={
        "controls": controls, "buffer_m": buffer, "n_controls": n_controls,
        "min_unit_events": min_unit_mean})
    claims = settings.claims
    result = evaluate_claim(
        settings.store, area, start, end, area_filter=area_filter, category=category,
        claimed=claimed,
        controls=claims.controls if claims.controls == "auto" else Path(claims.controls),
        buffer_m=claims.buffer_m, n_controls=claims.n_controls,
        min_unit_mean=claims.min_unit_events)
    paths = result.save(out)
    table = Table(title=f"claim: {result.claim_text()}")
    for column in ("method", "estimate", "95% CI", "p"):
        table.add_column(column)
    for row in result.to_frame().itertuples(index=False):
        ci = (f"{row.ci_low:.3f}..{row.ci_high:.3f}"
              if row.ci_low == row.ci_low and row.ci_high == row.ci_high else "")
        est = f"{row.estimate:.3f}" if row.estimate == row.estimate else "n/a"
        p = f"{row.p_value:.3f}" if row.p_value == row.p_value else ""
        table.add_row(row.method, est, ci, p)
    console.print(table)
    console.print(f"verdict: {result.verdict.category}", style="bold", highlight=False)
    console.print(result.verdict.headline, highlight=False)
    for key in ("estimates", "verdict", "report_md", "report_html"):
        console.print(f"  {key:<12} {paths[key]}", highlight=False)
