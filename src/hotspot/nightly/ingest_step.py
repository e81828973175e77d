"""Fetch new API months into the store's raw folder and ingest everything new."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hotspot.core.area import StudyArea, load_area
from hotspot.ingest.police_api import download_month
from hotspot.ingest.police_uk import force_slug, ingest_police_uk
from hotspot.ingest.store import EVENTS_DIR, QUARANTINE_DIR, remove_partition
from hotspot.nightly.detect import Logger, Plan, make_client, span_text
from hotspot.nightly.state import published_differs, read_state, utc_now, write_state
from hotspot.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What one pass ingested (``to_dict`` is the JSON shape in ``run.json``)."""

    n_rows: int = 0
    n_events: int = 0
    n_quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    months: list[str] = field(default_factory=list)
    report: str | None = None
    files: list[str] = field(default_factory=list)
    #: Whether the store's events (or the settings) changed since the last published run.
    changed: bool = False

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record.pop("changed")
        return record


def area_of(settings: Settings) -> StudyArea:
    """The study area of the pass (``check_nightly`` made sure it is set)."""
    return load_area(settings.area, settings.area_filter, settings.crs,
                     clip_land=settings.clip_water)


def fetch_api_month(settings: Settings, month: str, logger: Logger | None = None
                    ) -> dict[str, Any]:
    """Download one month of the study area from the API into ``STORE/raw/api``."""
    logger = logger or log
    wgs84 = area_of(settings).parts.to_crs("EPSG:4326").union_all()
    api = settings.nightly.sources.api
    with make_client(settings) as client:
        got = download_month(client, wgs84, month, settings.store, force=api.force,
                             force_name=api.force_name,
                             include_no_location=api.include_no_location)
    logger.info("police.uk API %s: %d records in %d request(s), %d tile(s), %d answered 503",
                month, got.n_records, got.n_requests, got.n_tiles, got.n_too_many)
    return got.to_dict()


def _supersede_api_months(store: Path, state: dict[str, Any], plan: Plan) -> list[str]:
    """Remove API partitions of months a drop file now brings under another source name,
    so the file's rows replace them instead of being flagged as their duplicates."""
    removed = []
    for item in plan.drop_due:
        for month in item.months:
            fetched = state["api_months"].get(month)
            if not fetched or fetched.get("source") in item.sources:
                continue
            for kind in (EVENTS_DIR, QUARANTINE_DIR):
                remove_partition(store, kind, month, fetched["source"])
            state["api_months"].pop(month)
            removed.append(month)
    return removed


def ingest_new(settings: Settings, plan: Plan, downloads: Sequence[dict[str, Any]],
               logger: Logger | None = None) -> IngestSummary:
    """Ingest the due drop files and the API downloads in one ``ingest_police_uk`` call and
    record them in the state file."""
    logger = logger or log
    store = settings.store
    state = read_state(store)
    paths = [item.path for item in plan.drop_due] + [Path(d["path"]) for d in downloads]
    summary = IngestSummary(files=[str(p) for p in paths])
    if paths:
        superseded = _supersede_api_months(store, state, plan)
        if superseded:
            logger.info("drop files replace API months %s", ", ".join(superseded))
        report = ingest_police_uk(paths, store, area=area_of(settings))
        summary = IngestSummary(
            n_rows=report.n_rows, n_events=report.n_events, n_quarantined=report.n_quarantined,
            by_reason=dict(sorted(report.by_reason.items())),  # by name, as health.json had
            months=list(report.months), report=str(report.path), files=summary.files)
        now = utc_now()
        for item in plan.drop_due:
            state["drop_files"][item.key] = {**item.to_dict(), "ingested_at": now}
        for got in downloads:
            source = force_slug(Path(got["path"]).name)
            state["api_months"][got["month"]] = {**got, "source": source, "ingested_at": now}
        write_state(store, state)
        logger.info("ingested %d rows: %d events, %d quarantined, months %s", report.n_rows,
                    report.n_events, report.n_quarantined, span_text(report.months))
    summary.changed = published_differs(settings, state)
    return summary
