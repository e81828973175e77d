"""The end-to-end steps as plain functions: store → cube → backtest → forecast.

The command line and the Prefect flows both call these; they hold no science of their
own, only the order of the steps and where files go. Where a run has several steps
(``run_pipeline``, the nightly pass) the order is written once, in the library, and each
step goes through a ``step`` callable: :func:`run_step` calls it, the Prefect flows pass
one that runs it as a task.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import geopandas as gpd
import pandas as pd
import xarray as xr

from hotspot import publish
from hotspot.core.area import StudyArea, load_area, same_crs
from hotspot.core.atomic import replace_folder
from hotspot.core.errors import DataError
from hotspot.core.locking import store_lock
from hotspot.core.periods import period_label
from hotspot.core.progress import ProgressCallback
from hotspot.cube_guard import (
    check_cube_current,
    check_cube_size,
    cube_file_hashes,
)
from hotspot.evaluation.ablation import AblationResult, covariate_ablation
from hotspot.evaluation.backtest import BacktestResult, backtest
from hotspot.features.covariates import parse_variants, variant_tables
from hotspot.features.cube import build_cube, cube_periods, open_cube, save_cube
from hotspot.features.cube_lazy import build_cube_chunked
from hotspot.features.grid import Grid, build_grid
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.report import IngestReport
from hotspot.ingest.store import (
    AREA_FILE,
    EVENTS_DIR,
    ensure_committed,
    list_months,
    read_events,
    read_store_meta,
)
from hotspot.models.registry import make_model, model_tag
from hotspot.settings import BacktestSettings, Settings

T = TypeVar("T")
CUBE_FILE = "cube.zarr"
#: The backtest record's folder inside a forecast's out folder.
BACKTEST_DIR = "backtest"
OGL_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0 "
    "(data.police.uk)."
)


class Step(Protocol):
    """Runs one named step of a run: ``step(name, fn, *args, **kwargs) -> fn(...)``."""

    def __call__(self, name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T: ...


def run_step(name: str, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """The plain :class:`Step`: call ``fn`` (the flows run it as a Prefect task instead)."""
    return fn(*args, **kwargs)


def store_area(store: Path, area: StudyArea | None = None) -> StudyArea:
    """The given study area, else the one saved in the store at ingest."""
    if area is not None:
        return area
    saved = Path(store) / AREA_FILE
    if not saved.exists():
        raise DataError(
            f"store {store} has no study area: pass --area FILE (and --area-filter) "
            "or ingest with --area"
        )
    return load_area(saved)


def _check_contiguous(months: list[str], store: Path) -> None:
    if not months:
        raise DataError(f"store {store} has no events: run 'hotspot ingest' first")
    expected = pd.period_range(months[0], months[-1], freq="M").strftime("%Y-%m").tolist()
    missing = sorted(set(expected) - set(months))
    if missing:
        raise DataError(
            f"store {store} has no events for month(s) {', '.join(missing)} between "
            f"{months[0]} and {months[-1]}: ingest them, or the cube would read them as zero crime"
        )


def cube_from_store(
    store: Path,
    cell_size_m: float = 150.0,
    freq: str = "M",
    area: StudyArea | None = None,
    *,
    max_cube_gb: float | None = None,
) -> xr.Dataset:
    """Build the cube of a store's events on a grid over its study area.

    Refuses (``DataError``) a cube whose estimated build memory is over ``max_cube_gb``
    and one in which no event falls inside the area: saved, it would replace a good cube
    with zeros.
    """
    store = Path(store)
    ensure_committed(store)  # before the lock: under our own lock it cannot tell
    with store_lock(store):
        grid, provenance = store_grid(store, cell_size_m, freq, area, max_cube_gb=max_cube_gb)
        cube = build_cube(read_events(store), grid, freq,
                          source=",".join(provenance["sources"]), provenance=provenance)
    _check_counted(json.loads(cube.attrs["provenance"]), store, grid)
    return cube


def _check_counted(record: Mapping[str, Any], store: Path, grid: Grid) -> None:
    if record["n_events_counted"] == 0:
        raise DataError(
            f"none of the {record['n_events_in']:,} events of store {store} falls inside the "
            f"study area ({grid.n_cells:,} cells of {grid.cell_size_m:g} m): check --area, "
            "--area-filter and the area's CRS; no cube was written and any previous one is kept")


def store_grid(
    store: Path, cell_size_m: float, freq: str, area: StudyArea | None, *,
    max_cube_gb: float | None = None,
) -> tuple[Grid, dict]:
    """The grid a store's cube is built on, and the cube's provenance.

    Checks the store can give ``freq`` periods and has no missing month, and that the
    cube's estimated build memory is within ``max_cube_gb`` before the grid is built;
    the area is the given one or the store's, in the store's CRS.
    """
    meta = read_store_meta(store)
    if meta["time_resolution"] == "month" and freq != "M":
        raise DataError(
            f"store {store} has monthly events (police.uk has no day or time): use --freq M"
        )
    months = list_months(store)
    _check_contiguous(months, store)
    study_area = store_area(store, area)
    if not same_crs(study_area.crs, meta["crs"]):
        study_area = StudyArea(parts=study_area.parts.to_crs(meta["crs"]), crs=meta["crs"])
    check_cube_size(store, study_area, cell_size_m, freq, months, max_cube_gb)
    provenance = {
        "store": str(store.resolve()),
        "first_month": months[0],
        "last_month": months[-1],
        "sources": sorted({f.stem for f in (store / EVENTS_DIR).glob("month=*/*.parquet")}),
        "event_files_sha256": cube_file_hashes(store),
    }
    return build_grid(study_area, cell_size_m), provenance


def cube_from_store_chunked(
    store: Path | str,
    cell_size_m: float = 150.0,
    freq: str = "M",
    area: StudyArea | None = None,
    path: Path | str | None = None,
    *,
    progress: ProgressCallback | None = None,
    max_cube_gb: float | None = None,
) -> Path:
    """``cube_from_store`` with bounded memory: the same checks and provenance, the cube
    built month by month and written chunked to ``path`` (default ``STORE/cube.zarr``);
    a cube with no event in the area is refused before it replaces the one at ``path``."""
    store = Path(store)
    ensure_committed(store)
    with store_lock(store):
        grid, provenance = store_grid(store, cell_size_m, freq, area, max_cube_gb=max_cube_gb)
        return build_cube_chunked(store, grid, freq, path, source=",".join(provenance["sources"]),
                                  provenance=provenance, progress=progress,
                                  check=lambda record: _check_counted(record, store, grid))


def save_store_cube(cube: xr.Dataset, store: Path) -> Path:
    with store_lock(store):
        return save_cube(cube, Path(store) / CUBE_FILE)


def open_store_cube(store: Path, cube_path: Path | None = None) -> xr.Dataset:
    """The store's cube (``STORE/cube.zarr``) or the one at ``cube_path``, refused
    (``DataError``) if the store's events changed since it was built."""
    path = Path(cube_path) if cube_path else Path(store) / CUBE_FILE
    if not path.exists():
        raise DataError(f"no cube at {path}: build it with 'hotspot cube --store {store}'")
    return check_cube_current(open_cube(path), Path(store), path)


