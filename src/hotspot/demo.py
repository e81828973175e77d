"""The main job on the embedded default: the shipped City of London police.uk sample.

Two targets, as a force would patrol them: ``crime`` (everything but anti-social
behaviour) and ``harm`` (harm-weighted counts), each published by the model ``auto``
chooses on one shared backtest (``OUT/backtest``, both targets in one ``metrics.csv``);
``OUT/forecast/<target>/`` holds each forecast with a report saying which model won and
by how much. ``--target`` and ``--model NAME`` (one model, no selection) override both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hotspot.core.area import load_area
from hotspot.core.progress import ProgressCallback
from hotspot.core.resources import embedded_path
from hotspot.evaluation.backtest import BacktestResult
from hotspot.features.harm import load_harm_weights
from hotspot.features.targets import cube_target
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.report import IngestReport
from hotspot.pipeline import (
    ForecastRun,
    backtest_models,
    cube_from_store,
    model_from_record,
    publish_folder,
    recent_targets,
    run_backtest,
    save_store_cube,
)
from hotspot.settings import Settings
from hotspot.targeting import check_target_names, target_cube

DEMO_EVENTS = ("police-uk",)
DEMO_AREA = ("boundaries", "city-of-london-wards.gpkg")
#: What the demo forecasts unless ``--target`` says otherwise.
DEMO_TARGETS = ("crime", "harm")
FORECAST_DIR = "forecast"


@dataclass(frozen=True)
class DemoRun:
    ingest: IngestReport
    cube_path: Path
    backtest: BacktestResult
    backtest_dir: Path
    #: One published forecast per target, by target name (``OUT/forecast/<target>/``).
    forecasts: dict[str, ForecastRun]

    @property
    def forecast(self) -> ForecastRun:
        """The first target's forecast."""
        return next(iter(self.forecasts.values()))


def run_demo(settings: Settings, progress: ProgressCallback | None = None) -> DemoRun:
    """Ingest the sample, build the cube, backtest the models over the last
    ``settings.backtest.periods`` months for each target, and publish next month's
    forecast of each under ``settings.out``."""
    out = Path(settings.out)
    store = out / "store"
    names = settings.targets if settings.target_set else list(DEMO_TARGETS)
    # the sample holds police.uk's categories, each in the shipped harm table: a bad
    # --target is refused before the sample is ingested into OUT/store
    check_target_names(names, list(load_harm_weights().table["category"]), settings)
    area = load_area(embedded_path(*DEMO_AREA), clip_land=settings.clip_water)
    report = ingest_police_uk([embedded_path(*DEMO_EVENTS)], store, area=area, progress=progress)
    cube = cube_from_store(store, settings.cell_size_m, "M", area)
    cubes = [target_cube(cube, name, settings) for name in names]  # all checked first
    cube_path = save_store_cube(cube, store)
    first, last = recent_targets(cube, settings.backtest.periods)
    models, notes = backtest_models(store, settings)
    record = run_backtest(store, models, first, last, settings=settings, cube=cube,
                          targets=names, progress=progress,
                          model_params=settings.model_params)
    backtest_dir = out / "backtest"
    record.save(backtest_dir)
    forecasts = {}
    for targeted in cubes:
        target = cube_target(targeted)
        chosen = model_from_record(store, record, settings, target, notes)
        forecasts[target] = publish_folder(store, targeted, chosen,
                                           out / FORECAST_DIR / target, settings,
                                           save_record=False)
    return DemoRun(report, cube_path, record, backtest_dir, forecasts)
