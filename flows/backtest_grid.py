"""Backtest and forecast grids fanned out over Dask with ``prefect_dask.DaskTaskRunner``.

A grid is models x parameter sets x cell sizes x origins. The flow builds one cube per
cell size (month by month, bounded memory: :func:`hotspot.pipeline.cube_from_store_chunked`)
into ``OUT/cubes/``, then submits one task per work unit; each task calls
:func:`evaluation.parallel.score_unit` (the serial backtest's own function) on the saved
cube, so the grid's numbers equal a serial backtest's. Finished units are checkpointed in
``OUT/units/``: run the same command again after a crash and only the missing units run.

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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from hotspot.evaluation import parallel
from hotspot.evaluation.metrics import DEFAULT_COVERAGES

CUBES_DIR = "cubes"
FORECASTS_DIR = "forecasts"


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


def cube_label(cell_size_m: float) -> str:
    return f"cell={cell_size_m:g}"


@task(name="build-grid-cube", cache_policy=NO_CACHE)
def build_cube_task(store: str, cell_size_m: float, freq: str, path: str) -> str:
    from hotspot.pipeline import cube_from_store_chunked

    return str(cube_from_store_chunked(Path(store), cell_size_m, freq, path=Path(path)))


@task(name="score-units", cache_policy=NO_CACHE)
def score_units_task(cube_path: str, units: list[parallel.WorkUnit], coverages: tuple[float, ...],
                     fingerprint: str, checkpoint_dir: str | None,
                     events_store: str | None) -> list[parallel.UnitResult]:
    """A batch of units on one cube (a Prefect task costs ~0.1-0.3 s of bookkeeping, more
    than a light unit: batching keeps the overhead small)."""
    return [parallel.score_unit_at(cube_path, unit, coverages, events_store=events_store,
                                   checkpoint_dir=checkpoint_dir, fingerprint=fingerprint)
            for unit in units]


@task(name="forecast-unit", cache_policy=NO_CACHE)
def forecast_unit_task(cube_path: str, model: str, params: dict, out_path: str,
                       events_store: str | None) -> str:
    import hotspot.models  # noqa: F401  (registers the models in a fresh worker)
    from hotspot.core.atomic import atomic_path
    from hotspot.models.registry import make_model

    cube = parallel.cube_at(cube_path)
    events = parallel._events_at(events_store) if events_store else None
    from hotspot.features.cube import cube_periods

    with parallel.local_compute():
        forecast = make_model(model, **params).fit(cube, cube_periods(cube)[-1],
                                                   events=events).predict(1)
    frame = forecast.to_dataframe().reset_index()
    frame["model"], frame["param_set"] = model, parallel.param_set_label(params)
    with atomic_path(out_path) as tmp:
        frame.to_parquet(tmp, index=False)
    return out_path


def _cubes(store: Path, cell_sizes: Sequence[float], freq: str, out: Path,
           cube_path: str | None) -> dict[str, str]:
    """One cube per cell size under ``OUT/cubes`` (built one after another: a build holds
    the store lock), or the one cube given."""
    if cube_path:
        if len(cell_sizes) > 1:
            from hotspot.core.errors import ConfigError

            raise ConfigError("--cube gives one cube: pass one cell size or none")
        from hotspot.features.cube_lazy import open_cube_lazy

        size = open_cube_lazy(cube_path).attrs["cell_size_m"]
        return {cube_label(size): str(cube_path)}
    paths = {}
    for size in cell_sizes:
        path = out / CUBES_DIR / f"{cube_label(size)}.zarr"
        paths[cube_label(size)] = build_cube_task(str(store), float(size), freq, str(path))
    return paths


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
    coverages: list[float] | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    cube_path: str | None = None,
    resume: bool = True,
    units_per_task: int = 4,
) -> dict[str, str]:
    """Backtest every (cell size, model, parameter set, target) on the task runner's Dask
    cluster; writes ``metrics.csv``, ``summary.csv``, ``fit_times.csv`` and
    ``settings.json`` into ``out`` and returns their paths."""
    import hotspot.models as registry  # noqa: F401
    from hotspot.features.cube_lazy import open_cube_lazy
    from hotspot.ingest.store import read_store_meta
    from hotspot.models.registry import make_model

    store_path, out_path = Path(store), Path(out)
    read_store_meta(store_path)
    cell_sizes = list(cell_sizes or [150.0])
    coverages_t = tuple(coverages or DEFAULT_COVERAGES)
    cubes = _cubes(store_path, cell_sizes, freq, out_path, cube_path)
    opened = {name: open_cube_lazy(path) for name, path in cubes.items()}
    fingerprints = {name: parallel.cube_fingerprint(c) for name, c in opened.items()}
    units = parallel.grid_units(opened, models, first_target, last_target,
                                next(iter(opened.values())).attrs["freq"], param_grid)
    _check_targets(opened, first_target, last_target)
    events_store = str(store_path) if any(make_model(m).needs_events for m in models) else None
    if not resume:  # start afresh: drop an earlier run's finished units
        import shutil

        shutil.rmtree(out_path / parallel.UNITS_DIR, ignore_errors=True)
    checkpoints = str(out_path)
    batches = [units[i:i + max(1, units_per_task)]
               for i in range(0, len(units), max(1, units_per_task))]
    batches = [b for batch in batches for b in _split_by_cube(batch)]
    futures = [
        score_units_task.submit(cubes[batch[0].cube], batch, coverages_t,
                                fingerprints[batch[0].cube], checkpoints, events_store)
        for batch in batches
    ]
    # unit order, whatever order the workers finished in
    results = [result for f in futures for result in f.result()]
    grid = parallel.assemble_grid(results, n_bootstrap=n_bootstrap, seed=seed, settings={
        "store": str(store_path), "models": list(models), "cubes": cubes,
        "param_grid": param_grid or {}, "first_target": first_target,
        "last_target": last_target, "n_units": len(units), "coverages": list(coverages_t),
        "n_bootstrap": n_bootstrap, "seed": seed, "freq": freq,
    })
    return {key: str(path) for key, path in grid.save(out_path).items()}


def _split_by_cube(batch: list[parallel.WorkUnit]) -> list[list[parallel.WorkUnit]]:
    out: list[list[parallel.WorkUnit]] = []
    for unit in batch:
        if out and out[-1][0].cube == unit.cube:
            out[-1].append(unit)
        else:
            out.append([unit])
    return out


def _check_targets(cubes: Mapping[str, Any], first: str, last: str) -> None:
    from hotspot.core.errors import DataError
    from hotspot.core.periods import period_label, to_period
    from hotspot.features.cube import cube_periods

    for name, cube in cubes.items():
        periods = cube_periods(cube)
        lo, hi = to_period(first, cube.attrs["freq"]), to_period(last, cube.attrs["freq"])
        if lo <= periods[0] or hi > periods[-1]:
            raise DataError(
                f"targets {first}..{last} need history before them and must lie within cube "
                f"{name} ({period_label(periods[0])}..{period_label(periods[-1])})"
            )


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
    import hotspot.models as registry  # noqa: F401
    from hotspot.models.registry import make_model

    store_path, out_path = Path(store), Path(out)
    cubes = _cubes(store_path, list(cell_sizes or [150.0]), freq, out_path, None)
    events_store = str(store_path) if any(make_model(m).needs_events for m in models) else None
    futures = []
    for name, path in cubes.items():
        for model in models:
            for params in (param_grid or {}).get(model) or [{}]:
                label = parallel.param_set_label(params)
                target = out_path / FORECASTS_DIR / name / (
                    f"{model}[{label}].parquet" if label else f"{model}.parquet")
                futures.append(forecast_unit_task.submit(path, model, params, str(target),
                                                         events_store))
    return [f.result() for f in futures]


def run_backtest_grid(
    *,
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool | None = None,
    **flow_kwargs: Any,
) -> dict[str, str]:
    """Run :func:`backtest_grid_flow` on a Dask runner chosen from the arguments."""
    runner = dask_task_runner(dask_address, n_workers, processes)
    return backtest_grid_flow.with_options(task_runner=runner)(**flow_kwargs)


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
