"""Writing streamed inputs (police.uk) to the store in bounded memory.

Each checked block was parked in a :class:`~hotspot.ingest._spill.Spill` (Arrow files, one
per input and month). :func:`commit_spilled` then flags duplicates month by month (holding
only 16-byte digests of the ids seen), gives rows without an id their ``asb-`` ids and
writes each ``(month, source)`` partition from its pieces. Memory stays bounded by one
block, one month's ids and one partition (partitions over
:data:`~hotspot.ingest._partition_files.SORT_LIMIT_ROWS` rows are written in row groups as
they come, without sorting).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

import hotspot.ingest.store as event_store
from hotspot.core.progress import ProgressCallback
from hotspot.ingest._commit import (
    CommitContext,
    finish,
    merge_invalid,
    refuse_later_copies,
    replace_partition,
)
from hotspot.ingest._digests import DigestSet, existing_digests, id_digests
from hotspot.ingest._partition_files import write_spilled_partition
from hotspot.ingest._rows import REASON_CODE, REASON_TEXT
from hotspot.ingest._spill import Piece, Spill
from hotspot.ingest.report import EVENT, IngestReport, RowCount
from hotspot.ingest.schema import DUPLICATE_CRIME_ID, INVALID_MONTH, QUARANTINE_SCHEMA


def _flag_month_duplicates(
    pieces: Sequence[Piece], seen: DigestSet, stored: DigestSet,
    check_stored: Callable[[pd.DataFrame], None],
) -> dict[tuple[int, int], np.ndarray]:
    """``duplicate_crime_id`` for one month: positions per (piece, block) of rows whose id
    came earlier in (source, file, row) order this month, in an earlier month of this run
    (``seen``), or in the store (``stored``; the run's first copies of those go to
    ``check_stored`` first). Adds the month's first occurrences to ``seen``."""
    his, los, where = [], [], []
    for p_index, piece in enumerate(pieces):
        for b_index, table in enumerate(Spill.read(piece, ["code", "unique_id", "event_id"])):
            code = table.column("code").to_numpy()
            unique = table.column("unique_id").to_numpy(zero_copy_only=False)
            candidates = np.flatnonzero((code == 0) & unique.astype(bool))
            if not candidates.size:
                continue
            ids = table.column("event_id").take(pa.array(candidates)).to_numpy(
                zero_copy_only=False
            )
            hi, lo = id_digests(ids)
            his.append(hi)
            los.append(lo)
            where.append(((p_index, b_index), candidates.astype(np.int32)))
    if not his:
        return {}
    hi, lo = np.concatenate(his), np.concatenate(los)
    del his, los
    order = np.lexsort((lo, hi))  # stable: equal digests stay in (file, row) order
    same = np.zeros(len(hi), dtype=bool)
    same[1:] = (hi[order[1:]] == hi[order[:-1]]) & (lo[order[1:]] == lo[order[:-1]])
    duplicate = np.zeros(len(hi), dtype=bool)
    duplicate[order] = same
    del order, same
    if len(seen):
        duplicate |= seen.contains(hi, lo)
    if len(stored):
        in_store = stored.contains(hi, lo)
        if (in_store & ~duplicate).any():
            check_stored(_ids_at(pieces, where, in_store & ~duplicate))
        duplicate |= in_store
    keep = ~duplicate
    seen.add(hi[keep], lo[keep])
    del hi, lo, keep
    flagged: dict[tuple[int, int], np.ndarray] = {}
    start = 0
    for key, candidates in where:
        mask = duplicate[start : start + len(candidates)]
        start += len(candidates)
        if mask.any():
            flagged[key] = candidates[mask]
    return flagged


def _ids_at(
    pieces: Sequence[Piece], where: list[tuple[tuple[int, int], np.ndarray]], mask: np.ndarray
) -> pd.DataFrame:
    """``event_id``, ``month``, ``source`` of the candidates ``mask`` selects (re-read: rare)."""
    found, start = [], 0
    blocks = {}
    for (p_index, b_index), candidates in where:
        chosen = candidates[mask[start : start + len(candidates)]]
        start += len(candidates)
        if chosen.size:
            blocks.setdefault(p_index, {})[b_index] = chosen
    for p_index, chosen_by_block in blocks.items():
        piece = pieces[p_index]
        for b_index, table in enumerate(Spill.read(piece, ["event_id"])):
            if b_index in chosen_by_block:
                ids = table.column("event_id").take(pa.array(chosen_by_block[b_index]))
                found.append(pd.DataFrame({"event_id": ids.to_numpy(zero_copy_only=False),
                                           "month": piece.month, "source": piece.source}))
    return pd.concat(found, ignore_index=True)


