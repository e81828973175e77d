"""The end-to-end steps as plain functions: store → cube → backtest → forecast.

The command line and the Prefect flows both call these; they hold no science of their
own, only the order of the steps and where files go.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import xarray as xr

from hotspot.core.area import StudyArea, load_area
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
from hotspot.ingest.store import AREA_FILE, EVENTS_DIR, list_months, read_events, read_store_meta
from hotspot.models.registry import make_model
from hotspot.publish import publish_forecast

CUBE_FILE = "cube.zarr"
OGL_ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0 "
    "(data.police.uk)."
)


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


def _file_hashes(store: Path) -> dict[str, str]:
    files = sorted((Path(store) / EVENTS_DIR).glob("month=*/*.parquet"))
    return {
        str(f.relative_to(store)): hashlib.sha256(f.read_bytes()).hexdigest()[:16] for f in files
    }


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
    if study_area.crs != meta["crs"]:
        study_area = StudyArea(parts=study_area.parts.to_crs(meta["crs"]), crs=meta["crs"])
    provenance = {
        "store": str(store.resolve()),
        "first_month": months[0],
        "last_month": months[-1],
        "sources": sorted({f.stem for f in (store / EVENTS_DIR).glob("month=*/*.parquet")}),
        "event_files_sha256": _file_hashes(store),
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


def _events_if_needed(store: Path, models: list[str]) -> pd.DataFrame | None:
    if any(make_model(name).needs_events for name in models):
        return read_events(store)
    return None


def run_backtest(
    store: Path,
    models: list[str],
    first_target: str | pd.Period,
    last_target: str | pd.Period,
    *,
    cube: xr.Dataset | None = None,
    coverages: tuple[float, ...] | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> BacktestResult:
    """Backtest ``models`` on the store's cube over ``first_target..last_target``."""
    cube = cube if cube is not None else open_store_cube(store)
    kwargs = {"coverages": coverages} if coverages else {}
    return backtest(cube, models, first_target, last_target,
                    events=_events_if_needed(store, models), n_bootstrap=n_bootstrap,
                    seed=seed, progress=progress, model_params=model_params, **kwargs)


def run_covariate_ablation(
    store: Path,
    models: list[str],
    first_target: str | pd.Period,
    last_target: str | pd.Period,
    variants: str,
    *,
    cube: xr.Dataset | None = None,
    **options,
) -> AblationResult:
    """Backtest ``models`` with and without the covariate groups named in ``variants``."""
    cube = cube if cube is not None else open_store_cube(store)
    names = parse_variants(variants)
    tables = variant_tables(Path(store), cube, names, ahead=1)
    return covariate_ablation(cube, models, first_target, last_target, tables,
                              events=_events_if_needed(store, models), **options)


def recent_targets(cube: xr.Dataset, n_periods: int) -> tuple[pd.Period, pd.Period]:
    """The last ``n_periods`` periods of the cube, leaving at least one for history."""
    periods = cube_periods(cube)
    if len(periods) < 2:
        raise DataError("the cube has fewer than two periods: ingest more data to backtest")
    n = min(n_periods, len(periods) - 1)
    return periods[-n], periods[-1]


@dataclass(frozen=True)
class ForecastRun:
    """Where a published forecast went and what backs it."""

    outputs: dict[str, Path]
    backtest: BacktestResult | None
    target_period: str


def run_forecast(
    store: Path,
    model: str,
    out_dir: Path,
    *,
    cube: xr.Dataset | None = None,
    backtest_periods: int = 6,
    record: BacktestResult | None = None,
    baselines: tuple[str, ...] = ("naive-last", "naive-mean", "naive-longrun"),
    n_bootstrap: int = 2000,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
) -> ForecastRun:
    """Fit ``model`` on all of the store's cube, publish the next period's forecast, and
    put its backtest record over the last ``backtest_periods`` periods (next to the
    baselines) in the report. Pass ``record`` to reuse a backtest already run."""
    store, out_dir = Path(store), Path(out_dir)
    cube = cube if cube is not None else open_store_cube(store)
    periods = cube_periods(cube)
    events = _events_if_needed(store, [model])
    if record is None and backtest_periods > 0:
        first, last = recent_targets(cube, backtest_periods)
        names = [model, *[b for b in baselines if b != model]]
        record = backtest(cube, names, first, last, events=_events_if_needed(store, names),
                          n_bootstrap=n_bootstrap, seed=seed, progress=progress,
                          model_params=model_params)
        record.save(out_dir / "backtest")
    if record is not None and model not in record.settings["models"]:
        raise DataError(f"the backtest record passed for {model} does not include it")
    params = dict((model_params or {}).get(model, {}))
    forecast = make_model(model, **params).fit(cube, periods[-1], events=events).predict(1)
    area_file = store / AREA_FILE
    area_parts = gpd.read_file(area_file) if area_file.exists() else None
    # police.uk is the only month-resolution source, and its licence asks for attribution.
    attribution = OGL_ATTRIBUTION if read_store_meta(store)["time_resolution"] == "month" else None
    outputs = publish_forecast(forecast, cube, out_dir, backtest=record, area_parts=area_parts,
                               attribution=attribution)
    return ForecastRun(outputs=outputs, backtest=record,
                       target_period=period_label(periods[-1] + 1))
