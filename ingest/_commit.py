"""Writing checked rows held in memory to the store: flag duplicate ids, replace every
(month, source) partition the input touches, then save the area and the run's report, all
in one staged generation committed at once (:func:`hotspot.ingest.store.staged_generation`):
a run killed or out of disk part-way changes nothing.

Duplicate ids (``duplicate_crime_id``): among all copies of an id, the one with the smallest
(month, source, file, row) wins and the others are quarantined, so the store's content does
not depend on the order in which months were ingested. Within one run this is a sort. Across
runs, a copy this run brings is quarantined when the store's kept copy is earlier; when the
kept copy is *later* (its month was ingested first), the run is refused before anything is
written (:func:`refuse_later_copies`): keeping it would make the result depend on the
order, and demoting it would need that file's raw row, which the store does not keep.
Ingesting both months in one run gives the order-independent result.

The run's settings (:class:`CommitContext`) and the partition helpers here
(:func:`replace_partition`, :func:`merge_invalid`, :func:`finish`) are shared with the
streamed path, :mod:`hotspot.ingest._commit_spilled`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

import hotspot.ingest.store as event_store
from hotspot.core.area import StudyArea
from hotspot.core.atomic import atomic_path, write_text_atomic
from hotspot.core.errors import DataError
from hotspot.core.progress import ProgressCallback, no_progress
from hotspot.ingest._raw import raw_json
from hotspot.ingest._read import CsvInput
from hotspot.ingest._rows import REASON_CODE, REASON_TEXT
from hotspot.ingest.report import EVENT, IngestReport, InputFile, RowCount, utc_now
from hotspot.ingest.schema import DUPLICATE_CRIME_ID, INVALID_MONTH


def _existing_ids(store: Path, replaced: set[tuple[str, str]]) -> pa.Array:
    """Event ids in the store's partitions that this ingest does not replace."""
    root = event_store.committed_root(store) / event_store.EVENTS_DIR
    files = (
        [
            str(f)
            for f in sorted(root.glob("month=*/*.parquet"))
            if (f.parent.name.removeprefix("month="), f.stem) not in replaced
        ]
        if root.exists()
        else []
    )
    if not files:
        return pa.array([], type=pa.string())
    table = ds.dataset(files, format="parquet").to_table(columns=["event_id"])
    return table.column("event_id").combine_chunks()


def refuse_later_copies(
    store: Path, replaced: set[tuple[str, str]], hits: pd.DataFrame
) -> None:
    """Raise ``DataError`` if a partition the run keeps holds, as an event, an id of
    ``hits`` (columns ``event_id``, ``month``, ``source``: this run's winning copies whose
    id the store holds) in a later (month, source) than the run's copy."""
    if hits.empty:
        return
    root = event_store.committed_root(store) / event_store.EVENTS_DIR
    for path in sorted(root.glob("month=*/*.parquet")):
        month, source = path.parent.name.removeprefix("month="), path.stem
        if (month, source) in replaced:
            continue
        earlier = hits[(hits["month"] < month)
                       | ((hits["month"] == month) & (hits["source"] < source))]
        if earlier.empty:
            continue
        held = pq.read_table(path, columns=["event_id"]).column("event_id")
        found = earlier[earlier["event_id"].isin(set(held.to_pylist()))]
        if len(found):
            first = found.iloc[0]
            raise DataError(
                f"Crime ID {first['event_id']!r} ({len(found)} id(s) in all) of {first['month']} "
                f"{first['source']} is already an event of the store's later partition {month} "
                f"{source}: the earliest copy wins whatever the order of ingests, so ingest "
                f"the {month} {source} file again in the same run; nothing was written"
            )


