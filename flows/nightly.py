"""The nightly flow: ``hotspot.nightly.run_nightly`` with each step a Prefect task.

The step order lives in the library only; this flow supplies the ``step`` that runs each
step as a task (the download gets Prefect retries with exponential backoff on top of the
API client's own bounded retries; local steps get none). Each run is named
``nightly-YYYY-MM-DD`` (the day in the schedule's time zone, as its run folder), ends in a
state named ``Nothing new``, ``Published`` or ``Published with warnings`` (a failure stays
``Failed``) and leaves artifacts: the summary, the top boxes and links into the run folder.
Serve it on a schedule with ``hotspot serve --config FILE`` (``serve_nightly``) or deploy
it to a work pool with ``prefect.yaml``; see docs/nightly.md and docs/notifications.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.runtime import flow_run
from prefect.schedules import Cron
from prefect.states import Completed, State

from hotspot.core.errors import HotspotError
from hotspot.flows.steps import Retry, task_step
from hotspot.nightly import nightly_settings, read_latest, run_day, run_nightly, run_view
from hotspot.nightly.run import DOWNLOAD
from hotspot.nightly.summary import RunView, artifact_key
from hotspot.settings import Settings, load_settings

FLOW_NAME = "hotspot-nightly"
#: Artifact keys are ``hotspot-<deployment>-<what>``, one of these (links: see LINKED_FILES).
SUMMARY, TOP_BOXES = "summary", "top-boxes"


def nightly_retries(settings: Settings) -> dict[str, Retry]:
    """Task retries by step name: the police.uk download only (``nightly.sources.api``'s
    ``task_retries``, first delay ``task_retry_delay_s``, doubling)."""
    api = settings.nightly.sources.api
    return {DOWNLOAD: (api.task_retries, api.task_retry_delay_s)}


def _start_time() -> dt.datetime | None:
    # a scheduled run is dated by its slot (a 02:00 run that starts late keeps its day)
    start = flow_run.scheduled_start_time
    return dt.datetime.fromisoformat(start.isoformat()) if start is not None else None


def nightly_run_name() -> str:
    """``nightly-YYYY-MM-DD``: the run's scheduled day in the config's time zone. A config
    that does not load falls back to the machine's zone: the flow then fails with the
    config's own message, under a still readable name."""
    try:
        zone = load_settings(Path(flow_run.parameters["config"]).resolve()
                             ).nightly.schedule.timezone
        day = run_day(zone, _start_time())
    except (HotspotError, KeyError, OSError):
        day = run_day(None, _start_time())
    return f"nightly-{day.isoformat()}"


def publish_artifacts(view: RunView, deployment: str) -> None:
    """The run's artifacts: the summary (markdown), the top boxes (table) and one link per
    file an operator opens, keyed ``hotspot-<deployment>-...`` so each key's history in
    the Artifacts page is one deployment's nights."""
    create_markdown_artifact(view.markdown, key=artifact_key(deployment, SUMMARY),
                             description=f"{view.outcome}: {view.message}")
    if view.boxes:
        create_table_artifact(view.boxes, key=artifact_key(deployment, TOP_BOXES),
                              description=f"Top {len(view.boxes)} boxes (the patrol list) "
                              "in rank order: expected count, per km², WGS84 point inside "
                              "the box and the area (ward) holding it")
    for link in view.links:
        create_link_artifact(link.url, link_text=link.text,
                             key=artifact_key(deployment, link.name),
                             description=f"{link.text} (a file:// link: open it on the "
                                         "machine that ran the flow)")


@flow(name=FLOW_NAME, flow_run_name=nightly_run_name,
      description="Ingest new police.uk months, refit, backtest and publish.")
def nightly_flow(config: str) -> State[dict[str, Any]]:
    """One nightly pass over the TOML ``config``. Its final state is named after the
    outcome; called directly it returns what the pass did (``status`` is ``nothing_new``
    or ``published``), as ``run_nightly`` does."""
    settings = nightly_settings(config)
    schedule, runs_dir = settings.nightly.schedule, Path(settings.nightly.outputs.runs_dir)
    result = run_nightly(settings, step=task_step(nightly_retries(settings)),
                         today=run_day(schedule.timezone, _start_time()),
                         logger=get_run_logger(),
                         flow_run_id=str(flow_run.id) if flow_run.id else None)
    view = run_view(result, latest=read_latest(runs_dir), runs_dir=runs_dir)
    publish_artifacts(view, schedule.deployment)
    return Completed(name=view.outcome, message=view.message, data=result)


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
