"""One nightly pass, its step order written once: ``run_nightly(settings, step=...)``."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import Any

from hotspot.core.errors import ConfigError
from hotspot.core.locking import store_lock
from hotspot.models.params import parse_model_params
from hotspot.nightly.detect import Logger, Plan, detect
from hotspot.nightly.ingest_step import fetch_api_month, ingest_new
from hotspot.nightly.publish_step import backtest_recent, publish_run, rebuild_cube
from hotspot.nightly.runs import run_day, time_zone
from hotspot.nightly.state import utc_now
from hotspot.pipeline import Step, run_step
from hotspot.settings import Settings, load_settings
from hotspot.settings_sections import AUTO

log = logging.getLogger(__name__)

#: Step names, as the Prefect flow's task names (docs/nightly.md lists them).
DETECT, DOWNLOAD, INGEST = "detect-new-data", "download-police-api", "ingest-new-data"
CUBE, BACKTEST, PUBLISH = "rebuild-cube", "backtest-recent", "publish-run"
NOT_CHANGED = ("ingested files, but the store's events did not change since the last "
               "published run")


def check_nightly(settings: Settings) -> None:
    """Raise ``ConfigError`` naming the setting a nightly pass lacks, before any work."""
    nightly = settings.nightly
    if settings.area is None:
        raise ConfigError("setting 'area': the nightly pass needs the study area's boundary "
                          "file (area = FILE under [hotspot])")
    if nightly.outputs.runs_dir is None:
        raise ConfigError("setting 'nightly.outputs.runs_dir': the nightly pass needs a "
                          "folder for its runs ([hotspot.nightly.outputs] runs_dir = DIR)")
    if not nightly.sources.drop_folder and not nightly.sources.api.enabled:
        raise ConfigError("setting 'nightly.sources': no source: set "
                          "nightly.sources.drop_folder or nightly.sources.api.enabled = true")
    if len(settings.targets) > 1:
        raise ConfigError(f"setting 'target': the nightly pass publishes one target, got "
                          f"{settings.target!r}: give one name (e.g. crime or harm)")
    time_zone(nightly.schedule.timezone)  # an unknown zone fails now, not at 02:00
    chosen = [] if settings.forecast.model == AUTO else [settings.forecast.model]
    parse_model_params(None, {**{m: {} for m in chosen},
                              **settings.model_params})  # bad parameters fail now


def nightly_settings(config: Path | str) -> Settings:
    """The settings of the TOML ``config``, checked for a nightly pass."""
    settings = load_settings(Path(config).resolve())
    check_nightly(settings)
    return settings


def nothing_new_result(plan: Plan, message: str | None = None) -> dict[str, Any]:
    return {"status": "nothing_new", "run": None, "message": message or plan.message(),
            "notes": plan.notes}


def run_nightly(
    settings: Settings,
    *,
    step: Step = run_step,
    today: dt.date | None = None,
    logger: Logger | None = None,
    flow_run_id: str | None = None,
) -> dict[str, Any]:
    """One nightly pass: detect → download → ingest → cube → backtest → publish.

    Each step goes through ``step(name, fn, *args)``: called as is by default, run as a
    Prefect task by ``hotspot.flows.nightly``. The store's lock is held for the whole
    pass, so a second pass on the same store refuses at once. ``today`` dates the run
    folder (default: today in ``nightly.schedule.timezone``, see :func:`run_day`).
    """
    check_nightly(settings)
    today = today or run_day(settings.nightly.schedule.timezone)
    logger = logger or log
    started, started_at = time.monotonic(), utc_now()
    with store_lock(settings.store):
        plan = step(DETECT, detect, settings, logger=logger)
        if plan.nothing_new:
            return nothing_new_result(plan)
        downloads = [step(DOWNLOAD, fetch_api_month, settings, month, logger)
                     for month in plan.api_months]
        ingest = step(INGEST, ingest_new, settings, plan, downloads, logger)
        if not ingest.changed:
            logger.info("%s", NOT_CHANGED)
            return nothing_new_result(plan, NOT_CHANGED)
        cube = step(CUBE, rebuild_cube, settings)
        chosen = step(BACKTEST, backtest_recent, settings, cube)
        result = step(PUBLISH, publish_run, settings, cube, chosen, plan=plan,
                      downloads=downloads, ingest=ingest, started=started,
                      started_at=started_at, today=today, flow_run_id=flow_run_id,
                      logger=logger)
    logger.info("%s", result["message"])
    return result
