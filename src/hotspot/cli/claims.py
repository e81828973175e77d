"""``hotspot evaluate-claim``: check a claimed change in crime against the public data.

Registered in :mod:`hotspot.cli` with ``app.command("evaluate-claim")(evaluate_claim_command)``.

Dates follow the project's grammar (``--from``/``--to``); ``--start``/``--end`` still work
as hidden aliases (``cli.common.hidden_alias``/``pick_alias``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from hotspot.cli.common import (
    ConfigOpt,
    EndAliasOpt,
    StartAliasOpt,
    StoreOpt,
    console,
    date_option,
    handle_errors,
    pick_alias,
)
from hotspot.core.errors import ConfigError
from hotspot.settings import load_settings


@handle_errors
def evaluate_claim_command(
    store: StoreOpt,
    area: Annotated[Path, typer.Option(
        "--area", help="Boundary file of the treated area (shapefile, .zip, .gpkg, .geojson); "
                       "its other polygons are the default controls.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the report (replaced whole).")],
    date_from: date_option(
        "--from", "First month of the claimed period, YYYY-MM; or a rollout CSV "
                  "unit,start[,end] (units named as the area file's polygons) for a "
                  "staggered rollout. Required.") = None,
    date_to: date_option(
        "--to", "Last month of the claimed period, YYYY-MM (inclusive); with a rollout CSV "
                "the last treated month of units without an end (default: the store's "
                "last month).") = None,
    start: StartAliasOpt = None,
    end: EndAliasOpt = None,
    area_filter: Annotated[str | None, typer.Option(
        "--area-filter", help="Keep features where COLUMN=VALUE (COLUMN=A|B|C for several); "
                              "all matches are unioned.")] = None,
    category: Annotated[str | None, typer.Option(
        "--category", help="Only this crime category (default: all).")] = None,
    claimed: Annotated[str | None, typer.Option(
        "--claimed", help="The claimed change, e.g. -12% for a 12 % drop.")] = None,
    controls: Annotated[str | None, typer.Option(
        "--controls", help="'auto' (the area file's other polygons, grid blocks if none), "
                           "'grid' (blocks of the treated area's size) or a boundary file "
                           "whose polygons are candidate controls \\[default: "
                           "claims.controls, 'auto']")] = None,
    controls_filter: Annotated[str | None, typer.Option(
        "--controls-filter", help="Keep control polygons where COLUMN=VALUE.")] = None,
    controls_store: Annotated[Path | None, typer.Option(
        "--controls-store", help="Count the controls' events in this second store (a "
                                 "neighbouring force): same months and time resolution.")] = None,
    buffer: Annotated[float | None, typer.Option(
        "--buffer", help="Ring (metres) around the treated area: displacement is measured "
                         "in it and controls may not overlap it \\[default: claims.buffer_m, "
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
    verdict.md, controls.csv and report.md/.html with plots to --out. With --from
    rollout.csv, a staggered rollout: cohort, overall and event-study effects (stacked DiD)."""
    from hotspot.evaluation.claims.rollout import looks_like_rollout

    first = pick_alias(date_from, start, "--from", "--start", required="the first month "
                       "of the claimed period (YYYY-MM) or a rollout CSV unit,start[,end]")
    last = pick_alias(date_to, end, "--to", "--end")
    settings = load_settings(config, store=store, claims={
        "controls": controls, "controls_filter": controls_filter,
        "controls_store": controls_store, "buffer_m": buffer, "n_controls": n_controls,
        "min_unit_events": min_unit_mean})
    claims = settings.claims
    common: dict[str, Any] = {
        "area_filter": area_filter, "category": category,
        "controls": claims.controls if claims.controls in ("auto", "grid")
        else Path(claims.controls),
        "controls_filter": claims.controls_filter, "controls_store": claims.controls_store,
        "buffer_m": claims.buffer_m, "min_unit_mean": claims.min_unit_events,
        "min_coverage": claims.min_coverage}
    if looks_like_rollout(first):
        _staggered(settings.store, area, Path(first), last, out, claims, common)
        return
    if last is None:
        raise ConfigError("missing option --to: give the last month of the claimed period "
                          "(YYYY-MM)")
    from hotspot.evaluation.claims import evaluate_claim

    result = evaluate_claim(settings.store, area, first, last, claimed=claimed,
                            n_controls=claims.n_controls, **common)
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
    console.print(f"controls: {result.series.selection_note}", highlight=False)
    for key in ("estimates", "verdict", "controls", "report_md", "report_html"):
        console.print(f"  {key:<12} {paths[key]}", highlight=False)


def _staggered(store: Path, area: Path, rollout: Path, last: str | None, out: Path,
               claims: Any, common: dict[str, Any]) -> None:
    from hotspot.evaluation.claims.staggered import evaluate_staggered

    result = evaluate_staggered(store, area, rollout, last, n_placebo=claims.n_placebo,
                                seed=claims.seed, **common)
    paths = result.save(out)
    table = Table(title=f"staggered rollout: {rollout.name} (stacked Poisson DiD)")
    for column in ("group", "units", "controls", "rate ratio", "95% CI", "p"):
        table.add_column(column)
    for row in result.to_frame().itertuples(index=False):
        table.add_row(row.group, row.units, str(row.n_controls), f"{row.estimate:.3f}",
                      f"{row.ci_low:.3f}..{row.ci_high:.3f}", f"{row.p_value:.3f}")
    console.print(table)
    for key in ("effects", "event_study", "controls", "report_md"):
        console.print(f"  {key:<12} {paths[key]}", highlight=False)
