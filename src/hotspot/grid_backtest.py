"""Backtest and forecast grids: models x parameter sets x cell sizes x origins.

The library half of ``hotspot.flows.backtest_grid`` (which only adds the Prefect flows and
their cube-build tasks). :func:`plan_backtest_grid` builds one cube per cell size (month by month,
bounded memory) into ``OUT/cubes/`` and cuts the work into batches of units;
:func:`score_batch` scores one batch with the serial backtest's own function
(:func:`hotspot.evaluation.parallel.score_unit_at`), so the grid's numbers equal a serial
backtest's; :func:`finish_backtest_grid` puts the results together with the settings'
bootstrap. Finished units are checkpointed in ``OUT/units/``: running the same grid
again after a crash computes only the missing units.

:func:`run_backtest_grid` and :func:`run_forecast_grid` fan the work out over Dask
(:func:`dask_client`). Workers run plain functions (the scoring ones of
:mod:`hotspot.evaluation.parallel`, so a worker process imports only that layer), never
Prefect tasks: a Prefect task in a worker process needs a Prefect API, and without one each
worker started its own temporary server (~10 s each, left running when the cluster killed
its workers). The cluster is closed, its worker processes with it, before the run returns
or raises.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xarray as xr

from hotspot.core.atomic import atomic_path
from hotspot.core.coverages import DEFAULT_BOXES
from hotspot.core.errors import ConfigError, DataError
from hotspot.core.periods import period_label, to_period
from hotspot.evaluation import parallel
from hotspot.features.cube import cube_periods
from hotspot.features.cube_lazy import open_cube_lazy
from hotspot.ingest.store import read_store_meta
from hotspot.models.registry import make_model, model_tag
from hotspot.settings_sections import BacktestSettings
from hotspot.store_cube import cube_from_store_chunked

if TYPE_CHECKING:  # distributed is imported only when a grid runs
    from distributed import Client

CUBES_DIR = "cubes"
FORECASTS_DIR = "forecasts"

#: Builds one grid cube: ``(store, cell_size_m, freq, path) -> path`` (a task in the flow).
CubeBuilder = Callable[[str, float, str, str], str]
ParamGrid = Mapping[str, Sequence[Mapping[str, Any]]]


def cube_label(cell_size_m: float) -> str:
    return f"cell={cell_size_m:g}"


def build_grid_cube(store: str, cell_size_m: float, freq: str, path: str) -> str:
    """Build the store's cube at ``cell_size_m`` into ``path`` (bounded memory)."""
    return str(cube_from_store_chunked(Path(store), cell_size_m, freq, path=Path(path)))


def grid_cubes(store: Path, cell_sizes: Sequence[float], freq: str, out: Path,
               cube_path: str | None = None, build: CubeBuilder = build_grid_cube
               ) -> dict[str, str]:
    """One cube per cell size under ``OUT/cubes`` (built one after another: a build holds
    the store lock), or the one cube given."""
    if cube_path:
        if len(cell_sizes) > 1:
            raise ConfigError("--cube gives one cube: pass one cell size or none")
        size = open_cube_lazy(cube_path).attrs["cell_size_m"]
        return {cube_label(size): str(cube_path)}
    return {cube_label(size): build(str(store), float(size), freq,
                                    str(out / CUBES_DIR / f"{cube_label(size)}.zarr"))
            for size in cell_sizes}


def events_store_for(store: Path, models: Sequence[str]) -> str | None:
    """The store, for workers to read events from, when a model fits on events."""
    return str(store) if any(model_tag(m, "needs_events") for m in models) else None


def _check_targets(cubes: Mapping[str, xr.Dataset], first: str, last: str) -> None:
    for name, cube in cubes.items():
        periods = cube_periods(cube)
        lo, hi = to_period(first, cube.attrs["freq"]), to_period(last, cube.attrs["freq"])
        if lo <= periods[0] or hi > periods[-1]:
            raise DataError(
                f"targets {first}..{last} need history before them and must lie within cube "
                f"{name} ({period_label(periods[0])}..{period_label(periods[-1])})"
            )


def _batches(units: list[parallel.WorkUnit], size: int) -> list[list[parallel.WorkUnit]]:
    """Slices of ``size`` units, each split where the cube changes (a task opens one)."""
    size = max(1, size)
    out: list[list[parallel.WorkUnit]] = []
    for start in range(0, len(units), size):
        runs: list[list[parallel.WorkUnit]] = []
        for unit in units[start:start + size]:
            if runs and runs[-1][0].cube == unit.cube:
                runs[-1].append(unit)
            else:
                runs.append([unit])
        out += runs
    return out


