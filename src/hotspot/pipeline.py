"""The end-to-end steps as plain functions: store → cube → backtest → forecast.

The command line and the Prefect flows both call these; they hold no science of their
own, only the order of the steps and where files go. Where a run has several steps
(``run_pipeline``, the nightly pass) the order is written once, in the library, and each
step goes through a ``step`` callable: :func:`run_step` calls it, the Prefect flows pass
one that runs it as a task.

Targets: every backtest and forecast runs on a *targeted* cube (:func:`target_cube`),
whose ``counts`` are the target's; the target's name is checked here, against the cube's
categories, with one line listing the valid names. ``forecast.model = "auto"`` backtests
the candidates and publishes the one :func:`hotspot.evaluation.selection.select_model`
chooses (:func:`forecast_record`), with that backtest as its record.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import geopandas as gpd
import pandas as pd
import shapely
import xarray as xr

from hotspot import publish
from hotspot.core.area import StudyArea, clip_to_land, load_area
from hotspot.core.atomic import replace_folder
from hotspot.core.errors import DataError
from hotspot.core.periods import period_label
from hotspot.core.progress import ProgressCallback
from hotspot.evaluation.ablation import AblationResult, covariate_ablation
from hotspot.evaluation.backtest import BacktestResult, backtest
from hotspot.evaluation.selection import Selection
from hotspot.features.covariates import parse_variants, variant_tables
from hotspot.features.cube import cube_periods, grid_offset
from hotspot.features.grid import grid_offsets
from hotspot.features.targets import cube_target
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.report import IngestReport
from hotspot.ingest.store import (
    AREA_FILE,
    read_events,
    read_store_meta,
)
from hotspot.models.registry import make_model, model_tag
from hotspot.offsets import offset_tables
from hotspot.settings import Settings
from hotspot.settings_sections import AUTO, BacktestSettings
from hotspot.store_cube import (
    cube_from_store,
    open_store_cube,
    save_store_cube,
    store_area,
)
from hotspot.targeting import (
    SELECTION_FILE,
    BacktestRun,
    auto_candidates,
    one_target,
    result_for_target,
    select_from_record,
    target_cube,
    write_selection,
)

T = TypeVar("T")
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


def events_for(store: Path, models: Sequence[str]) -> pd.DataFrame | None:
    """The store's events when one of ``models`` fits on events, else ``None``."""
    if any(model_tag(name, "needs_events") for name in models):
        return read_events(store)
    return None


def _sections(settings: Settings | BacktestSettings) -> tuple[BacktestSettings, Settings | None]:
    """The backtest section, and the whole settings when given (targets' groups, harm
    weights and study area come from them; without them, the shipped ones)."""
    if isinstance(settings, Settings):
        return settings.backtest, settings
    return settings, None


def run_backtest(
    store: Path,
    models: Sequence[str],
    first_target: str | pd.Period,
    last_target: str | pd.Period,
    *,
    settings: Settings | BacktestSettings,
    cube: xr.Dataset | None = None,
    progress: ProgressCallback | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    targets: Sequence[str] | None = None,
) -> BacktestRun:
    """Backtest ``models`` on the store's cube over ``first_target..last_target``, once per
    target in ``targets`` (default: the cube's own), joined into one result; coverages,
    boxes, bootstrap and seed from ``settings``.

    Every target name is checked before any model is fitted. With ``backtest.offsets``
    above 1 the same backtest runs again on cubes rebuilt from the store on grids shifted
    by half a cell (``features.grid.grid_offsets``), over the cube's own study area; the
    result's tables stay those of the cube's grid, and ``offsets``/``offset_spread`` say
    how far each score moves with the grid's placement.
    """
    section, app = _sections(settings)
    cube = cube if cube is not None else open_store_cube(store)
    names = list(dict.fromkeys(targets)) if targets else [cube_target(cube)]
    targeted = [target_cube(cube, name, app) for name in names]
    events = events_for(store, models)
    options = {"coverages": section.coverages, "boxes": section.boxes, "events": events,
               "n_bootstrap": section.n_bootstrap, "seed": section.seed, "progress": progress,
               "model_params": model_params}
    main = BacktestResult.concat([backtest(c, list(models), first_target, last_target,
                                           **options) for c in targeted])
    if section.offsets == 1:
        return BacktestRun.of(main, settings={**main.settings, "offsets": 1},
                              cell_area_m2=publish.report.cell_areas(cube))
    shifts = grid_offsets(section.offsets, float(cube.attrs["cell_size_m"]))
    own = grid_offset(cube)
    by_offset = {shifts[0]: main.metrics}
    events_counted = {_offset_label(shifts[0]): _events_in(cube)}
    area = cube_area(cube)
    for dx, dy in shifts[1:]:
        shifted = cube_from_store(store, float(cube.attrs["cell_size_m"]), cube.attrs["freq"],
                                  area, offset_m=(own[0] + dx, own[1] + dy))
        events_counted[_offset_label((dx, dy))] = _events_in(shifted)
        by_offset[(dx, dy)] = pd.concat(
            [backtest(target_cube(shifted, name, app), list(models), first_target,
                      last_target, **options).metrics for name in names], ignore_index=True)
    means, spread = offset_tables(by_offset)
    return BacktestRun.of(main, offsets=means, offset_spread=spread,
                          cell_area_m2=publish.report.cell_areas(cube), settings={
        **main.settings, "offsets": section.offsets, "offset_events": events_counted})


