"""The nightly flow: detect new police.uk months, ingest, refit, backtest, publish.

Each task wraps one step of ``hotspot.nightly`` (the library runs the same steps without
Prefect in ``run_nightly``). The download task has Prefect retries on top of the API
client's own bounded retries. Serve it on a schedule with ``hotspot serve --config FILE``
(``serve_nightly``) or deploy it to a work pool with ``prefect.yaml``; see docs/nightly.md.
"""

from __future__ import annotations

import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hotspot import nightly

FLOW_NAME = "hotspot-nightly"


@task(name="detect-new-data", cache_policy=NO_CACHE)
def detect_task(config: str) -> dict:
    cfg = nightly.load_nightly_config(config)
    return nightly.detect(cfg, logger=get_run_logger()).to_dict()


@task(name="download-police-api", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=60)
def download_task(config: str, month: str) -> dict:
    cfg = nightly.load_nightly_config(config)
    return nightly.fetch_api_month(cfg, month, get_run_logger())


@task(name="ingest-new-data", cache_policy=NO_CACHE)
def ingest_task(config: str, plan: dict, downloads: list[dict]) -> dict:
    cfg = nightly.load_nightly_config(config)
    return nightly.ingest_new(cfg, nightly.Plan.from_dict(plan), downloads, get_run_logger())


@task(name="rebuild-cube", cache_policy=NO_CACHE)
def cube_task(config: str):
    return nightly.rebuild_cube(nightly.load_nightly_config(config))


@task(name="backtest-recent", cache_policy=NO_CACHE)
def backtest_task(config: str, cube):
    return nightly.backtest_recent(nightly.load_nightly_config(config), cube)


@task(name="publish-run", cache_policy=NO_CACHE)
def publish_task(config: str, cube, record, plan: dict, downloads: list[dict], ingest: dict,
                 started: float, started_at: str, flow_run_id: str | None) -> dict:
    cfg = nightly.load_nightly_config(config)
    return nightly.publish_run(cfg, cube, record, plan=nightly.Plan.from_dict(plan),
                               downloads=downloads, ingest=ingest, started=started,
                               started_at=started_at, flow_run_id=flow_run_id,
                               logger=get_run_logger())


@flow(name=FLOW_NAME, description="Ingest new police.uk months, refit, backtest and publish.")
def nightly_flow(config: str) -> dict:
    """One nightly pass over the TOML ``config``; returns what it did (``status`` is
    ``nothing_new`` or ``published``)."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    config = str(Path(config).resolve())
    cfg = nightly.load_nightly_config(config)
    started, started_at = time.monotonic(), nightly.utc_now()
    with nightly.nightly_lock(cfg.store):
        plan = detect_task(config)
        if plan["nothing_new"]:
            logger.info("%s", plan["message"])
            return nightly.nothing_new_result(nightly.Plan.from_dict(plan))
        api = cfg.sources.api
        download = download_task.with_options(retries=api.task_retries,
                                               retry_delay_seconds=api.task_retry_delay_s)
        downloads = [download(config, month) for month in plan["api_months"]]
        ingest = ingest_task(config, plan, downloads)
        if not ingest["changed"]:
            message = "ingested files, but the store's events did not change since the last " \
                      "published run"
            logger.info("%s", message)
            return nightly.nothing_new_result(nightly.Plan.from_dict(plan), message)
        cube = cube_task(config)
        record = backtest_task(config, cube)
        result = publish_task(config, cube, record, plan, downloads, ingest, started,
                              started_at, str(flow_run.id) if flow_run.id else None)
    logger.info("%s", result["message"])
    return result


def serve_nightly(config: str | Path, *, cron: str | None = None, name: str | None = None,
                  timezone: str | None = None) -> None:
    """Serve ``nightly_flow`` as deployment ``hotspot-nightly/<name>`` on ``cron``
    (default: the config's schedule) until interrupted; needs a Prefect server
    (``PREFECT_API_URL``) for the schedule to fire."""
    config = str(Path(config).resolve())
    cfg = nightly.load_nightly_config(config)
    cron = cron or cfg.schedule.cron
    timezone = timezone or cfg.schedule.timezone
    kwargs: dict = {"name": name or cfg.schedule.deployment, "parameters": {"config": config},
                    "description": f"Nightly hotspot pass for {config}",
                    "tags": ["hotspot", "nightly"]}
    if timezone:
        from prefect.schedules import Cron

        kwargs["schedules"] = [Cron(cron, timezone=timezone)]
    else:
        kwargs["cron"] = cron
    nightly_flow.serve(**kwargs)
