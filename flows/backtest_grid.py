"""Backtest and forecast grids fanned out over Dask with ``prefect_dask.DaskTaskRunner``.

Prefect and Dask wiring only: the grid itself (cubes, units, batches, assembly) is
:mod:`hotspot.grid_backtest`. One task builds each cube, one task scores each batch of
units, one task writes each forecast.

Where the tasks run:

- default: a ``distributed.LocalCluster`` with ``n_workers`` single-threaded workers. Process
  workers need a real Prefect API (``PREFECT_API_URL``, e.g. ``prefect server start``):
  without one each worker process would start its own temporary server (slow and
  flaky), so ``processes=None`` picks processes only when ``PREFECT_API_URL`` is set and
  threads otherwise;
- ``dask_address="tcp://host:8786"``: an existing Dask scheduler (its workers must see
  the same files: ``OUT`` and the store on a shared file system).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from hotspot import grid_backtest as grid
from hotspot.settings import BacktestSettings, Settings, load_settings

build_cube_task = task(grid.build_grid_cube, name="build-grid-cube", cache_policy=NO_CACHE)
# a Prefect task costs ~0.1-0.3 s of bookkeeping, more than a light unit: batches of units
score_batch_task = task(grid.score_batch, name="score-units", cache_policy=NO_CACHE)
forecast_unit_task = task(grid.forecast_unit, name="forecast-unit", cache_policy=NO_CACHE)


def use_processes(processes: bool | None) -> bool:
    """Process workers if asked, else only when a real Prefect API is configured."""
    if processes is not None:
        return processes
    return bool(os.environ.get("PREFECT_API_URL"))


def dask_task_runner(
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool | None = None,
    threads_per_worker: int = 1,
) -> DaskTaskRunner:
    """A ``DaskTaskRunner`` on ``dask_address``, else on a new ``LocalCluster``."""
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    return DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={
            "n_workers": int(n_workers),
            "threads_per_worker": int(threads_per_worker),
            "processes": use_processes(processes),
            "dashboard_address": ":0",  # None still binds :8787
        },
    )


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
) -> dict[str, str]:
    """Backtest every (cell size, model, parameter set, target) on the task runner's Dask
    cluster with ``backtest``'s coverages, bootstrap and seed (default: the settings');
    writes ``metrics.csv``, ``summary.csv``, ``fit_times.csv`` and ``settings.json`` into
    ``out`` and returns their paths."""
    plan = grid.plan_backtest_grid(
        Path(store), models, first_target, last_target, Path(out),
        backtest=backtest or load_settings().backtest, cell_sizes=cell_sizes or [150.0],
        param_grid=param_grid, freq=freq, cube_path=cube_path, resume=resume,
        units_per_task=units_per_task, build=build_cube_task)
    futures = [score_batch_task.submit(plan, batch, out) for batch in plan.batches]
    return grid.finish_backtest_grid(plan, [r for f in futures for r in f.result()], Path(out))


@flow(name="forecast-grid")
def forecast_grid_flow(
    store: str,
    models: list[str],
    out: str,
    cell_sizes: list[float] | None = None,
    param_grid: dict[str, list[dict[str, Any]]] | None = None,
    freq: str = "M",
) -> list[str]:
    """Fit every (cell size, model, parameter set) on all periods and write next period's
    forecast to ``OUT/forecasts/<cube>/<model>[<params>].parquet``; returns the paths."""
    cubes = grid.grid_cubes(Path(store), cell_sizes or [150.0], freq, Path(out),
                            build=build_cube_task)
    events_store = grid.events_store_for(Path(store), models)
    futures = [forecast_unit_task.submit(*job, events_store)
               for job in grid.forecast_jobs(cubes, models, Path(out), param_grid)]
    return [f.result() for f in futures]


def run_backtest_grid(
    *,
    settings: Settings | None = None,
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool | None = None,
    **flow_kwargs: Any,
) -> dict[str, str]:
    """Run :func:`backtest_grid_flow` on a Dask runner chosen from the arguments, with the
    backtest settings of ``settings``."""
    runner = dask_task_runner(dask_address, n_workers, processes)
    backtest = (settings or load_settings()).backtest
    return backtest_grid_flow.with_options(task_runner=runner)(backtest=backtest,
                                                               **flow_kwargs)


def run_forecast_grid(
    *,
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool | None = None,
    **flow_kwargs: Any,
) -> list[str]:
    """Run :func:`forecast_grid_flow` on a Dask runner chosen from the arguments."""
    runner = dask_task_runner(dask_address, n_workers, processes)
    return forecast_grid_flow.with_options(task_runner=runner)(**flow_kwargs)