def _offset_label(offset: tuple[float, float]) -> str:
    return f"{offset[0]:g},{offset[1]:g}"


def _events_in(cube: xr.Dataset) -> int:
    """Events the cube counts, whatever its target (every category)."""
    counts = cube["category_counts"] if "category_counts" in cube else cube["counts"]
    return int(counts.sum())


def cube_area(cube: xr.Dataset) -> StudyArea:
    """The study area a cube was built over (its ``area_wkt``), in its CRS."""
    crs = cube.attrs["crs"]
    parts = gpd.GeoDataFrame(geometry=[shapely.from_wkt(cube.attrs["area_wkt"])], crs=crs)
    return StudyArea(parts=parts, crs=crs)


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
    model: str | Sequence[str],
    settings: Settings | BacktestSettings,
    *,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
    targets: Sequence[str] | None = None,
) -> BacktestRun:
    """``model`` (one name or several) and the baselines over the cube's newest
    ``backtest.periods`` periods, for each of ``targets`` (default the cube's own)."""
    section, _ = _sections(settings)
    first, last = recent_targets(cube, section.periods)
    wanted = [model] if isinstance(model, str) else list(model)
    names = list(dict.fromkeys([*wanted, *section.baselines]))
    return run_backtest(store, names, first, last, settings=settings, cube=cube,
                        progress=progress, model_params=model_params, targets=targets)


@dataclass(frozen=True)
class ModelRecord:
    """The model to publish for one target, the backtest that backs it and, for
    ``auto``, the selection that chose it."""

    model: str
    record: BacktestRun
    selection: Selection | None = None


def backtest_models(store: Path, settings: Settings) -> tuple[list[str], list[str]]:
    """The models a forecast's record backtests (the baselines too), and notes on any
    candidate ``auto`` dropped; with a fixed model, that model and the baselines."""
    if settings.forecast.model != AUTO:
        return list(dict.fromkeys([settings.forecast.model, *settings.backtest.baselines])), []
    kept, notes = auto_candidates(store, settings.forecast.candidates)
    return list(dict.fromkeys([*kept, *settings.backtest.baselines])), notes


def model_from_record(store: Path, record: BacktestResult, settings: Settings, target: str,
                      notes: Sequence[str] = ()) -> ModelRecord:
    """The model to publish for ``target`` on ``record`` (which may hold several targets):
    the settings' model, or with ``auto`` the selection among the candidates."""
    part = result_for_target(record, target)
    if settings.forecast.model != AUTO:
        return ModelRecord(settings.forecast.model, part)
    kept, dropped = auto_candidates(store, settings.forecast.candidates)
    selection = select_from_record(part, kept, settings, target, notes or dropped)
    return ModelRecord(selection.winner, part, selection)


def forecast_record(
    store: Path,
    cube: xr.Dataset,
    settings: Settings,
    *,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
) -> ModelRecord:
    """Backtest what a forecast of ``cube``'s target needs over the recent periods and
    say which model publishes it: the settings' model, or with ``auto`` the winner among
    ``forecast.candidates`` on ``forecast.select_by`` (the rule of
    :mod:`hotspot.evaluation.selection`)."""
    params = settings.model_params if model_params is None else model_params
    models, notes = backtest_models(store, settings)
    record = recent_backtest(store, cube, models, settings, model_params=params,
                             progress=progress)
    return model_from_record(store, record, settings, cube_target(cube), notes)