def events_for(store: Path, models: Sequence[str]) -> pd.DataFrame | None:
    """The store's events when one of ``models`` fits on events, else ``None``."""
    if any(model_tag(name, "needs_events") for name in models):
        return read_events(store)
    return None


def run_backtest(
    store: Path,
    models: Sequence[str],
    first_target: str | pd.Period,
    last_target: str | pd.Period,
    *,
    settings: BacktestSettings,
    cube: xr.Dataset | None = None,
    progress: ProgressCallback | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> BacktestResult:
    """Backtest ``models`` on the store's cube over ``first_target..last_target``, with the
    coverages, bootstrap count and seed of ``settings``."""
    cube = cube if cube is not None else open_store_cube(store)
    return backtest(cube, list(models), first_target, last_target,
                    coverages=settings.coverages, events=events_for(store, models),
                    n_bootstrap=settings.n_bootstrap, seed=settings.seed, progress=progress,
                    model_params=model_params)


def run_covariate_ablation(
    store: Path,
    models: list[str],
    first_target: str | pd.Period,
    last_target: str | pd.Period,
    variants: str,
    *,
    settings: BacktestSettings,
    cube: xr.Dataset | None = None,
    progress: ProgressCallback | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> AblationResult:
    """Backtest ``models`` with and without the covariate groups named in ``variants``."""
    cube = cube if cube is not None else open_store_cube(store)
    names = parse_variants(variants)
    tables = variant_tables(Path(store), cube, names, ahead=1)
    return covariate_ablation(cube, models, first_target, last_target, tables,
                              events=events_for(store, models), coverages=settings.coverages,
                              n_bootstrap=settings.n_bootstrap, seed=settings.seed,
                              progress=progress, model_params=model_params)


def recent_targets(cube: xr.Dataset, n_periods: int) -> tuple[pd.Period, pd.Period]:
    """The last ``n_periods`` periods of the cube, leaving at least one for history."""
    periods = cube_periods(cube)
    if len(periods) < 2:
        raise DataError("the cube has fewer than two periods: ingest more data to backtest")
    n = min(n_periods, len(periods) - 1)
    return periods[-n], periods[-1]


def recent_backtest(
    store: Path,
    cube: xr.Dataset,
    model: str,
    settings: BacktestSettings,
    *,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """``model`` and the baselines over the cube's newest ``settings.periods`` periods."""
    first, last = recent_targets(cube, settings.periods)
    names = list(dict.fromkeys([model, *settings.baselines]))
    return run_backtest(store, names, first, last, settings=settings, cube=cube,
                        progress=progress, model_params=model_params)


@dataclass(frozen=True)
class ForecastRun:
    """Where a published forecast went, the forecast itself and what backs it."""

    outputs: dict[str, Path]
    backtest: BacktestResult | None
    target_period: str
    forecast: xr.DataArray


def publish_store_forecast(
    store: Path,
    cube: xr.Dataset,
    model: str,
    out_dir: Path,
    *,
    record: BacktestResult | None,
    params: Mapping[str, Any] | None = None,
    top_share: float = 0.05,
    replace: bool = True,
) -> ForecastRun:
    """Fit ``model`` on all of ``cube``, publish next period's forecast into ``out_dir``
    with ``record`` in its report, the store's study area drawn and the data's licence.

    ``out_dir`` is replaced whole; ``replace=False`` writes into it as it is (a folder
    the caller is staging)."""
    store = Path(store)
    if record is not None and model not in record.settings["models"]:
        raise DataError(f"the backtest record passed for {model} does not include it")
    periods = cube_periods(cube)
    forecast = make_model(model, **dict(params or {})).fit(
        cube, periods[-1], events=events_for(store, [model])).predict(1)
    area_file = store / AREA_FILE
    area_parts = gpd.read_file(area_file) if area_file.exists() else None
    # police.uk is the only month-resolution source, and its licence asks for attribution.
    attribution = OGL_ATTRIBUTION if read_store_meta(store)["time_resolution"] == "month" else None
    outputs = publish.publish_forecast(forecast, cube, out_dir, backtest=record,
                                       area_parts=area_parts, top_share=top_share,
                                       attribution=attribution, replace=replace)
    return ForecastRun(outputs=outputs, backtest=record,
                       target_period=period_label(periods[-1] + 1), forecast=forecast)


def run_forecast(
    settings: Settings,
    *,
    cube: xr.Dataset | None = None,
    record: BacktestResult | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
) -> ForecastRun:
    """Publish ``settings.forecast.model``'s next-period forecast from ``settings.store``
    into ``settings.out``, with its recent backtest next to the baselines (saved in
    ``OUT/backtest``) in the report. Pass ``record`` to reuse a backtest already run;
    ``model_params`` default to the settings'. ``OUT`` is staged and replaced whole."""
    store, out_dir, model = Path(settings.store), Path(settings.out), settings.forecast.model
    params = settings.model_params if model_params is None else model_params
    cube = cube if cube is not None else open_store_cube(store)
    fresh = record is None
    if fresh:
        record = recent_backtest(store, cube, model, settings.backtest, model_params=params,
                                 progress=progress)
    with replace_folder(out_dir, owned=(*publish.FILE_NAMES.values(), BACKTEST_DIR)) as staging:
        if fresh:
            record.save(staging / BACKTEST_DIR)
        run = publish_store_forecast(store, cube, model, staging, record=record,
                                     params=params.get(model),
                                     top_share=settings.forecast.top_share, replace=False)
    return ForecastRun(outputs={k: out_dir / p.name for k, p in run.outputs.items()},
                       backtest=record, target_period=run.target_period, forecast=run.forecast)


def ingest_paths(paths: Sequence[Path], settings: Settings,
                 progress: ProgressCallback | None = None) -> IngestReport:
    """Ingest police.uk files into ``settings.store``, clipped to ``settings.area``."""
    return ingest_police_uk(paths, settings.store, area=settings_area(settings),
                            progress=progress)


def settings_area(settings: Settings) -> StudyArea | None:
    """The study area the settings name, or ``None`` (use the store's)."""
    if settings.area is None:
        return None
    return load_area(settings.area, settings.area_filter, settings.crs)


def build_store_cube(settings: Settings) -> Path:
    """Build the store's cube on the settings' grid and save it as ``STORE/cube.zarr``."""
    cube = cube_from_store(settings.store, settings.cell_size_m, settings.freq,
                           settings_area(settings), max_cube_gb=settings.max_cube_gb)
    return save_store_cube(cube, settings.store)


def run_pipeline(paths: Sequence[Path], settings: Settings, *, step: Step = run_step
                 ) -> ForecastRun:
    """Ingest → cube → forecast (with its recent backtest in the report), in that order."""
    step("ingest-police-uk", ingest_paths, list(paths), settings)
    step("build-cube", build_store_cube, settings)
    return step("forecast", run_forecast, settings)
