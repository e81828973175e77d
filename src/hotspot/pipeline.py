"""The end-to-end steps as plain functions: store → cube → backtest → forecast.

The command line and the Prefect flows both call these; they hold no science of their
own, only the order of the steps and where files go. Where a run has several steps
(``run_pipeline``, the nightly pass) the order is written once, in the library, and each
step goes through a ``step`` callable: :func:`run_step` calls it, the Prefect flows pass
one that runs it as a task.
"""

from __future__ import annotations

import hashlib
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
from hotspot.core.errors import DataError
from hotspot.core.locking import store_lock
from hotspot.core.periods import period_label
from hotspot.core.progress import ProgressCallback
from hotspot.evaluation.ablation import AblationResult, covariate_ablation
from hotspot.evaluation.backtest import BacktestResult, backtest
from hotspot.features.covariates import parse_variants, variant_tables
from hotspot.features.cube import build_cube, cube_periods, open_cube, save_cube
from hotspot.features.cube_lazy import build_cube_chunked
from hotspot.features.grid import Grid, build_grid
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.report import IngestReport
from hotspot.ingest.store import AREA_FILE, EVENTS_DIR, list_months, read_events, read_store_meta
from hotspot.models.registry import make_model, model_tag
from hotspot.settings import BacktestSettings, Settings

T = TypeVar("T")
CUBE_FILE = "cube.zarr"
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


def store_fingerprint(store: Path) -> dict[str, Any]:
    """SHA-256 of each of the store's event files (``files``) and one over them all
    (``sha256``): what the cube's provenance and the nightly state record."""
    files = sorted((Path(store) / EVENTS_DIR).glob("month=*/*.parquet"))
    hashes = {str(f.relative_to(store)): hashlib.sha256(f.read_bytes()).hexdigest()
              for f in files}
    overall = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return {"sha256": overall, "files": hashes}


def cube_from_store(
    store: Path,
    cell_size_m: float = 150.0,
    freq: str = "M",
    area: StudyArea | None = None,
) -> xr.Dataset:
    """Build the cube of a store's events on a grid over its study area."""
    store = Path(store)
    with store_lock(store):
        return _cube_from_store(store, cell_size_m, freq, area)


def store_grid(
    store: Path, cell_size_m: float, freq: str, area: StudyArea | None
) -> tuple[Grid, dict]:
    """The grid a store's cube is built on, and the cube's provenance.

    Checks the store can give ``freq`` periods and has no missing month; the area is the
    given one or the store's, in the store's CRS.
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
    provenance = {
        "store": str(store.resolve()),
        "first_month": months[0],
        "last_month": months[-1],
        "sources": sorted({f.stem for f in (store / EVENTS_DIR).glob("month=*/*.parquet")}),
        # 16 hex digits are plenty to tell files apart in the cube's attributes
        "event_files_sha256": {k: v[:16] for k, v in store_fingerprint(store)["files"].items()},
    }
    return build_grid(study_area, cell_size_m), provenance


def _cube_from_store(
    store: Path, cell_size_m: float, freq: str, area: StudyArea | None
) -> xr.Dataset:
    grid, provenance = store_grid(store, cell_size_m, freq, area)
    return build_cube(read_events(store), grid, freq, source=",".join(provenance["sources"]),
                      provenance=provenance)


def cube_from_store_chunked(
    store: Path | str,
    cell_size_m: float = 150.0,
    freq: str = "M",
    area: StudyArea | None = None,
    path: Path | str | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Path:
    """``cube_from_store`` with bounded memory: the same checks and provenance, the cube
    built month by month and written chunked to ``path`` (default ``STORE/cube.zarr``)."""
    store = Path(store)
    with store_lock(store):
        grid, provenance = store_grid(store, cell_size_m, freq, area)
        return build_cube_chunked(store, grid, freq, path, source=",".join(provenance["sources"]),
                                  provenance=provenance, progress=progress)


def save_store_cube(cube: xr.Dataset, store: Path) -> Path:
    with store_lock(store):
        return save_cube(cube, Path(store) / CUBE_FILE)


def open_store_cube(store: Path, cube_path: Path | None = None) -> xr.Dataset:
    """The store's cube (``STORE/cube.zarr``) or the one at ``cube_path``."""
    path = Path(cube_path) if cube_path else Path(store) / CUBE_FILE
    if not path.exists():
        raise DataError(f"no cube at {path}: build it with 'hotspot cube --store {store}'")
    return open_cube(path)


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
) -> ForecastRun:
    """Fit ``model`` on all of ``cube``, publish next period's forecast into ``out_dir``
    with ``record`` in its report, the store's study area drawn and the data's licence."""
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
                                       attribution=attribution)
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
    ``model_params`` default to the settings'."""
    store, out_dir, model = Path(settings.store), Path(settings.out), settings.forecast.model
    params = settings.model_params if model_params is None else model_params
    cube = cube if cube is not None else open_store_cube(store)
    if record is None:
        record = recent_backtest(store, cube, model, settings.backtest, model_params=params,
                                 progress=progress)
        record.save(out_dir / "backtest")
    return publish_store_forecast(store, cube, model, out_dir, record=record,
                                  params=params.get(model), top_share=settings.forecast.top_share)


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
                           settings_area(settings))
    return save_store_cube(cube, settings.store)


def run_pipeline(paths: Sequence[Path], settings: Settings, *, step: Step = run_step
                 ) -> ForecastRun:
    """Ingest → cube → forecast (with its recent backtest in the report), in that order."""
    step("ingest-police-uk", ingest_paths, list(paths), settings)
    step("build-cube", build_store_cube, settings)
    return step("forecast", run_forecast, settings)