@dataclass(frozen=True)
class ForecastRun:
    """Where a published forecast went, the forecast itself and what backs it."""

    outputs: dict[str, Path]
    backtest: BacktestResult | None
    target_period: str
    forecast: xr.DataArray
    #: The published model (the winner, for ``auto``) and the target it forecasts.
    model: str = ""
    target: str = "all"
    selection: Selection | None = None


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
    selection: Selection | None = None,
    boxes: int = 20,
) -> ForecastRun:
    """Fit ``model`` on all of ``cube``, publish next period's forecast into ``out_dir``
    with ``record`` (and ``auto``'s ``selection``) in its report, the store's study area
    drawn and the data's licence; ``boxes`` top cells are the patrol list.

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
                                       attribution=attribution, replace=replace,
                                       selection=selection, boxes=boxes)
    return ForecastRun(outputs=outputs, backtest=record,
                       target_period=period_label(periods[-1] + 1), forecast=forecast,
                       model=model, target=cube_target(cube), selection=selection)


def publish_folder(
    store: Path,
    cube: xr.Dataset,
    chosen: ModelRecord,
    out_dir: Path,
    settings: Settings,
    *,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    save_record: bool = True,
) -> ForecastRun:
    """Publish ``chosen.model``'s forecast of ``cube`` as the folder ``out_dir``, staged
    and replaced whole: the forecast files, ``selection.json`` (``auto``) and, with
    ``save_record``, the backtest record in ``OUT/backtest``."""
    params = settings.model_params if model_params is None else model_params
    out_dir = Path(out_dir)
    owned = (*publish.FILE_NAMES.values(), BACKTEST_DIR, SELECTION_FILE)
    with replace_folder(out_dir, owned=owned) as staging:
        if save_record:
            chosen.record.save(staging / BACKTEST_DIR)
        extra = {}
        if chosen.selection is not None:
            extra["selection"] = write_selection(chosen.selection, staging)
        run = publish_store_forecast(store, cube, chosen.model, staging, record=chosen.record,
                                     params=params.get(chosen.model),
                                     top_share=settings.forecast.top_share, replace=False,
                                     selection=chosen.selection, boxes=settings.backtest.boxes)
    outputs = {k: out_dir / p.name for k, p in {**run.outputs, **extra}.items()}
    return dataclasses.replace(run, outputs=outputs)


def run_forecast(
    settings: Settings,
    *,
    cube: xr.Dataset | None = None,
    record: BacktestResult | None = None,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: ProgressCallback | None = None,
) -> ForecastRun:
    """Publish next period's forecast of ``settings.target`` (default the cube's own) from
    ``settings.store`` into ``settings.out``, with its recent backtest next to the
    baselines (saved in ``OUT/backtest``) in the report.

    ``forecast.model = "auto"`` publishes the candidate that backtest selects and writes
    ``OUT/selection.json``. Pass ``record`` to reuse a backtest already run (then nothing
    is backtested; with ``auto`` the selection is made on it); ``model_params`` default to
    the settings'. ``OUT`` is staged and replaced whole."""
    store = Path(settings.store)
    cube = cube if cube is not None else open_store_cube(store)
    cube = target_cube(cube, one_target(cube, settings), settings)
    if record is None:
        chosen = forecast_record(store, cube, settings, model_params=model_params,
                                 progress=progress)
    else:
        chosen = model_from_record(store, record, settings, cube_target(cube))
    return publish_folder(store, cube, chosen, Path(settings.out), settings,
                          model_params=model_params, save_record=record is None)


def ingest_paths(paths: Sequence[Path], settings: Settings,
                 progress: ProgressCallback | None = None) -> IngestReport:
    """Ingest police.uk files into ``settings.store``, clipped to ``settings.area``."""
    return ingest_police_uk(paths, settings.store, area=settings_area(settings),
                            progress=progress)


def settings_area(settings: Settings) -> StudyArea | None:
    """The study area the settings name, or ``None`` (use the store's); clipped to the
    land of ``settings.clip_water`` when set (the store's area too)."""
    if settings.area is None:
        if settings.clip_water is None:
            return None
        return clip_to_land(store_area(settings.store), settings.clip_water)
    return load_area(settings.area, settings.area_filter, settings.crs,
                     clip_land=settings.clip_water)


def targeted_store_cube(settings: Settings) -> xr.Dataset:
    """The store's cube on the settings' grid, given the settings' target when one is set
    (checked before anything is saved)."""
    cube = cube_from_store(settings.store, settings.cell_size_m, settings.freq,
                           settings_area(settings), max_cube_gb=settings.max_cube_gb)
    if settings.target_set:
        cube = target_cube(cube, one_target(cube, settings, "a cube"), settings)
    return cube


def build_store_cube(settings: Settings) -> Path:
    """Build the store's cube on the settings' grid (with the settings' target, when set)
    and save it as ``STORE/cube.zarr``."""
    return save_store_cube(targeted_store_cube(settings), settings.store)


def run_pipeline(paths: Sequence[Path], settings: Settings, *, step: Step = run_step
                 ) -> ForecastRun:
    """Ingest → cube → forecast (with its recent backtest in the report), in that order."""
    step("ingest-police-uk", ingest_paths, list(paths), settings)
    step("build-cube", build_store_cube, settings)
    return step("forecast", run_forecast, settings)
