"""Replacing one (month, source) partition file of the store: at once (atomic rename of a
sorted table) or in row groups as blocks come (renamed on commit), inside the staging
folder of the store's next generation (what a killed run leaves there is removed with the
folder by the next write: :func:`hotspot.ingest.store.clean_store`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import hotspot.ingest.store as event_store
from hotspot.core.atomic import atomic_path
from hotspot.ingest._spill import Piece
from hotspot.ingest.schema import QUARANTINE_SCHEMA

#: Partitions with more rows than this are written in row groups as their pieces are read
#: (events in input order) instead of being gathered and sorted by time and id in memory.
SORT_LIMIT_ROWS = 100_000


def _write_table(store: Path, kind: str, month: str, source: str, table: pa.Table | None) -> None:
    """Atomically replace a partition file with ``table`` (remove it when empty)."""
    if table is None or table.num_rows == 0:
        event_store.remove_partition(store, kind, month, source)
        return
    schema = event_store.EVENTS_SCHEMA if kind == event_store.EVENTS_DIR else QUARANTINE_SCHEMA
    target = Path(store) / kind / f"month={month}" / f"{source}.parquet"
    with atomic_path(target) as tmp:
        pq.write_table(table.select(schema.names).cast(schema), tmp)


class _StreamedFile:
    """A partition file written in row groups under a temporary name, renamed on commit."""

    def __init__(self, store: Path, kind: str, month: str, source: str) -> None:
        self.schema = event_store.EVENTS_SCHEMA if kind == event_store.EVENTS_DIR else (
            QUARANTINE_SCHEMA
        )
        self.store, self.kind, self.month, self.source = store, kind, month, source
        self.target = Path(store) / kind / f"month={month}" / f"{source}.parquet"
        self.tmp = self.target.with_name(f".{self.target.name}.tmp-{uuid.uuid4().hex[:8]}")
        self.writer: pq.ParquetWriter | None = None

    def add(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.writer is None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(table.select(self.schema.names).cast(self.schema))

    def commit(self) -> None:
        if self.writer is None:
            event_store.remove_partition(self.store, self.kind, self.month, self.source)
            return
        self.writer.close()
        self.writer = None
        os.replace(self.tmp, self.target)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


def write_spilled_partition(
    store: Path,
    month: str,
    source: str,
    pieces: Sequence[Piece],
    blocks: Callable[[], Iterator[tuple[pa.Table, pa.Table]]],
) -> None:
    """Replace the ``(month, source)`` events and quarantine files (events first)."""
    if sum(p.n_rows for p in pieces) <= SORT_LIMIT_ROWS:
        parts = list(blocks())
        events = quarantine = None
        if parts:  # sorts are stable
            events = pa.concat_tables([e for e, _ in parts]).sort_by(
                [("time", "ascending"), ("event_id", "ascending")])
            quarantine = pa.concat_tables([q for _, q in parts]).sort_by(
                [("file", "ascending"), ("row", "ascending")])
        _write_table(store, event_store.EVENTS_DIR, month, source, events)
        _write_table(store, event_store.QUARANTINE_DIR, month, source, quarantine)
        return
    events_file = _StreamedFile(store, event_store.EVENTS_DIR, month, source)
    quarantine_file = _StreamedFile(store, event_store.QUARANTINE_DIR, month, source)
    try:
        for events, quarantine in blocks():
            events_file.add(events)
            quarantine_file.add(quarantine)
        events_file.commit()
        quarantine_file.commit()
    finally:
        events_file.abort()
        quarantine_file.abort()
