"""The flows: ingest, build cube, backtest, forecast, and the whole pipeline in order."""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from hotspot.flows.steps import backtest_task, cube_task, forecast_task, ingest_task


@flow(name="ingest")
def ingest_flow(
    paths: list[Path], store: Path, area: Path | None = None, area_filter: str | None = None
) -> dict:
    return ingest_task(paths, store, area, area_filter)


@flow(name="build-cube")
def cube_flow(store: Path, cell_size_m: float = 150.0, freq: str = "M") -> Path:
    return cube_task(store, cell_size_m, freq)


@flow(name="backtest")
def backtest_flow(
    store: Path, models: list[str], first_target: str, last_target: str, out: Path, seed: int = 0
) -> dict[str, Path]:
    return backtest_task(store, models, first_target, last_target, out, seed)


@flow(name="forecast")
def forecast_flow(
    store: Path, model: str, out: Path, backtest_periods: int = 6, seed: int = 0
) -> dict[str, Path]:
    return forecast_task(store, model, out, backtest_periods, seed)


@flow(name="hotspot-pipeline")
def pipeline_flow(
    paths: list[Path],
    store: Path,
    out: Path,
    area: Path | None = None,
    area_filter: str | None = None,
    cell_size_m: float = 150.0,
    model: str = "naive-mean",
    backtest_periods: int = 6,
    seed: int = 0,
) -> dict[str, Path]:
    """Ingest → cube → forecast (with its recent backtest record in the report)."""
    ingest_task(paths, store, area, area_filter)
    cube_task(store, cell_size_m, "M")
    return forecast_task(store, model, out, backtest_periods, seed)
