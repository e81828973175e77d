"""What every source shares: read CSV text as strings, give each row either no reason (an
event) or exactly one quarantine reason, and write the result to the store.

A source reads a file with :func:`read_strings`, wraps the table in :class:`Rows` and runs
its own checks in precedence order with :meth:`Rows.flag` (a row keeps the first reason it
gets), setting these columns::

    month                ``YYYY-MM`` of ``time``, or ``INVALID_MONTH``
    time, lon, lat       parsed values (NaT / NaN where unreadable)
    event_id             the id the event gets
    unique_id            True where ``event_id`` came from the data (duplicates are checked)
    category, area_code

then :class:`CommonChecks` (``future_time``, ``outside_study_area``, projected ``x``/``y``).
:meth:`Rows.frame` adds ``file``, ``row`` (1-based), ``source``, the reason ``code`` and the
``raw`` fields (JSON) of quarantined rows; :func:`commit` takes every file's frame, flags
duplicates and replaces the store's partitions.

Inputs larger than memory are streamed instead (police.uk): :class:`CsvStream` yields one
block of rows at a time, each checked block is parked in a :class:`Spill` (Arrow files in a
temporary folder, one per input and month), and :func:`commit_spilled` then flags
duplicates month by month (holding only 16-byte digests of the ids seen) and writes each
``(month, source)`` partition from its pieces. Memory stays bounded by one block, one
month's ids and one partition (partitions over ``SORT_LIMIT_ROWS`` rows are written in
row groups as they come, without sorting).
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import uuid
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import shapely
from pyproj import Transformer

import hotspot.ingest.store as event_store
from hotspot.core.area import WGS84, StudyArea
from hotspot.core.atomic import atomic_path
from hotspot.core.errors import DataError
from hotspot.core.progress import ProgressCallback, no_progress
from hotspot.ingest.report import EVENT, FILE_COLUMNS, IngestReport, utc_now
from hotspot.ingest.schema import (
    BAD_COORDINATES,
    DUPLICATE_CRIME_ID,
    EVENTS_SCHEMA,
    FUTURE_TIME,
    INVALID_MONTH,
    NO_COORDINATES,
    OUTSIDE_COUNTRY,
    OUTSIDE_STUDY_AREA,
    QUARANTINE_SCHEMA,
    REASONS,
)

_READ_ERRORS = (pa.ArrowInvalid, OSError, EOFError, zipfile.BadZipFile, zlib.error)
_BLOCK_SIZE = 1 << 22
#: Parse CSV blocks on worker threads (faster, but several blocks are in flight at once).
_CSV_THREADS = False


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class CsvInput:
    """One CSV to read: a file on disk or a member of a zip archive.

    ``label`` names it in errors, the quarantine table and the report; ``month`` is the
    month its name promises (police.uk), so that an empty file still replaces that month.
    """

    label: str
    source: str
    opener: Callable[[], IO[bytes]]
    gzip: bool = False
    month: str | None = None


def slugify(text: str) -> str:
    """Lower-case letters, digits and single dashes: ``"City of London"`` → ``city-of-london``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def save_area(store: Path, area: StudyArea) -> None:
    """Keep the study area events were checked against in the store, atomically."""
    with warnings.catch_warnings(), atomic_path(store / event_store.AREA_FILE) as tmp:
        # GDAL warns that the temporary name does not end in .gpkg.
        warnings.simplefilter("ignore", RuntimeWarning)
        area.to_file(tmp)


def file_input(path: Path, source: str, month: str | None = None) -> CsvInput:
    """A CSV file on disk (``.gz`` files are decompressed while read)."""
    return CsvInput(
        label=str(path),
        source=source,
        opener=lambda: open(path, "rb"),
        gzip=path.name.lower().endswith(".gz"),
        month=month,
    )


