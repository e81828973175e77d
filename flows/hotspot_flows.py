"""The flows: ingest, build cube, backtest, forecast, and the whole pipeline in order.

Each flow builds the settings once (``config``, ``HOTSPOT_*``, then its own arguments)
and calls one library function; ``pipeline_flow`` runs ``run_pipeline``'s steps as tasks.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow

from hotspot.flows.steps import task_step
from hotspot.pipeline import (
    build_store_cube,
    ingest_paths,
    open_store_cube,
    run_backtest,
    run_forecast,
    run_pipeline,
)
from hotspot.settings import load_settings
from hotspot.targeting import cube_targets


@flow(name="ingest")
def ingest_flow(paths: list[Path], store: Path, area: Path | None = None,
                area_filter: str | None = None, config: Path | None = None) -> dict:
    settings = load_settings(config, store=store, area=area, area_filter=area_filter)
    report = ingest_paths(paths, settings)
    return {"n_rows": report.n_rows, "n_events": report.n_events,
            "n_quarantined": report.n_quarantined}


@flow(name="build-cube")
def cube_flow(store: Path, cell_size_m: float | None = None, freq: str | None = None,
              config: Path | None = None, target: str | None = None) -> Path:
    return build_store_cube(load_settings(config, store=store, cell_size_m=cell_size_m,
                                          freq=freq, target=target))


@flow(name="backtest")
def backtest_flow(store: Path, models: list[str], first_target: str, last_target: str,
                  out: Path, config: Path | None = None, target: str | None = None,
                  boxes: int | None = None, offsets: int | None = None) -> dict[str, Path]:
    """One backtest per target of ``target`` (comma list; default the settings', else the
    cube's own), joined in one metrics table."""
    settings = load_settings(config, store=store, out=out, target=target,
                             backtest={"boxes": boxes, "offsets": offsets})
    cube = open_store_cube(settings.store)
    result = run_backtest(settings.store, models, first_target, last_target,
                          settings=settings, cube=cube, model_params=settings.model_params,
                          targets=cube_targets(cube, settings))
    return result.save(settings.out)


@flow(name="forecast")
def forecast_flow(store: Path, model: str | None, out: Path,
                  backtest_periods: int | None = None, config: Path | None = None,
                  target: str | None = None) -> dict[str, Path]:
    """Publish next period's forecast; ``model`` None means the settings' (``auto``: the
    best candidate on the recent backtest)."""
    settings = load_settings(config, store=store, out=out, model=model,
                             backtest_periods=backtest_periods, target=target)
    return run_forecast(settings).outputs


@flow(name="hotspot-pipeline")
def pipeline_flow(
    paths: list[Path],
    store: Path,
    out: Path,
    area: Path | None = None,
    area_filter: str | None = None,
    cell_size_m: float | None = None,
    model: str | None = None,
    backtest_periods: int | None = None,
    config: Path | None = None,
    target: str | None = None,
) -> dict[str, Path]:
    """Ingest → cube → forecast (with its recent backtest record in the report)."""
    settings = load_settings(config, store=store, out=out, area=area, area_filter=area_filter,
                             cell_size_m=cell_size_m, model=model,
                             backtest_periods=backtest_periods, target=target)
    return run_pipeline(paths, settings, step=task_step()).outputs
