"""The main job on the embedded default: the shipped City of London police.uk sample."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hotspot.core.area import load_area
from hotspot.core.progress import ProgressCallback
from hotspot.core.resources import embedded_path
from hotspot.evaluation.backtest import BacktestResult
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.report import IngestReport
from hotspot.pipeline import (
    ForecastRun,
    cube_from_store,
    publish_store_forecast,
    recent_targets,
    run_backtest,
    save_store_cube,
)
from hotspot.settings import Settings

DEMO_EVENTS = ("police-uk",)
DEMO_AREA = ("boundaries", "city-of-london-wards.gpkg")


@dataclass(frozen=True)
class DemoRun:
    ingest: IngestReport
    cube_path: Path
    backtest: BacktestResult
    backtest_dir: Path
    forecast: ForecastRun


def run_demo(settings: Settings, progress: ProgressCallback | None = None) -> DemoRun:
    """Ingest the sample, build the cube, backtest the baselines and the model over the
    last ``settings.backtest.periods`` months and publish next month's forecast under
    ``settings.out``."""
    out = Path(settings.out)
    store = out / "store"
    area = load_area(embedded_path(*DEMO_AREA))
    report = ingest_police_uk([embedded_path(*DEMO_EVENTS)], store, area=area, progress=progress)
    cube = cube_from_store(store, settings.cell_size_m, "M", area)
    cube_path = save_store_cube(cube, store)
    first, last = recent_targets(cube, settings.backtest.periods)
    model = settings.forecast.model
    models = list(dict.fromkeys([*settings.backtest.baselines, model]))
    record = run_backtest(store, models, first, last, settings=settings.backtest, cube=cube,
                          progress=progress, model_params=settings.model_params)
    backtest_dir = out / "backtest"
    record.save(backtest_dir)
    forecast = publish_store_forecast(store, cube, model, out / "forecast", record=record,
                                      params=settings.model_params.get(model),
                                      top_share=settings.forecast.top_share)
    return DemoRun(report, cube_path, record, backtest_dir, forecast)
