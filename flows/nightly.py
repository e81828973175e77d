"""The nightly flow: ``hotspot.nightly.run_nightly`` with each step a Prefect task.

The step order lives in the library only; this flow supplies the ``step`` that runs each
step as a task (the download gets Prefect retries on top of the API client's own bounded
retries). Serve it on a schedule with ``hotspot serve --config FILE`` (``serve_nightly``)
or deploy it to a work pool with ``prefect.yaml``; see docs/nightly.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.schedules import Cron

from hotspot.flows.steps import task_step
from hotspot.nightly import nightly_settings, run_nightly
from hotspot.nightly.run import DOWNLOAD

FLOW_NAME = "hotspot-nightly"


@flow(name=FLOW_NAME, description="Ingest new police.uk months, refit, backtest and publish.")
def nightly_flow(config: str) -> dict[str, Any]:
    """One nightly pass over the TOML ``config``; returns what it did (``status`` is
    ``nothing_new`` or ``published``)."""
    settings = nightly_settings(config)
    api = settings.nightly.sources.api
    step = task_step({DOWNLOAD: (api.task_retries, api.task_retry_delay_s)})
    return run_nightly(settings, step=step, logger=get_run_logger(),
                       flow_run_id=str(flow_run.id) if flow_run.id else None)


def serve_nightly(config: str | Path, *, cron: str | None = None, name: str | None = None,
                  timezone: str | None = None) -> None:
    """Serve ``nightly_flow`` as deployment ``hotspot-nightly/<name>`` on ``cron``
    (default: the config's schedule) until interrupted; needs a Prefect server
    (``PREFECT_API_URL``) for the schedule to fire."""
    config = str(Path(config).resolve())
    schedule = nightly_settings(config).nightly.schedule
    cron = cron or schedule.cron
    timezone = timezone or schedule.timezone
    kwargs: dict[str, Any] = {"name": name or schedule.deployment,
                              "parameters": {"config": config},
                              "description": f"Nightly hotspot pass for {config}",
                              "tags": ["hotspot", "nightly"]}
    if timezone:
        kwargs["schedules"] = [Cron(cron, timezone=timezone)]
    else:
        kwargs["cron"] = cron
    nightly_flow.serve(**kwargs)
