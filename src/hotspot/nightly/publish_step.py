"""Rebuild the cube, backtest the recent months, and publish a dated run folder."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.area import load_area
from hotspot.core.atomic import write_text_atomic
from hotspot.core.periods import period_label
from hotspot.cube_guard import store_fingerprint
from hotspot.evaluation.backtest import BacktestResult
from hotspot.features.cube import cube_periods
from hotspot.features.harm import (
    APPROXIMATION_NOTE,
    cell_harm,
    load_harm_weights,
    ward_harm_ranking,
)
from hotspot.ingest.store import read_events
from hotspot.nightly.detect import Logger, Plan
from hotspot.nightly.health import drift_check, harm_hit_rates, volume_anomalies, volume_warnings
from hotspot.nightly.ingest_step import IngestSummary, area_of
from hotspot.nightly.records import BacktestRecord, Health, HealthWarning, previous_beating
from hotspot.nightly.report import report_section
from hotspot.nightly.runs import code_version, next_run_name, prune_runs, read_latest, update_latest
from hotspot.nightly.state import params_fingerprint, read_state, utc_now, write_state
from hotspot.nightly.summary import SUMMARY_MD, summary_markdown
from hotspot.pipeline import (
    ModelRecord,
    cube_from_store,
    forecast_record,
    publish_store_forecast,
    save_store_cube,
)
from hotspot.publish.cells import ALL_LABEL
from hotspot.publish.report import render_report_html
from hotspot.publish.track_record import backtest_section
from hotspot.settings import Settings
from hotspot.targeting import SELECTION_FILE, harm_view, target_cube, write_selection

log = logging.getLogger(__name__)

RUN_JSON = "run.json"
HEALTH_JSON = "health.json"
HARM_CELLS = "harm_cells.csv"
HARM_WARDS = "harm_wards.csv"


def rebuild_cube(settings: Settings) -> xr.Dataset:
    """The cube rebuilt from the whole store (only the new months were ingested), given the
    settings' target when one is set, saved as ``STORE/cube.zarr``; checks the harm weights
    cover its categories."""
    cube = cube_from_store(settings.store, settings.cell_size_m, "M", area_of(settings))
    load_harm_weights(settings.nightly.harm.weights).check(cube["category"].values)
    if settings.target_set:
        cube = target_cube(cube, settings.targets[0], settings)
    save_store_cube(cube, settings.store)
    return cube


def backtest_recent(settings: Settings, cube: xr.Dataset) -> ModelRecord:
    """The model (with ``auto``: every candidate) and the baselines over the newest
    ``backtest.periods`` held-out months, and the model to publish."""
    return forecast_record(settings.store, cube, settings, model_params=settings.model_params)


def _boundaries(settings: Settings) -> gpd.GeoDataFrame:
    harm = settings.nightly.harm
    if harm.boundaries:
        return load_area(harm.boundaries, harm.boundaries_filter).parts
    return area_of(settings).parts


def _previous_beating(runs_dir: Path) -> dict[str, bool]:
    """Metric → whether the model beat the best baseline in the latest published run."""
    name = read_latest(runs_dir)
    path = runs_dir / name / HEALTH_JSON if name else None
    return previous_beating(json.loads(path.read_text())
                            if path is not None and path.exists() else None)


def _backtest_summary(record: BacktestResult, coverage: float) -> list[dict[str, Any]]:
    """The summary rows health.json keeps: PAI, hit rate, PEI at ``coverage``, deviance."""
    summary = record.summary_table
    keep = summary["metric"].isin(["pai", "hit_rate", "pei"]) & np.isclose(
        summary["coverage"].astype(float).fillna(-1), coverage)
    keep |= summary["metric"] == "poisson_deviance"
    return json.loads(summary[keep].to_json(orient="records"))


def _health(settings: Settings, cube: xr.Dataset, record: BacktestResult, model: str,
            plan: Plan, ingest: IngestSummary, weights: Any, run_name: str, started: float,
            runs_dir: Path) -> Health:
    """The run's health record (``health.json``) of the published ``model``, its warnings
    logged by the caller."""
    health_cfg = settings.nightly.health
    labels = [period_label(p) for p in cube_periods(cube)]
    drift = drift_check(record, model, coverage=health_cfg.drift_coverage,
                        n_bootstrap=settings.backtest.n_bootstrap,
                        seed=settings.backtest.seed, previous=_previous_beating(runs_dir))
    totals = pd.Series(cube["counts"].values.sum(axis=1), index=labels)
    published = (read_state(settings.store).get("published") or {}).get("months") or []
    new_months = sorted((set(ingest.months) | (set(labels) - set(published))) & set(labels))
    volume = volume_anomalies(totals, new_months, history=health_cfg.anomaly_history,
                              min_history=health_cfg.anomaly_min_history,
                              band=health_cfg.anomaly_band, robust_z=health_cfg.robust_z)
    warnings = ([HealthWarning(kind="source_unavailable", message=p) for p in plan.problems]
                + list(drift.warnings) + volume_warnings(volume, health_cfg.robust_z))
    return Health(
        run=run_name, warnings=tuple(warnings),
        duration_s=round(time.monotonic() - started, 2),
        rows_ingested=int(ingest.n_rows), events_ingested=int(ingest.n_events),
        quarantined=int(ingest.n_quarantined), quarantined_by_reason=dict(ingest.by_reason),
        backtest=BacktestRecord(
            model=model, first_target=record.settings["first_target"],
            last_target=record.settings["last_target"],
            n_targets=int(record.settings["n_targets"]),
            summary=_backtest_summary(record, health_cfg.drift_coverage)),
        drift=drift,
        harm_hit_rate=json.loads(harm_hit_rates(record, harm_view(cube), weights).to_json(
            orient="records")),
        volume=tuple(volume), new_months=tuple(new_months))


def publish_run(
    settings: Settings,
    cube: xr.Dataset,
    chosen: ModelRecord,
    *,
    plan: Plan,
    downloads: list[dict[str, Any]],
    ingest: IngestSummary,
    started: float,
    started_at: str,
    today: dt.date | None = None,
    flow_run_id: str | None = None,
    logger: Logger | None = None,
) -> dict[str, Any]:
    """Fit on everything, publish ``chosen.model`` into a new dated run folder (with
    ``auto``, ``selection.json`` beside it), move ``latest``, prune."""
    logger = logger or log
    harm_cfg, model, record = settings.nightly.harm, chosen.model, chosen.record
    runs_dir = Path(settings.nightly.outputs.runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    tmp = runs_dir / f".run-{uuid.uuid4().hex[:8]}.tmp"
    periods = cube_periods(cube)
    labels = [period_label(p) for p in periods]
    try:
        record.save(tmp / "backtest")
        published = publish_store_forecast(
            settings.store, cube, model, tmp, record=record,
            params=settings.model_params.get(model), top_share=settings.forecast.top_share,
            replace=False,  # tmp is the staged run folder, renamed whole below
            selection=chosen.selection, boxes=settings.backtest.boxes)
        if chosen.selection is not None:
            write_selection(chosen.selection, tmp)
        weights = load_harm_weights(harm_cfg.weights)
        cells = cell_harm(harm_view(cube), published.forecast.values[0], weights,
                          window=harm_cfg.window)
        write_text_atomic(tmp / HARM_CELLS, cells.to_csv(index=False))
        wards = ward_harm_ranking(read_events(settings.store), cube.attrs["crs"],
                                  _boundaries(settings), weights,
                                  name_column=harm_cfg.name_column, months=harm_cfg.months)
        write_text_atomic(tmp / HARM_WARDS, wards.to_csv(index=False))
        run_name = next_run_name(runs_dir, today or dt.date.today())
        health = _health(settings, cube, record, model, plan, ingest, weights, run_name,
                         started, runs_dir)
        new_months = list(health.new_months)
        for message in health.messages:
            logger.warning("nightly health: %s", message)
        fingerprint = store_fingerprint(settings.store)
        data = {
            "first_month": labels[0], "last_month": labels[-1], "n_months": len(labels),
            "new_months": new_months, "target_period": published.target_period,
            "drop_files": [{"path": str(item.path), "sha256": item.sha256,
                            "months": list(item.months)} for item in plan.drop_due],
            "api_months": list(downloads),
            "event_files_sha256": fingerprint["files"],
            "store_sha256": fingerprint["sha256"],
            "ingest_report": ingest.report,
        }
        report_md = (tmp / "report.md").read_text() + report_section(
            run_name, health, data, cells, wards, weights, harm_cfg.top_n)
        write_text_atomic(tmp / "report.md", report_md)
        # report.html says what report.md says, the nightly section included
        write_text_atomic(tmp / "report.html", render_report_html(
            report_md, cube, backtest=record, images={"map.png": (tmp / "map.png").read_bytes()}))
        target_title = str(cube.attrs.get("target_label") or ALL_LABEL)
        write_text_atomic(tmp / SUMMARY_MD, summary_markdown(
            run_name, health, data, model=model, target_title=target_title,
            backtest_lines=backtest_section(record, model, target=published.target,
                                            target_title=target_title,
                                            boxes=settings.backtest.boxes)))
        write_text_atomic(tmp / HEALTH_JSON,
                          json.dumps(health.to_dict(), indent=1, default=str) + "\n")
        run = {
            "run": run_name, "status": health.status, "started_at": started_at,
            "finished_at": utc_now(), "duration_s": health.duration_s,
            "parameters": settings.public(), "data": data, "ingest": ingest.to_dict(),
            "forecast": {"model": model, "target": published.target,
                         "target_label": cube.attrs.get("target_label", published.target),
                         "target_period": data["target_period"],
                         "files": sorted([p.name for p in published.outputs.values()]
                                         + [HARM_CELLS, HARM_WARDS, HEALTH_JSON, RUN_JSON,
                                            SUMMARY_MD]
                                         + ([SELECTION_FILE] if chosen.selection else []))},
            "selection": chosen.selection.to_dict() if chosen.selection else None,
            "harm_weights": {**weights.to_dict(), "note": APPROXIMATION_NOTE
                             if weights.approximate else ""},
            "health": health.to_dict(),
            "code": code_version(),
            "prefect": {"flow_run_id": flow_run_id},
        }
        write_text_atomic(tmp / RUN_JSON, json.dumps(run, indent=1, default=str) + "\n")
        os.rename(tmp, runs_dir / run_name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    update_latest(runs_dir, run_name)
    pruned = prune_runs(runs_dir, settings.nightly.outputs.keep)
    state = read_state(settings.store)
    state["published"] = {"data": fingerprint["sha256"], "params": params_fingerprint(settings),
                          "run": run_name, "at": utc_now(), "months": labels}
    write_state(settings.store, state)
    logger.info("published run %s (forecast for %s, %s)%s", run_name, data["target_period"],
                health.status, f"; pruned {', '.join(pruned)}" if pruned else "")
    return {"status": "published", "run": run_name, "run_dir": str(runs_dir / run_name),
            "target_period": data["target_period"], "new_months": new_months,
            "health": health.status, "warnings": health.messages,
            "pruned": pruned, "message": f"published {run_name}: forecast for "
                                         f"{data['target_period']}"}
