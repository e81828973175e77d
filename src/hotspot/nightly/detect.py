"""Detect what is new: due drop files, API months to fetch, or an unpublished store."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotspot.core.errors import DataError
from hotspot.ingest.drop_folder import DropItem, due_items, scan_drop_folder
from hotspot.ingest.police_api import PoliceAPIClient
from hotspot.ingest.store import META_FILE, QUARANTINE_DIR, list_months
from hotspot.nightly.state import published_differs, read_state
from hotspot.settings import Settings

log = logging.getLogger(__name__)
Logger = logging.Logger | logging.LoggerAdapter


@dataclass
class Plan:
    """What one pass found to do (``to_dict`` is its JSON shape)."""

    drop_due: list[DropItem] = field(default_factory=list)
    api_months: list[str] = field(default_factory=list)
    api_newest: str | None = None
    store_months: list[str] = field(default_factory=list)
    pending_publish: bool = False
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return not self.drop_due and not self.api_months and not self.pending_publish

    def message(self) -> str:
        if self.nothing_new:
            span = (f"{self.store_months[0]}..{self.store_months[-1]}" if self.store_months
                    else "empty")
            api = f"; API newest {self.api_newest}" if self.api_newest else ""
            return f"nothing new: store months {span}{api}; no new or changed drop files"
        parts = []
        if self.drop_due:
            months = sorted({m for item in self.drop_due for m in item.months})
            parts.append(f"{len(self.drop_due)} drop file(s) with month(s) {span_text(months)}")
        if self.api_months:
            parts.append(f"API month(s) {', '.join(self.api_months)}")
        if self.pending_publish and not parts:
            parts.append("store changed since the last published run")
        return "new data: " + "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"drop_due": [item.to_dict() for item in self.drop_due],
                "api_months": self.api_months, "api_newest": self.api_newest,
                "store_months": self.store_months, "pending_publish": self.pending_publish,
                "notes": self.notes, "problems": self.problems,
                "nothing_new": self.nothing_new, "message": self.message()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(drop_due=[DropItem.from_dict(d) for d in data["drop_due"]],
                   api_months=list(data["api_months"]), api_newest=data.get("api_newest"),
                   store_months=list(data["store_months"]),
                   pending_publish=bool(data["pending_publish"]), notes=list(data["notes"]),
                   problems=list(data.get("problems", [])))


def span_text(months: Sequence[str]) -> str:
    """``2020-01..2020-06 (6)``, one month alone, or ``-``."""
    months = sorted(months)
    if not months:
        return "-"
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]} ({len(months)})"


def _store_months(store: Path) -> tuple[list[str], list[str]]:
    if not (Path(store) / META_FILE).exists():
        return [], []
    return list_months(store), list_months(store, QUARANTINE_DIR)


def make_client(settings: Settings) -> PoliceAPIClient:
    api = settings.nightly.sources.api
    return PoliceAPIClient(api.base_url, timeout_s=api.timeout_s, max_retries=api.max_retries,
                           backoff_s=api.backoff_s, max_rate_per_s=api.max_rate_per_s,
                           max_requests=api.max_requests, max_tile_depth=api.max_tile_depth)


def api_months_to_fetch(available: Sequence[str], covered: Sequence[str], initial: int,
                        most: int) -> list[str]:
    """Months the API has that are newer than every covered month (or its newest
    ``initial`` months for an empty store), oldest first, at most ``most``."""
    available = sorted(available)
    if covered:
        newest = max(covered)
        todo = [m for m in available if m > newest]
    else:
        todo = available[-initial:]
    return todo[:most]


def detect(settings: Settings, state: dict[str, Any] | None = None,
           logger: Logger | None = None) -> Plan:
    """What is new: due drop files, API months to fetch, or an unpublished store."""
    logger = logger or log
    sources = settings.nightly.sources
    state = state if state is not None else read_state(settings.store)
    events_months, quarantine_months = _store_months(settings.store)
    plan = Plan(store_months=events_months)
    drop_months: set[str] = set()
    if sources.drop_folder:
        items = scan_drop_folder(sources.drop_folder, known=state["drop_files"],
                                 settle_s=sources.drop_settle_s)
        plan.drop_due = due_items(items, state["drop_files"],
                                  set(events_months) | set(quarantine_months))
        drop_months = {m for item in plan.drop_due for m in item.months}
        plan.notes.append(f"drop folder {sources.drop_folder}: {len(items)} file(s), "
                          f"{len(plan.drop_due)} new or changed")
    if sources.api.enabled:
        try:
            with make_client(settings) as client:
                available = client.available_months()
        except DataError as exc:
            if not plan.drop_due:
                raise
            # the drop folder has new data: publish it, and say loudly what is missing
            logger.warning("police.uk API unavailable, going on with the drop folder: %s", exc)
            plan.problems.append(f"police.uk API unavailable: {exc}")
            available = []
        plan.api_newest = available[-1] if available else None
        covered = sorted(set(events_months) | drop_months | set(state["api_months"]))
        plan.api_months = api_months_to_fetch(available, covered, sources.api.initial_months,
                                              sources.api.max_months_per_run)
        plan.notes.append(f"police.uk API {sources.api.base_url}: newest month "
                          f"{plan.api_newest}, to fetch: {', '.join(plan.api_months) or 'none'}")
    if events_months and not plan.drop_due and not plan.api_months:
        plan.pending_publish = published_differs(settings, state)
    logger.info("nightly detect: %s", plan.message())
    return plan