@dataclass(frozen=True)
class GridPlan:
    """The cubes of a grid run and its work, cut into batches (one task each)."""

    cubes: dict[str, str]
    fingerprints: dict[str, str]
    units: list[parallel.WorkUnit]
    batches: list[list[parallel.WorkUnit]]
    events_store: str | None
    settings: dict[str, Any]


def plan_backtest_grid(
    store: Path,
    models: Sequence[str],
    first_target: str,
    last_target: str,
    out: Path,
    *,
    backtest: BacktestSettings,
    cell_sizes: Sequence[float] = (150.0,),
    param_grid: ParamGrid | None = None,
    freq: str = "M",
    cube_path: str | None = None,
    resume: bool = True,
    units_per_task: int = 4,
    build: CubeBuilder = build_grid_cube,
) -> GridPlan:
    """Build the cubes, check the targets, list the units and batch them."""
    store, out = Path(store), Path(out)
    read_store_meta(store)
    cubes = grid_cubes(store, list(cell_sizes), freq, out, cube_path, build)
    opened = {name: open_cube_lazy(path) for name, path in cubes.items()}
    units = parallel.grid_units(opened, list(models), first_target, last_target,
                                next(iter(opened.values())).attrs["freq"], param_grid)
    _check_targets(opened, first_target, last_target)
    if not resume:  # start afresh: drop an earlier run's finished units
        shutil.rmtree(out / parallel.UNITS_DIR, ignore_errors=True)
    settings = {
        "store": str(store), "models": list(models), "cubes": cubes,
        "param_grid": dict(param_grid or {}), "first_target": first_target,
        "last_target": last_target, "n_units": len(units),
        "coverages": list(backtest.coverages), "boxes": backtest.boxes,
        "n_bootstrap": backtest.n_bootstrap,
        "seed": backtest.seed, "freq": freq,
    }
    return GridPlan(cubes=cubes,
                    fingerprints={n: parallel.cube_fingerprint(c) for n, c in opened.items()},
                    units=units, batches=_batches(units, units_per_task),
                    events_store=events_store_for(store, models), settings=settings)


def score_batch(plan: GridPlan, batch: list[parallel.WorkUnit], checkpoint_dir: str
                ) -> list[parallel.UnitResult]:
    """Score a batch of units on its cube, checkpointing each under ``checkpoint_dir``."""
    cube_path, units, coverages, options = _batch_args(plan, batch, checkpoint_dir)
    return parallel.score_units_at(cube_path, units, coverages, **options)


def _batch_args(plan: GridPlan, batch: list[parallel.WorkUnit], checkpoint_dir: str
                ) -> tuple[str, list[parallel.WorkUnit], tuple[float, ...], dict[str, Any]]:
    name = batch[0].cube
    return (plan.cubes[name], batch, tuple(plan.settings["coverages"]),
            {"events_store": plan.events_store, "checkpoint_dir": checkpoint_dir,
             "fingerprint": plan.fingerprints[name],
             "boxes": plan.settings.get("boxes", DEFAULT_BOXES)})


def finish_backtest_grid(plan: GridPlan, results: Sequence[parallel.UnitResult], out: Path
                         ) -> dict[str, str]:
    """Summarise the results (in unit order) and write the grid's tables into ``out``."""
    grid = parallel.assemble_grid(results, n_bootstrap=plan.settings["n_bootstrap"],
                                  seed=plan.settings["seed"], settings=plan.settings)
    return {key: str(path) for key, path in grid.save(Path(out)).items()}


def forecast_unit(cube_path: str, model: str, params: dict[str, Any], out_path: str,
                  events_store: str | None) -> str:
    """Fit ``model`` on all of a saved cube and write next period's forecast as parquet."""
    cube = parallel.cube_at(cube_path)
    events = parallel._events_at(events_store) if events_store else None
    with parallel.local_compute():
        forecast = make_model(model, **params).fit(cube, cube_periods(cube)[-1],
                                                   events=events).predict(1)
    frame = forecast.to_dataframe().reset_index()
    frame["model"], frame["param_set"] = model, parallel.param_set_label(params)
    with atomic_path(out_path) as tmp:
        frame.to_parquet(tmp, index=False)
    return out_path