def read_header(inp: CsvInput) -> list[str]:
    """The column names on the first line of ``inp``."""
    try:
        with inp.opener() as raw:
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if inp.gzip else raw
            line = stream.readline(1 << 20)
    except _READ_ERRORS as exc:
        raise DataError(f"{inp.label} cannot be read: {exc}: fix or re-download it") from None
    if line.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in line:
        raise DataError(
            f"{inp.label} is UTF-16 text (or binary), not UTF-8 CSV: re-save it as UTF-8 "
            "(police.uk files are UTF-8)"
        )
    text = line.decode("utf-8-sig", errors="replace")
    if "\ufffd" in text or re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise DataError(
            f"{inp.label} does not start with a text header line (binary data, or not UTF-8): "
            "pass CSV files"
        )
    return next(csv.reader([text]), [])


def require_columns(
    inp: CsvInput, names: Sequence[str], required: Iterable[str], hint: str
) -> None:
    """Raise ``DataError`` naming the file and the missing columns."""
    missing = [c for c in required if c not in names]
    if missing:
        found = ", ".join(names) if names else "none (empty file?)"
        raise DataError(
            f"{inp.label} has no column(s) {', '.join(missing)} (its columns: {found}): {hint}"
        )


class _HashingReader(io.RawIOBase):
    """Passes bytes through and keeps their SHA-256, so a file is read once for both."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.sha256.update(data)
        return data

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> str:
        while self.read(1 << 20):
            pass
        return self.sha256.hexdigest()


def read_strings(inp: CsvInput, names: Sequence[str]) -> tuple[pa.Table, str]:
    """Stream ``inp`` into an Arrow table with every column as text; also its SHA-256.

    Blank fields stay empty strings. A row with the wrong number of fields, bad UTF-8 or a
    corrupt archive member raises ``DataError`` naming the file.
    """
    convert = _string_options(names)
    try:
        with inp.opener() as raw:
            hashing = _HashingReader(raw)
            stream = pa.PythonFile(hashing, mode="r")
            if inp.gzip:
                stream = pa.CompressedInputStream(stream, "gzip")
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(block_size=_BLOCK_SIZE),
                convert_options=convert,
            )
            table = pa.Table.from_batches(list(reader), schema=reader.schema)
            sha256 = hashing.drain()
    except _READ_ERRORS as exc:
        raise _read_error(inp, exc) from None
    return table, sha256


def _read_error(inp: CsvInput, exc: Exception) -> DataError:
    if "invalid UTF8" in str(exc) or "UTF-8" in str(exc):
        return DataError(
            f"{inp.label} is not UTF-8 text ({exc}): it may be Latin-1/Windows-1252 or "
            "UTF-16; re-save it as UTF-8 (police.uk files are UTF-8)"
        )
    return DataError(f"{inp.label} cannot be read as CSV: {exc}: fix or re-download it")


def _string_options(names: Sequence[str]) -> pa_csv.ConvertOptions:
    return pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


class CsvStream:
    """Iterate an input as Arrow tables of text columns, one block (``block_size`` bytes of
    CSV) at a time, never holding the whole file; ``sha256`` is set once iteration ends.

    Errors (ragged rows, bad UTF-8, a corrupt archive member) raise ``DataError`` naming
    the file, from whichever block holds them.
    """

    def __init__(self, inp: CsvInput, names: Sequence[str], block_size: int | None = None):
        self.inp = inp
        self.names = list(names)
        self.block_size = block_size or _BLOCK_SIZE
        self.sha256: str | None = None
        self.n_rows = 0

    def __iter__(self) -> Iterator[pa.Table]:
        try:
            with self.inp.opener() as raw:
                hashing = _HashingReader(raw)
                stream = pa.PythonFile(hashing, mode="r")
                if self.inp.gzip:
                    stream = pa.CompressedInputStream(stream, "gzip")
                reader = pa_csv.open_csv(
                    stream,
                    read_options=pa_csv.ReadOptions(block_size=self.block_size,
                                                    use_threads=_CSV_THREADS),
                    convert_options=_string_options(self.names),
                )
                schema = reader.schema
                for batch in reader:
                    if batch.num_rows:
                        self.n_rows += batch.num_rows
                        yield pa.Table.from_batches([batch], schema=schema)
                self.sha256 = hashing.drain()
        except _READ_ERRORS as exc:
            raise _read_error(self.inp, exc) from None


def file_sha256(inp: CsvInput) -> str:
    """SHA-256 of an input's bytes (streamed)."""
    try:
        with inp.opener() as raw:
            return _HashingReader(raw).drain()
    except _READ_ERRORS as exc:
        raise DataError(f"{inp.label} cannot be read: {exc}: fix or re-download it") from None