class _AsbCounter:
    """Ids of rows without one: ``asb-<key>-<n>``, ``n`` counting identical rows (same key)
    earlier in (file, row) order within the partition."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def ids(self, keys: pd.Series) -> pd.Series:
        keys = keys.dropna()
        if keys.empty:
            return keys
        occurrence = keys.groupby(keys, sort=False).cumcount()
        totals = keys.value_counts(sort=False)
        if self.seen:
            occurrence += keys.map(self.seen).fillna(0).astype("int64")
            totals = totals + totals.index.map(self.seen).fillna(0).astype("int64")
        self.seen.update(zip(totals.index.tolist(), totals.tolist(), strict=True))
        return "asb-" + keys + "-" + occurrence.astype("str")


_EVENT_FIELDS = ["event_id", "time", "lon", "lat", "x", "y", "category", "area_code"]


def _constant(value: str, n: int) -> pa.Array:
    return pa.array(np.full(n, value, dtype=object), type=pa.string())


def _partition_blocks(
    pieces: Sequence[Piece],
    month: str,
    source: str,
    duplicates: dict[tuple[int, int], np.ndarray],
    piece_index: dict[int, int],
    raw_of: Callable[[str, np.ndarray], pa.Array],
    counts: Counter,
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """``(events, quarantine)`` tables of one partition, one block at a time, in order."""
    asb = _AsbCounter()
    dup_code = REASON_CODE[DUPLICATE_CRIME_ID]
    for piece in pieces:
        for b_index, table in enumerate(Spill.read(piece)):
            flagged = duplicates.get((piece_index[id(piece)], b_index))
            code = table.column("code").to_numpy().copy()
            if flagged is not None:
                code[flagged] = dup_code
            keys = table.column("asb_key")
            if keys.null_count < len(keys):
                where = np.flatnonzero(keys.is_valid().to_numpy(zero_copy_only=False))
                ids = asb.ids(pd.Series(keys.take(pa.array(where)).to_numpy(zero_copy_only=False),
                                        index=where, dtype=object))
                event_id = table.column("event_id").to_numpy(zero_copy_only=False).copy()
                event_id[where] = ids.to_numpy(dtype=object)
                table = table.set_column(table.schema.get_field_index("event_id"), "event_id",
                                         pa.array(event_id, type=pa.string()))
            is_event = code == 0
            events = table.select(_EVENT_FIELDS).filter(pa.array(is_event))
            events = events.append_column("source", _constant(source, events.num_rows))
            bad = ~is_event
            raw = table.column("raw")
            if flagged is not None:
                values = raw.to_numpy(zero_copy_only=False).copy()
                rows = table.column("row").to_numpy()[flagged]
                values[flagged] = raw_of(piece.label, rows - 1).to_numpy(zero_copy_only=False)
                raw = pa.array(values, type=pa.string())
            mask = pa.array(bad)
            n_bad = int(bad.sum())
            quarantine = pa.table({
                "file": _constant(piece.label, n_bad),
                "row": table.column("row").filter(mask),
                "month": _constant(month, n_bad),
                "reason": pa.array(REASON_TEXT[code[bad]], type=pa.string()),
                "raw": raw.filter(mask),
                "source": _constant(source, n_bad),
            })
            counts[(month, EVENT)] += int(is_event.sum())
            reasons, n = np.unique(code[bad], return_counts=True)
            for reason, k in zip(REASON_TEXT[reasons], n, strict=True):
                counts[(month, reason)] += int(k)
            yield events, quarantine


def commit_spilled(
    spill: Spill, ctx: CommitContext, *, raw_of: Callable[[str, np.ndarray], pa.Array]
) -> IngestReport:
    """:func:`commit` for rows parked in ``spill``: flag duplicates month by month, replace
    every (month, source) partition the input touches, save the area and the report.

    ``raw_of(label, positions)`` re-reads the raw fields of rows (0-based positions) of an
    input; it is called only for rows found to be duplicates.
    """
    store = ctx.store
    replaced = ctx.replaced((p.month, p.source) for p in spill.pieces if p.n_rows)
    stored = existing_digests(store, set(replaced)) if ctx.has_store else DigestSet()
    by_month: dict[str, list[Piece]] = {}
    # (source, file) order within a month: which copy of a repeated id wins does not
    # depend on where the files lie
    for piece in sorted(spill.pieces, key=lambda p: (p.source, p.order, p.path.name)):
        if piece.n_rows:
            by_month.setdefault(piece.month, []).append(piece)
    steps = ctx.steps(replaced)
    counts: Counter = Counter()

    with event_store.staged_generation(store) as stage:
        event_store.init_store(stage, ctx.crs, ctx.resolution)
        def check_stored(hits: pd.DataFrame) -> None:
            refuse_later_copies(store, set(replaced), hits)

        _write_partitions(stage, steps, by_month, stored, check_stored, raw_of, ctx.labels,
                          counts, ctx.report_progress)
        records = [RowCount(m, r, n) for (m, r), n in sorted(counts.items()) if n]
        return finish(ctx, stage, records)


def _write_partitions(
    stage: Path,
    steps: Sequence[tuple[str, str]],
    by_month: dict[str, list[Piece]],
    stored: DigestSet,
    check_stored: Callable[[pd.DataFrame], None],
    raw_of: Callable[[str, np.ndarray], pa.Array],
    labels: set[str],
    counts: Counter,
    progress: ProgressCallback,
) -> None:
    """Write every ``(month, source)`` partition of ``steps`` into the staging folder."""
    seen = DigestSet()
    duplicates: dict[tuple[int, int], np.ndarray] = {}
    piece_index: dict[int, int] = {}
    current = None
    for done, (month, source) in enumerate(steps):
        progress("write store", done, len(steps))
        month_pieces = by_month.get(month, [])
        if month != current:
            current = month
            piece_index = {id(p): i for i, p in enumerate(month_pieces)}
            duplicates = (
                _flag_month_duplicates(month_pieces, seen, stored, check_stored)
                if month != INVALID_MONTH else {}
            )
        pieces = [p for p in month_pieces if p.source == source]

        def blocks(pieces=pieces, month=month, source=source, duplicates=duplicates,
                   piece_index=piece_index):
            return _partition_blocks(pieces, month, source, duplicates, piece_index, raw_of,
                                     counts)

        if month != INVALID_MONTH:
            write_spilled_partition(stage, month, source, pieces, blocks)
        else:
            parts = [q.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)
                     for _, q in blocks()]
            new = pa.concat_tables([QUARANTINE_SCHEMA.empty_table(), *parts]).to_pandas()
            bad = merge_invalid(stage, source, new, labels)
            replace_partition(stage, event_store.QUARANTINE_DIR, month, source, bad)
    progress("write store", len(steps), len(steps))