def forecast_jobs(cubes: Mapping[str, str], models: Sequence[str], out: Path,
                  param_grid: ParamGrid | None = None) -> list[tuple[str, str, dict, str]]:
    """``(cube path, model, params, output path)`` of every (cube, model, parameter set):
    ``OUT/forecasts/<cube>/<model>[<params>].parquet``."""
    jobs = []
    for name, path in cubes.items():
        for model in models:
            for params in (param_grid or {}).get(model) or [{}]:
                label = parallel.param_set_label(params)
                target = Path(out) / FORECASTS_DIR / name / (
                    f"{model}[{label}].parquet" if label else f"{model}.parquet")
                jobs.append((path, model, dict(params), str(target)))
    return jobs


# --------------------------------------------------------------------------- Dask


@contextmanager
def dask_client(address: str | None = None, n_workers: int = 2, processes: bool = False,
                threads_per_worker: int = 1) -> Iterator[Client]:
    """A ``distributed.Client`` on the scheduler at ``address``, else on a new local
    cluster of ``n_workers`` workers (threads, or processes with ``processes``) that is
    closed on exit, normal or not, so no worker process outlives the run."""
    from distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            yield client
        return
    # process workers talk over TCP: on the loopback only (threads use in-process comms)
    where = {"host": "127.0.0.1"} if processes else {}
    tracker_was_running = _resource_tracker_running()
    try:
        with LocalCluster(n_workers=int(n_workers),
                          threads_per_worker=int(threads_per_worker),
                          processes=bool(processes), **where,
                          dashboard_address="127.0.0.1:0",  # None would still bind :8787
                          silence_logs=logging.WARNING) as cluster, Client(cluster) as client:
            yield client
    finally:
        if processes and not tracker_was_running:
            _stop_resource_tracker()


def _resource_tracker_running() -> bool:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_fd", None) is not None


def _stop_resource_tracker() -> None:
    """Stop the helper process multiprocessing starts beside spawned workers. It would
    exit by itself once this process has, a moment after the command: this run started
    it, and no process may outlive the command."""
    from multiprocessing import resource_tracker

    stop = getattr(resource_tracker._resource_tracker, "_stop", None)  # private, 3.8+
    if stop is not None:
        stop()


def score_batches(plan: GridPlan, out: Path, client: Client) -> list[parallel.UnitResult]:
    """Every batch of ``plan`` scored on ``client``'s workers; results in unit order."""
    futures = []
    for batch in plan.batches:  # a plain function of the evaluation layer: light workers
        cube_path, units, coverages, options = _batch_args(plan, batch, str(out))
        futures.append(client.submit(parallel.score_units_at, cube_path, units, coverages,
                                     pure=False, **options))
    return [result for batch in client.gather(futures) for result in batch]


def run_backtest_grid(
    store: Path,
    models: Sequence[str],
    first_target: str,
    last_target: str,
    out: Path,
    *,
    backtest: BacktestSettings,
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool = False,
    build: CubeBuilder = build_grid_cube,
    **plan_options: Any,
) -> dict[str, str]:
    """Plan the grid (``plan_options`` as :func:`plan_backtest_grid`'s), score it on Dask
    (:func:`dask_client`) and write its tables into ``out``; returns their paths."""
    plan = plan_backtest_grid(Path(store), models, first_target, last_target, Path(out),
                              backtest=backtest, build=build, **plan_options)
    with dask_client(dask_address, n_workers, processes) as client:
        results = score_batches(plan, Path(out), client)
    return finish_backtest_grid(plan, results, Path(out))


def run_forecast_grid(
    store: Path,
    models: Sequence[str],
    out: Path,
    *,
    cell_sizes: Sequence[float] = (150.0,),
    param_grid: ParamGrid | None = None,
    freq: str = "M",
    dask_address: str | None = None,
    n_workers: int = 2,
    processes: bool = False,
    build: CubeBuilder = build_grid_cube,
) -> list[str]:
    """Fit every (cell size, model, parameter set) on all periods on Dask and write next
    period's forecast to ``OUT/forecasts/<cube>/<model>[<params>].parquet``; returns the
    paths in job order."""
    cubes = grid_cubes(Path(store), list(cell_sizes), freq, Path(out), build=build)
    events_store = events_store_for(Path(store), models)
    jobs = forecast_jobs(cubes, models, Path(out), param_grid)
    with dask_client(dask_address, n_workers, processes) as client:
        futures = [client.submit(forecast_unit, *job, events_store, pure=False)
                   for job in jobs]
        return list(client.gather(futures))