def flag_duplicates(
    rows: pd.DataFrame, existing: pa.Array,
    check_stored: Callable[[pd.DataFrame], None] | None = None,
) -> np.ndarray:
    """Flag ``duplicate_crime_id``: an id seen earlier by (month, file, row) or in the store.

    Only rows with an id from the data that passed every other check take part, so the
    first *valid* record of a crime becomes the event. ``check_stored`` gets this run's
    first copies of ids the store holds (``event_id``, ``month``, ``source``) before any is
    flagged (see :func:`refuse_later_copies`). Returns the mask flagged here.
    """
    code = rows["code"].to_numpy()
    candidates = (code == 0) & rows["unique_id"].to_numpy(dtype=bool)
    mask = np.zeros(len(rows), dtype=bool)
    if not candidates.any():
        return mask
    positions = np.flatnonzero(candidates)
    order = rows.iloc[positions][["month", "source", "file", "row", "event_id"]].reset_index(
        drop=True)
    order = order.sort_values(["month", "source", "file", "row"], kind="stable")
    repeated = order["event_id"].duplicated(keep="first").to_numpy()
    if len(existing):
        ids = pa.array(order["event_id"].to_numpy(dtype=object), type=pa.string())
        stored = pc.is_in(ids, value_set=existing).to_numpy(zero_copy_only=False)
        if check_stored is not None:
            check_stored(order.loc[stored & ~repeated, ["event_id", "month", "source"]])
        repeated = repeated | stored
    mask[positions[order.index.to_numpy()[repeated]]] = True
    rows["code"] = np.where(mask, REASON_CODE[DUPLICATE_CRIME_ID], code).astype(np.int8)
    return mask


def merge_invalid(store: Path, source: str, new: pd.DataFrame, labels: set[str]) -> pd.DataFrame:
    """The ``invalid`` quarantine partition: rows of earlier ingests from files this ingest
    did not read, plus this ingest's."""
    path = store / event_store.QUARANTINE_DIR / f"month={INVALID_MONTH}" / f"{source}.parquet"
    if not path.exists():
        return new
    old = pq.read_table(path).to_pandas()
    old = old[~old["file"].isin(labels)]
    return pd.concat([old, new], ignore_index=True) if len(old) else new


