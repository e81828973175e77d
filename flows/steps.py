"""Prefect tasks over the library steps. Each returns small, serialisable results
(paths and summaries) so runs are cheap to record."""

from __future__ import annotations

from pathlib import Path

from prefect import task

from hotspot.core.area import load_area
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.pipeline import cube_from_store, run_backtest, run_forecast, save_store_cube


@task(name="ingest-police-uk")
def ingest_task(
    paths: list[Path], store: Path, area: Path | None = None, area_filter: str | None = None
) -> dict:
    study_area = load_area(area, area_filter) if area else None
    report = ingest_police_uk(paths, store, area=study_area)
    return {"n_rows": report.n_rows, "n_events": report.n_events,
            "n_quarantined": report.n_quarantined}


@task(name="build-cube")
def cube_task(store: Path, cell_size_m: float = 150.0, freq: str = "M") -> Path:
    return save_store_cube(cube_from_store(store, cell_size_m, freq), store)


@task(name="backtest")
def backtest_task(
    store: Path, models: list[str], first_target: str, last_target: str, out: Path, seed: int = 0
) -> dict[str, Path]:
    return run_backtest(store, models, first_target, last_target, seed=seed).save(out)


@task(name="forecast")
def forecast_task(
    store: Path, model: str, out: Path, backtest_periods: int = 6, seed: int = 0
) -> dict[str, Path]:
    return run_forecast(store, model, out, backtest_periods=backtest_periods, seed=seed).outputs
