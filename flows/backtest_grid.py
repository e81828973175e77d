"""Backtest and forecast grids as Prefect flows, fanned out over Dask.

Prefect wiring only: the grid itself (cubes, units, batches, the Dask cluster, assembly)
is :mod:`hotspot.grid_backtest`. Each cube build is a Prefect task in the flow's process;
the units are scored by plain functions on the Dask workers, not by Prefect tasks. A
Prefect task on a worker process needs a Prefect API: without ``PREFECT_API_URL`` every
worker started its own temporary server (~10 s each, 57 s for a grid of 24 light units
that runs in ~5 s serially), and the servers outlived the cluster when it killed its
workers. The flow run itself talks to one API: the server named by ``PREFECT_API_URL``, or
one temporary server that Prefect stops when the process exits.

Where the units run:

- default: a ``distributed.LocalCluster`` of ``n_workers`` single-threaded workers, threads
  unless ``processes`` (closed, worker processes included, before the flow returns);
- ``dask_address="tcp://host:8786"``: an existing Dask scheduler (its workers must see
  the same files: ``OUT`` and the store on a shared file system).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from hotspot import grid_backtest as grid
from hotspot.settings import Settings, load_settings
from hotspot.settings_sections import BacktestSettings

build_cube_task = task(grid.build_grid_cube, name="build-grid-cube", cache_policy=NO_CACHE)


@flow(name="backtest-grid")
def backtest_grid_flow(
    store: str,
    models: list[str],
    first_target: str,
    last_target: str,
    out: str,
    cell_sizes: list[float] | None = None,
    param_grid: dict[str, list[dict[str, Any]]] | None = None,
    freq: str = "M",
    backtest: BacktestSettings | None = None,
    cube_path: str | None = None,
    resume: bool = True,
    units_per_task: int = 4,
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool = False,
) -> dict[str, str]:
    """Backtest every (cell size, model, parameter set, target) on a Dask cluster with
    ``backtest``'s coverages, bootstrap and seed (default: the settings'); writes
    ``metrics.csv``, ``summary.csv``, ``fit_times.csv`` and ``settings.json`` into ``out``
    and returns their paths."""
    return grid.run_backtest_grid(
        Path(store), models, first_target, last_target, Path(out),
        backtest=backtest or load_settings().backtest, dask_address=dask_address,
        n_workers=n_workers, processes=processes, build=build_cube_task,
        cell_sizes=cell_sizes or [150.0], param_grid=param_grid, freq=freq,
        cube_path=cube_path, resume=resume, units_per_task=units_per_task)


@flow(name="forecast-grid")
def forecast_grid_flow(
    store: str,
    models: list[str],
    out: str,
    cell_sizes: list[float] | None = None,
    param_grid: dict[str, list[dict[str, Any]]] | None = None,
    freq: str = "M",
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool = False,
) -> list[str]:
    """Fit every (cell size, model, parameter set) on all periods and write next period's
    forecast to ``OUT/forecasts/<cube>/<model>[<params>].parquet``; returns the paths."""
    return grid.run_forecast_grid(
        Path(store), models, Path(out), cell_sizes=cell_sizes or [150.0],
        param_grid=param_grid, freq=freq, dask_address=dask_address, n_workers=n_workers,
        processes=processes, build=build_cube_task)


def run_backtest_grid(*, settings: Settings | None = None, **flow_kwargs: Any
                      ) -> dict[str, str]:
    """Run :func:`backtest_grid_flow` with the backtest settings of ``settings``."""
    backtest = (settings or load_settings()).backtest
    return backtest_grid_flow(backtest=backtest, **flow_kwargs)


def run_forecast_grid(**flow_kwargs: Any) -> list[str]:
    """Run :func:`forecast_grid_flow` (keyword arguments as the flow's)."""
    return forecast_grid_flow(**flow_kwargs)
