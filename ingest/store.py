"""The event store on disk.

Layout::

    STORE/store.json                               CRS and time resolution of the store
    STORE/events/month=YYYY-MM/<source>.parquet    canonical events, one file per month+source
    STORE/quarantine/month=YYYY-MM/<source>.parquet rows that did not become events, with reason
    STORE/reports/ingest-<stamp>.{json,md}         one report per ingest run
    STORE/area.gpkg                                the study area events were checked against

One file per (month, source) makes "re-ingesting a month replaces it" a single atomic
rename: a crash leaves either the old or the new file, never a mix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyproj.exceptions import CRSError

from hotspot.core.area import same_crs
from hotspot.core.atomic import atomic_path, write_text_atomic
from hotspot.core.errors import DataError
from hotspot.ingest.schema import EVENT_COLUMNS, EVENTS_SCHEMA, QUARANTINE_SCHEMA

TimeResolution = Literal["month", "timestamp"]

EVENTS_DIR = "events"
QUARANTINE_DIR = "quarantine"
REPORTS_DIR = "reports"
META_FILE = "store.json"
AREA_FILE = "area.gpkg"


def read_store_meta(store: Path) -> dict:
    """Return the store's metadata; raise ``DataError`` if ``store`` is not an event store."""
    meta = Path(store) / META_FILE
    if not meta.exists():
        raise DataError(
            f"store {store} has no {META_FILE}: run 'hotspot ingest' into it first"
        )
    return json.loads(meta.read_text())


def init_store(store: Path, crs: str, time_resolution: TimeResolution) -> dict:
    """Create the store or check that an existing one has the same CRS and time resolution."""
    store = Path(store)
    wanted = {"crs": crs, "time_resolution": time_resolution}
    if (store / META_FILE).exists():
        meta = read_store_meta(store)
        for key, value in wanted.items():
            held = meta.get(key)
            same = _same_store_crs(held, value) if key == "crs" else held == value
            if not same:
                raise DataError(
                    f"store {store} holds {key}={held!r} but this ingest needs "
                    f"{value!r}: use a separate --store for this source"
                )
        return meta
    store.mkdir(parents=True, exist_ok=True)
    write_text_atomic(store / META_FILE, json.dumps(wanted, indent=2))
    return wanted


def _same_store_crs(held: object, wanted: str) -> bool:
    """Whether the CRS a store holds (any spelling pyproj reads) is ``wanted``."""
    if not isinstance(held, str):
        return False
    try:
        return same_crs(held, wanted)
    except CRSError:
        raise DataError(
            f"{META_FILE} holds crs={held!r}, which pyproj cannot read: write it as e.g. "
            "EPSG:27700 or re-ingest into a new --store"
        ) from None


def _partition_file(store: Path, kind: str, month: str, source: str) -> Path:
    return Path(store) / kind / f"month={month}" / f"{source}.parquet"


def write_partition(
    store: Path, kind: Literal["events", "quarantine"], month: str, source: str, table: pd.DataFrame
) -> Path:
    """Atomically replace the ``(month, source)`` file of ``kind`` with ``table``."""
    schema = EVENTS_SCHEMA if kind == EVENTS_DIR else QUARANTINE_SCHEMA
    target = _partition_file(store, kind, month, source)
    arrow = pa.Table.from_pandas(table[schema.names], schema=schema, preserve_index=False)
    with atomic_path(target) as tmp:
        pq.write_table(arrow, tmp)
    return target


def remove_partition(store: Path, kind: str, month: str, source: str) -> None:
    """Delete a partition file if present (a re-ingest that left no rows of that kind)."""
    _partition_file(store, kind, month, source).unlink(missing_ok=True)


def list_months(store: Path, kind: str = EVENTS_DIR) -> list[str]:
    """Months (``YYYY-MM``) that have at least one partition file of ``kind``, sorted."""
    root = Path(store) / kind
    if not root.exists():
        return []
    return sorted(
        p.name.removeprefix("month=")
        for p in root.glob("month=*")
        if any(p.glob("*.parquet"))
    )


def _read(store: Path, kind: str, schema: pa.Schema, months: list[str] | None) -> pd.DataFrame:
    root = Path(store) / kind
    files = sorted(root.glob("month=*/*.parquet")) if root.exists() else []
    if months is not None:
        wanted = set(months)
        files = [f for f in files if f.parent.name.removeprefix("month=") in wanted]
    if not files:
        return schema.empty_table().to_pandas()
    dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet")
    return dataset.to_table().to_pandas()


def read_events(store: Path, months: list[str] | None = None) -> pd.DataFrame:
    """Read the canonical events table (optionally only some months), sorted by time and id."""
    read_store_meta(store)
    events = _read(store, EVENTS_DIR, EVENTS_SCHEMA, months)
    return events.sort_values(["time", "event_id"], kind="stable").reset_index(drop=True)[
        EVENT_COLUMNS
    ]


def read_quarantine(store: Path, months: list[str] | None = None) -> pd.DataFrame:
    """Read the quarantine table: every input row that did not become an event, with reason."""
    return _read(store, QUARANTINE_DIR, QUARANTINE_SCHEMA, months)