def reread_raw(inp: CsvInput, names: Sequence[str], positions: np.ndarray) -> pa.Array:
    """Raw JSON of the rows at ``positions`` (0-based, ascending) of ``inp``, streamed."""
    out: list[pa.Array] = []
    offset = 0
    for table in CsvStream(inp, names):
        n = table.num_rows
        lo, hi = np.searchsorted(positions, [offset, offset + n])
        if hi > lo:
            out.append(raw_json(table, positions[lo:hi] - offset).combine_chunks())
        offset += n
    return pa.concat_arrays(out) if out else pa.array([], type=pa.string())


# --------------------------------------------------------------------------- row checks

#: Reason codes: 0 = no reason (an event), then the schema's reasons in order.
REASON_TEXT = np.array([None, *REASONS], dtype=object)
_CODE = {reason: np.int8(code) for code, reason in enumerate(REASONS, start=1)}


class Rows:
    """One input file's rows while they are checked: columns as arrays, and the reason as a
    small code per row (0 while no check has failed). A check only ever flags rows that have
    no reason yet, so calling checks in precedence order gives each row its first reason."""

    def __init__(self, inp: CsvInput, table: pa.Table, row_offset: int = 0) -> None:
        self.inp = inp
        self.table = table
        self.n_rows = table.num_rows
        #: Rows of the file before this block (``row`` numbers continue from it).
        self.row_offset = row_offset
        self.code = np.zeros(self.n_rows, dtype=np.int8)
        self.columns: dict[str, Any] = {}
        #: The CRS of ``x``/``y`` when the source gave projected coordinates.
        self.xy_crs: str | None = None

    def text(self, name: str) -> pd.Series:
        """An input column as text, blanks as empty strings, surrounding spaces removed."""
        return pc.utf8_trim_whitespace(self.table.column(name)).to_pandas().astype("str")

    def flag(self, mask: np.ndarray | pd.Series, reason: str) -> None:
        """Give ``reason`` to the rows in ``mask`` that have no reason yet."""
        self.code[np.asarray(mask, dtype=bool) & (self.code == 0)] = _CODE[reason]

    @property
    def open(self) -> np.ndarray:
        """Rows that no check has quarantined (yet)."""
        return self.code == 0

    def __setitem__(self, name: str, values: Any) -> None:
        self.columns[name] = values

    def __getitem__(self, name: str) -> Any:
        return self.columns[name]

    def frame(self) -> pd.DataFrame:
        """The rows as a frame, with the raw fields (JSON) of every quarantined row."""
        index = pd.RangeIndex(self.n_rows)
        quarantined = np.flatnonzero(self.code)
        raw = _spread(raw_json(self.table, quarantined), quarantined, self.n_rows)
        return pd.DataFrame(
            {
                "file": pd.Series(self.inp.label, index=index, dtype="str"),
                "row": np.arange(1, self.n_rows + 1, dtype="int64") + self.row_offset,
                "source": pd.Series(self.inp.source, index=index, dtype="str"),
                "code": self.code,
                **self.columns,
                "raw": raw,
            },
            index=index,
        )


