"""police.uk API crime records as rows of a street-level CSV, kept under the store's
``raw/api`` folder, so they are ingested by the same checks as downloaded files."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from hotspot.ingest.police_uk import STREET_COLUMNS

log = logging.getLogger(__name__)

#: Raw API records are kept under ``STORE/raw/api/YYYY-MM/``.
RAW_API_DIR = Path("raw") / "api"

#: Category slug → the "Crime type" the bulk CSVs use (POLICE_UK.md §3), current and historic.
CATEGORY_NAMES: dict[str, str] = {
    "anti-social-behaviour": "Anti-social behaviour",
    "bicycle-theft": "Bicycle theft",
    "burglary": "Burglary",
    "criminal-damage-arson": "Criminal damage and arson",
    "drugs": "Drugs",
    "other-theft": "Other theft",
    "possession-of-weapons": "Possession of weapons",
    "public-order": "Public order",
    "robbery": "Robbery",
    "shoplifting": "Shoplifting",
    "theft-from-the-person": "Theft from the person",
    "vehicle-crime": "Vehicle crime",
    "violent-crime": "Violence and sexual offences",
    "other-crime": "Other crime",
    # before 2013-05 (UNCONFIRMED dates, §3)
    "public-disorder-weapons": "Public disorder and weapons",
}
#: The 14 categories police.uk publishes today (``all-crime`` is a query slug only).
CURRENT_CATEGORIES: tuple[str, ...] = tuple(
    name for slug, name in CATEGORY_NAMES.items() if slug != "public-disorder-weapons"
)


def record_key(record: dict) -> str:
    """De-duplication key of a record returned by two tiles: ``persistent_id`` with the
    API's ``id`` (stable within one fetch; anti-social behaviour has only the ``id``).

    Two *different* records sharing a ``persistent_id`` (police.uk has such pairs) keep
    their distinct ``id`` and are both kept, so ingest sees them exactly as in the bulk
    file (the second one quarantined as ``duplicate_crime_id``)."""
    pid = str(record.get("persistent_id") or "")
    if record.get("id") is not None:
        return f"{pid}:{record['id']}"
    if pid:
        return f"{pid}:"
    return "h:" + hashlib.sha1(repr(sorted(record.items())).encode()).hexdigest()


def category_name(slug: str) -> str:
    """The CSV "Crime type" of an API category slug (unknown slugs are kept as given)."""
    if slug not in CATEGORY_NAMES:
        log.warning("police.uk API: unknown crime category slug %r kept as is", slug)
    return CATEGORY_NAMES.get(slug, slug)


def records_to_street_rows(
    records: Iterable[dict], month: str, force_name: str = ""
) -> list[dict[str, str]]:
    """API crime records → rows of a police.uk street-level CSV (``STREET_COLUMNS``).

    ``Crime ID`` is the ``persistent_id`` (blank for anti-social behaviour, as in the
    CSVs); a null ``location`` gives blank coordinates (quarantined as ``no_coordinates``
    at ingest); the LSOA is unknown to the API and left blank.
    """
    rows = []
    for record in records:
        location = record.get("location") or {}
        street = location.get("street") or {}
        outcome = record.get("outcome_status") or {}
        rows.append({
            "Crime ID": str(record.get("persistent_id") or ""),
            "Month": str(record.get("month") or month),
            "Reported by": force_name,
            "Falls within": force_name,
            "Longitude": str(location.get("longitude") or ""),
            "Latitude": str(location.get("latitude") or ""),
            "Location": str(street.get("name") or ("No Location" if not location else "")),
            "LSOA code": "",
            "LSOA name": "",
            "Crime type": category_name(str(record.get("category") or "")),
            "Last outcome category": str(outcome.get("category") or ""),
            "Context": str(record.get("context") or ""),
        })
    rows.sort(key=lambda r: (r["Crime type"], r["Crime ID"], r["Longitude"], r["Latitude"],
                             r["Location"], r["Last outcome category"]))
    return rows


def street_csv_text(rows: Sequence[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(STREET_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def api_csv_path(store: Path | str, month: str, force: str = "api") -> Path:
    """``STORE/raw/api/YYYY-MM/YYYY-MM-<force>-street.csv``."""
    return Path(store) / RAW_API_DIR / month / f"{month}-{force}-street.csv"