@dataclass(frozen=True)
class CommitContext:
    """What a commit needs besides the rows: the run's inputs, their report entries, the
    store and how to describe it. One object for :func:`commit` and
    :func:`~hotspot.ingest._commit_spilled.commit_spilled`, so both paths replace the same
    partitions and write the same report from the same settings."""

    inputs: Sequence[CsvInput]
    files: Sequence[InputFile]
    store: Path
    crs: str
    resolution: event_store.TimeResolution
    area: StudyArea | None
    started_at: str
    progress: ProgressCallback | None = None
    #: parse warnings the reader found, kept in the report
    warnings: Sequence[str] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "store", Path(self.store))

    @property
    def report_progress(self) -> ProgressCallback:
        return self.progress or no_progress

    @property
    def labels(self) -> set[str]:
        return {inp.label for inp in self.inputs}

    @property
    def has_store(self) -> bool:
        """Whether the store has a committed generation (else there is nothing to compare)."""
        return (event_store.committed_root(self.store) / event_store.META_FILE).exists()

    def replaced(self, months: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The dated (month, source) partitions to replace, sorted: those ``months`` (the
        rows') name plus each input's own month, which is replaced even when it holds no
        valid row (so a corrected file empties what it no longer holds)."""
        keys = set(months) | {(inp.month, inp.source) for inp in self.inputs if inp.month}
        return sorted(key for key in keys if key[0] != INVALID_MONTH)

    def steps(self, replaced: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The partitions to write: ``replaced``, then each source's ``invalid`` one."""
        return replaced + [(INVALID_MONTH, source)
                           for source in sorted({i.source for i in self.inputs})]


def commit(
    rows: pd.DataFrame, ctx: CommitContext, *, tables: Callable[[CsvInput], pa.Table]
) -> IngestReport:
    """Flag duplicates, replace every (month, source) partition the input touches, save the
    area and the report.

    ``rows`` is the concatenation of every input's :meth:`Rows.frame`. ``tables(inp)``
    re-reads an input; it is called only for files with duplicate rows, to keep their raw
    fields without holding every input's text in memory meanwhile.
    """
    progress, store = ctx.report_progress, ctx.store
    replaced = ctx.replaced(
        rows[["month", "source"]].drop_duplicates().itertuples(index=False, name=None))
    no_ids = pa.array([], type=pa.string())
    existing = _existing_ids(store, set(replaced)) if ctx.has_store else no_ids

    duplicates = flag_duplicates(
        rows, existing, lambda hits: refuse_later_copies(store, set(replaced), hits))
    if duplicates.any():
        by_label = {inp.label: inp for inp in ctx.inputs}
        for label in pd.unique(rows.loc[duplicates, "file"]):
            in_file = duplicates & (rows["file"] == label).to_numpy()
            positions = rows.loc[in_file, "row"].to_numpy() - 1
            raw = raw_json(tables(by_label[label]), positions)
            rows.loc[in_file, "raw"] = raw.to_numpy(zero_copy_only=False)
    rows["reason"] = pd.Series(REASON_TEXT[rows["code"].to_numpy()], index=rows.index, dtype="str")

    is_event = (rows["code"] == 0).to_numpy()
    events = rows.loc[is_event].sort_values(["time", "event_id"], kind="stable")
    quarantine = rows.loc[~is_event].sort_values(["file", "row"], kind="stable")
    event_groups = dict(tuple(events.groupby(["month", "source"], sort=False)))
    quarantine_groups = dict(tuple(quarantine.groupby(["month", "source"], sort=False)))
    labels = ctx.labels
    steps = ctx.steps(replaced)

    counts = rows.assign(reason=rows["reason"].fillna(EVENT)).groupby(["month", "reason"]).size()
    records = [RowCount(month, reason, int(n)) for (month, reason), n in counts.items()]
    with event_store.staged_generation(store) as stage:
        event_store.init_store(stage, ctx.crs, ctx.resolution)
        for done, (month, source) in enumerate(steps):
            progress("write store", done, len(steps))
            if month != INVALID_MONTH:
                replace_partition(
                    stage, event_store.EVENTS_DIR, month, source, event_groups.get((month, source))
                )
                bad = quarantine_groups.get((month, source))
            else:
                new = quarantine_groups.get((month, source), quarantine.iloc[:0])
                bad = merge_invalid(stage, source, new, labels)
            replace_partition(stage, event_store.QUARANTINE_DIR, month, source, bad)
        progress("write store", len(steps), len(steps))
        return finish(ctx, stage, records)


def finish(ctx: CommitContext, stage: Path, counts: Iterable[RowCount]) -> IngestReport:
    """Keep the study area, then build the run's report and save it, all into ``stage``
    (the staging folder of the store's next generation)."""
    if ctx.area is not None:
        save_area(stage, ctx.area)
    report = IngestReport(
        store=ctx.store,
        counts=tuple(counts),
        files=tuple(ctx.files),
        started_at=ctx.started_at,
        finished_at=utc_now(),
        warnings=tuple(ctx.warnings),
    )
    # IngestReport.save would write through STORE/reports, i.e. into the committed
    # generation; the report belongs to the staged one (same names and content).
    path = stage / event_store.REPORTS_DIR / report.path.name
    write_text_atomic(path, json.dumps(report.to_dict(), indent=2) + "\n")
    write_text_atomic(path.with_suffix(".md"), report.to_markdown())
    return report


def replace_partition(
    store: Path, kind: str, month: str, source: str, table: pd.DataFrame | None
) -> None:
    """Write ``table`` as the partition, or remove the partition when there is none."""
    if table is None or table.empty:
        event_store.remove_partition(store, kind, month, source)
    else:
        event_store.write_partition(store, kind, month, source, table)  # type: ignore[arg-type]


def save_area(store: Path, area: StudyArea) -> None:
    """Keep the study area events were checked against in the store, atomically."""
    with warnings.catch_warnings(), atomic_path(store / event_store.AREA_FILE) as tmp:
        # GDAL warns that the temporary name does not end in .gpkg.
        warnings.simplefilter("ignore", RuntimeWarning)
        area.to_file(tmp)