def _number(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse stripped text to float: the values and the mask of blank fields."""
    blank = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype="float64")
    return values, blank


def set_lonlat(rows: Rows, lon_text: pd.Series, lat_text: pd.Series) -> None:
    """Set ``lon``/``lat`` from text; flag ``no_coordinates`` then ``bad_coordinates``."""
    lon, lon_blank = _number(lon_text)
    lat, lat_blank = _number(lat_text)
    rows["lon"], rows["lat"] = lon, lat
    rows.flag(lon_blank | lat_blank, NO_COORDINATES)
    rows.flag(~lonlat_valid(lon, lat), BAD_COORDINATES)


def set_xy(rows: Rows, x_text: pd.Series, y_text: pd.Series, input_crs: str) -> None:
    """Set ``x``/``y`` from projected text in ``input_crs`` and ``lon``/``lat`` from them;
    flag missing or bad ones."""
    x, x_blank = _number(x_text)
    y, y_blank = _number(y_text)
    rows.flag(x_blank | y_blank, NO_COORDINATES)
    # (0, 0) is a placeholder in projected data too, never a real point.
    rows.flag(~(np.isfinite(x) & np.isfinite(y)) | ((x == 0) & (y == 0)), BAD_COORDINATES)
    rows["lon"], rows["lat"] = project(x, y, input_crs, WGS84)
    rows["x"], rows["y"], rows.xy_crs = x, y, input_crs
    rows.flag(~lonlat_valid(rows["lon"], rows["lat"]), BAD_COORDINATES)


def lonlat_valid(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Finite, within [-180, 180] x [-90, 90], and not (0, 0), police.uk's "no point"."""
    with np.errstate(invalid="ignore"):
        inside = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    return np.isfinite(lon) & np.isfinite(lat) & inside & ~((lon == 0) & (lat == 0))


#: What police.uk covers (England, Wales, Northern Ireland; BTP also Scotland) as a WGS84
#: box ``(lon_min, lat_min, lon_max, lat_max)``: the United Kingdom with a margin.
UK_BBOX = (-8.7, 49.8, 1.9, 60.9)


def flag_outside_country(rows: Rows, bbox: tuple[float, float, float, float] = UK_BBOX) -> None:
    """Flag ``outside_country``: valid coordinates outside ``bbox`` (swapped longitude and
    latitude land in the Indian Ocean or Somalia, not in a study area nobody set)."""
    lon, lat = rows["lon"], rows["lat"]
    with np.errstate(invalid="ignore"):
        inside = (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
    rows.flag(~inside, OUTSIDE_COUNTRY)


@functools.lru_cache(maxsize=16)
def _transformer(from_crs: str, to_crs: str) -> Transformer:
    return Transformer.from_crs(from_crs, to_crs, always_xy=True)


def project(
    x: np.ndarray, y: np.ndarray, from_crs: str, to_crs: str
) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (easting or longitude first); invalid input gives inf."""
    with np.errstate(invalid="ignore"):
        px, py = _transformer(from_crs, to_crs).transform(
            np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        )
    return np.asarray(px, dtype="float64"), np.asarray(py, dtype="float64")


def month_labels(time: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each timestamp, ``INVALID_MONTH`` where it is missing."""
    year = time.dt.year.astype("Int64").astype("str")
    month = time.dt.month.astype("Int64").astype("str").str.zfill(2)
    return (year + "-" + month).where(time.notna(), INVALID_MONTH).astype("str")


class CommonChecks:
    """The checks every source runs after its own, set up once per ingest.

    ``future_time``: ``time >= future_from``. ``outside_study_area``: the point is not in
    ``area`` (a point on the boundary counts as inside). Also sets ``x``/``y`` in ``crs``.
    """

    def __init__(self, crs: str, area: StudyArea | None, future_from: pd.Timestamp) -> None:
        self.crs = crs
        self.area = area
        self.future_from = np.datetime64(future_from.as_unit("us").to_datetime64())
        self.geometry = None
        if area is not None:
            self.geometry = area.geometry
            shapely.prepare(self.geometry)

    def apply(self, rows: Rows) -> None:
        rows.flag(rows["time"] >= self.future_from, FUTURE_TIME)
        lon, lat = rows["lon"], rows["lat"]
        if rows.xy_crs != self.crs:  # keep projected input that is already in the store's CRS
            rows["x"], rows["y"] = project(lon, lat, WGS84, self.crs)
        if self.area is None:
            return
        todo = rows.open
        if self.area.crs == self.crs:
            ax, ay = rows["x"][todo], rows["y"][todo]
        else:
            ax, ay = project(lon[todo], lat[todo], WGS84, self.area.crs)
        outside = np.zeros(rows.n_rows, dtype=bool)
        outside[todo] = ~shapely.intersects_xy(self.geometry, ax, ay)
        rows.flag(outside, OUTSIDE_STUDY_AREA)


# --------------------------------------------------------------------------- raw rows


def _json_string(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Escape text for a JSON string literal (without the quotes)."""
    if not pc.any(pc.match_substring_regex(column, r'["\\\x00-\x1f]')).as_py():
        return column  # the common case: nothing to escape
    column = pc.replace_substring(column, "\\", "\\\\")
    column = pc.replace_substring(column, '"', '\\"')
    for code in range(0x20):
        column = pc.replace_substring(column, chr(code), f"\\u{code:04x}")
    return column


def raw_json(table: pa.Table, positions: np.ndarray) -> pa.ChunkedArray:
    """JSON objects ``{"column": "value", ...}`` of the rows of ``table`` at ``positions``."""
    part = table.take(pa.array(positions, type=pa.int64()))
    pieces: list[pa.ChunkedArray | pa.Scalar] = []
    for i, name in enumerate(part.column_names):
        pieces.append(pa.scalar(("{" if i == 0 else ",") + json.dumps(name) + ':"'))
        pieces.append(_json_string(part.column(i)))
        pieces.append(pa.scalar('"'))
    pieces.append(pa.scalar("}"))
    return pc.binary_join_element_wise(*pieces, pa.scalar(""))


def _spread(values: pa.ChunkedArray, positions: np.ndarray, n_rows: int) -> pd.Series:
    """A text column of ``n_rows`` with ``values`` at ``positions`` and missing elsewhere."""
    where = np.full(n_rows, -1, dtype=np.int64)
    where[positions] = np.arange(len(positions))
    indices = pa.array(where, mask=where < 0)
    return values.take(indices).to_pandas().astype("str")


# --------------------------------------------------------------------------- store


def _existing_ids(store: Path, replaced: set[tuple[str, str]]) -> pa.Array:
    """Event ids in the store's partitions that this ingest does not replace."""
    root = store / event_store.EVENTS_DIR
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


def flag_duplicates(rows: pd.DataFrame, existing: pa.Array) -> np.ndarray:
    """Flag ``duplicate_crime_id``: an id seen earlier by (month, file, row) or in the store.

    Only rows with an id from the data that passed every other check take part, so the
    first *valid* record of a crime becomes the event. Returns the mask flagged here.
    """
    code = rows["code"].to_numpy()
    candidates = (code == 0) & rows["unique_id"].to_numpy(dtype=bool)
    mask = np.zeros(len(rows), dtype=bool)
    if not candidates.any():
        return mask
    positions = np.flatnonzero(candidates)
    order = rows.iloc[positions][["month", "file", "row", "event_id"]].reset_index(drop=True)
    order = order.sort_values(["month", "file", "row"], kind="stable")
    repeated = order["event_id"].duplicated(keep="first").to_numpy()
    if len(existing):
        ids = pa.array(order["event_id"].to_numpy(dtype=object), type=pa.string())
        repeated = repeated | pc.is_in(ids, value_set=existing).to_numpy(zero_copy_only=False)
    mask[positions[order.index.to_numpy()[repeated]]] = True
    rows["code"] = np.where(mask, _CODE[DUPLICATE_CRIME_ID], code).astype(np.int8)
    return mask


def _merge_invalid(store: Path, source: str, new: pd.DataFrame, labels: set[str]) -> pd.DataFrame:
    """The ``invalid`` quarantine partition: rows of earlier ingests from files this ingest
    did not read, plus this ingest's."""
    path = store / event_store.QUARANTINE_DIR / f"month={INVALID_MONTH}" / f"{source}.parquet"
    if not path.exists():
        return new
    old = pq.read_table(path).to_pandas()
    old = old[~old["file"].isin(labels)]
    return pd.concat([old, new], ignore_index=True) if len(old) else new


def commit(
    rows: pd.DataFrame,
    *,
    inputs: Sequence[CsvInput],
    files: Sequence[dict],
    tables: Callable[[CsvInput], pa.Table],
    store: Path,
    crs: str,
    resolution: event_store.TimeResolution,
    area: StudyArea | None,
    started_at: str,
    progress: ProgressCallback | None,
) -> IngestReport:
    """Flag duplicates, replace every (month, source) partition the input touches, save the
    area and the report.

    ``rows`` is the concatenation of every input's :meth:`Rows.frame`. ``tables(inp)``
    re-reads an input; it is called only for files with duplicate rows, to keep their raw
    fields without holding every input's text in memory meanwhile.
    """
    progress = progress or no_progress
    store = Path(store)
    months = set(rows[["month", "source"]].drop_duplicates().itertuples(index=False, name=None))
    months |= {(inp.month, inp.source) for inp in inputs if inp.month}
    replaced = sorted(key for key in months if key[0] != INVALID_MONTH)
    has_store = (store / event_store.META_FILE).exists()
    existing = _existing_ids(store, set(replaced)) if has_store else pa.array([], type=pa.string())

    duplicates = flag_duplicates(rows, existing)
    if duplicates.any():
        by_label = {inp.label: inp for inp in inputs}
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
    labels = {inp.label for inp in inputs}
    steps = replaced + [(INVALID_MONTH, source) for source in sorted({i.source for i in inputs})]

    event_store.init_store(store, crs, resolution)
    for done, (month, source) in enumerate(steps):
        progress("write store", done, len(steps))
        if month != INVALID_MONTH:
            _replace(
                store, event_store.EVENTS_DIR, month, source, event_groups.get((month, source))
            )
            bad = quarantine_groups.get((month, source))
        else:
            new = quarantine_groups.get((month, source), quarantine.iloc[:0])
            bad = _merge_invalid(store, source, new, labels)
        _replace(store, event_store.QUARANTINE_DIR, month, source, bad)
    progress("write store", len(steps), len(steps))

    counts = (
        rows.assign(reason=rows["reason"].fillna(EVENT))
        .groupby(["month", "reason"], sort=True)
        .size()
        .rename("n")
        .reset_index()
    )
    return _finish(store, area, counts, files, started_at)


def _finish(
    store: Path, area: StudyArea | None, counts: pd.DataFrame, files: Iterable[dict],
    started_at: str,
) -> IngestReport:
    """Keep the study area, then build and save the run's report (the last write)."""
    if area is not None:
        save_area(store, area)
    report = IngestReport(
        store=store,
        counts=counts,
        files=pd.DataFrame(list(files), columns=FILE_COLUMNS),
        started_at=started_at,
        finished_at=utc_now(),
    )
    report.save()
    return report


def _replace(store: Path, kind: str, month: str, source: str, table: pd.DataFrame | None) -> None:
    if table is None or table.empty:
        event_store.remove_partition(store, kind, month, source)
    else:
        event_store.write_partition(store, kind, month, source, table)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- streaming

#: Partitions with more rows than this are written in row groups as their pieces are read
#: (events in input order) instead of being gathered and sorted by time and id in memory.
SORT_LIMIT_ROWS = 100_000

#: What a checked row keeps between reading and writing (file, source and month are the
#: piece's own).
SPILL_SCHEMA = pa.schema(
    [
        pa.field("row", pa.int64()),
        pa.field("code", pa.int8()),
        pa.field("event_id", pa.string()),
        pa.field("unique_id", pa.bool_()),
        pa.field("asb_key", pa.string()),
        # the event's own columns, typed as in the canonical table
        *(EVENTS_SCHEMA.field(name)
          for name in ("time", "lon", "lat", "x", "y", "category", "area_code")),
        pa.field("raw", pa.string()),
    ]
)
_HASH_KEYS = ("hotspot-id-dig-1", "hotspot-id-dig-2")  # 16 bytes each (siphash keys)


def id_digests(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two independent 64-bit hashes of each id (128 bits: collisions are out of reach)."""
    ids = np.asarray(ids, dtype=object)
    return tuple(  # type: ignore[return-value]
        pd.util.hash_array(ids, encoding="utf8", hash_key=key, categorize=False)
        for key in _HASH_KEYS
    )


class DigestSet:
    """A set of ids kept as 128-bit digests in sorted chunks (16 bytes an id)."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(hi) for hi, _ in self._chunks)

    def add(self, hi: np.ndarray, lo: np.ndarray) -> None:
        if len(hi):
            order = np.lexsort((lo, hi))
            self._chunks.append((hi[order], lo[order]))

    def contains(self, hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hi), dtype=bool)
        for chunk_hi, chunk_lo in self._chunks:
            left = np.searchsorted(chunk_hi, hi, "left")
            right = np.searchsorted(chunk_hi, hi, "right")
            width = right - left
            one = np.flatnonzero(width == 1)
            found[one] |= chunk_lo[left[one]] == lo[one]
            for i in np.flatnonzero(width > 1):  # equal first halves: compare all
                found[i] |= bool(np.any(chunk_lo[left[i] : right[i]] == lo[i]))
        return found


def existing_digests(store: Path, replaced: set[tuple[str, str]]) -> DigestSet:
    """Digests of the event ids in the store's partitions that this ingest keeps."""
    seen = DigestSet()
    root = store / event_store.EVENTS_DIR
    if not root.exists():
        return seen
    his, los = [], []
    for f in sorted(root.glob("month=*/*.parquet")):
        if (f.parent.name.removeprefix("month="), f.stem) in replaced:
            continue
        ids = pq.read_table(f, columns=["event_id"]).column("event_id")
        hi, lo = id_digests(ids.to_numpy(zero_copy_only=False))
        his.append(hi)
        los.append(lo)
    if his:
        seen.add(np.concatenate(his), np.concatenate(los))
    return seen


@dataclass
class Piece:
    """Checked rows of one input for one partition month, parked in an Arrow file."""

    order: int  # the input's position among all inputs (label order)
    label: str
    source: str
    month: str
    path: Path
    n_rows: int = 0


class Spill:
    """A temporary folder (under ``$TMPDIR``) of checked rows awaiting the store write."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="hotspot-ingest-"))
        self.pieces: list[Piece] = []

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    @contextmanager
    def input(self, order: int, inp: CsvInput) -> Iterator[Callable[[pd.DataFrame], None]]:
        """A function taking :meth:`Rows.frame` blocks of input ``inp`` in row order."""
        writers: dict[str, tuple[pa.RecordBatchFileWriter, Piece]] = {}
        options = pa.ipc.IpcWriteOptions(compression="lz4")

        def add(frame: pd.DataFrame) -> None:
            months = frame["month"].to_numpy(dtype=object)
            for month in sorted(set(months)):
                part = frame if len(set(months)) == 1 else frame.loc[months == month]
                if month not in writers:
                    piece = Piece(order, inp.label, inp.source, month,
                                  self.dir / f"{order:06d}-{len(self.pieces):06d}.arrow")
                    self.pieces.append(piece)
                    sink = pa.OSFile(str(piece.path), "wb")
                    writers[month] = (pa.ipc.new_file(sink, SPILL_SCHEMA, options=options), piece)
                writer, piece = writers[month]
                table = pa.Table.from_pandas(part[SPILL_SCHEMA.names], schema=SPILL_SCHEMA,
                                             preserve_index=False)
                writer.write_table(table)
                piece.n_rows += table.num_rows

        try:
            yield add
        finally:
            for writer, _ in writers.values():
                writer.close()

    @staticmethod
    def read(piece: Piece, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The piece's blocks, one at a time (only ``columns`` if given)."""
        with pa.OSFile(str(piece.path)) as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                table = pa.Table.from_batches([batch])
                yield table.select(list(columns)) if columns is not None else table


def _flag_month_duplicates(
    pieces: Sequence[Piece], seen: DigestSet
) -> dict[tuple[int, int], np.ndarray]:
    """``duplicate_crime_id`` for one month: positions per (piece, block) of rows whose id
    came earlier in (file, row) order this month, in an earlier month, or in the store.
    Adds the month's first occurrences to ``seen``."""
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
    dup_code = _CODE[DUPLICATE_CRIME_ID]
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


def _write_spilled_partition(
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


def remove_stale_temporaries(store: Path) -> list[Path]:
    """Delete temporary partition files a killed run left (``.<name>.tmp-<id>``); call only
    while holding the store lock, when no other writer can own them."""
    removed = []
    for kind in (event_store.EVENTS_DIR, event_store.QUARANTINE_DIR):
        for path in sorted((Path(store) / kind).glob("month=*/.*.tmp-*")):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def commit_spilled(
    spill: Spill,
    *,
    inputs: Sequence[CsvInput],
    files: Sequence[dict],
    raw_of: Callable[[str, np.ndarray], pa.Array],
    store: Path,
    crs: str,
    resolution: event_store.TimeResolution,
    area: StudyArea | None,
    started_at: str,
    progress: ProgressCallback | None,
) -> IngestReport:
    """:func:`commit` for rows parked in ``spill``: flag duplicates month by month, replace
    every (month, source) partition the input touches, save the area and the report.

    ``raw_of(label, positions)`` re-reads the raw fields of rows (0-based positions) of an
    input; it is called only for rows found to be duplicates.
    """
    progress = progress or no_progress
    store = Path(store)
    months = {(p.month, p.source) for p in spill.pieces if p.n_rows}
    months |= {(inp.month, inp.source) for inp in inputs if inp.month}
    replaced = sorted(key for key in months if key[0] != INVALID_MONTH)
    has_store = (store / event_store.META_FILE).exists()
    seen = existing_digests(store, set(replaced)) if has_store else DigestSet()
    by_month: dict[str, list[Piece]] = {}
    for piece in sorted(spill.pieces, key=lambda p: (p.order, p.path.name)):
        if piece.n_rows:
            by_month.setdefault(piece.month, []).append(piece)
    labels = {inp.label for inp in inputs}
    steps = replaced + [(INVALID_MONTH, source) for source in sorted({i.source for i in inputs})]
    counts: Counter = Counter()

    event_store.init_store(store, crs, resolution)
    remove_stale_temporaries(store)
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
                _flag_month_duplicates(month_pieces, seen) if month != INVALID_MONTH else {}
            )
        pieces = [p for p in month_pieces if p.source == source]

        def blocks(pieces=pieces, month=month, source=source, duplicates=duplicates,
                   piece_index=piece_index):
            return _partition_blocks(pieces, month, source, duplicates, piece_index, raw_of,
                                     counts)

        if month != INVALID_MONTH:
            _write_spilled_partition(store, month, source, pieces, blocks)
        else:
            parts = [q.select(QUARANTINE_SCHEMA.names).cast(QUARANTINE_SCHEMA)
                     for _, q in blocks()]
            new = pa.concat_tables([QUARANTINE_SCHEMA.empty_table(), *parts]).to_pandas()
            bad = _merge_invalid(store, source, new, labels)
            _replace(store, event_store.QUARANTINE_DIR, month, source, bad)
    progress("write store", len(steps), len(steps))

    count_frame = pd.DataFrame(
        [(m, r, n) for (m, r), n in sorted(counts.items()) if n],
        columns=["month", "reason", "n"],
    )
    return _finish(store, area, count_frame, files, started_at)
