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
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import json
import re
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
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

import ingest.store as event_store
from features.area import WGS84, StudyArea
from hotspot.atomic import atomic_path
from hotspot.errors import DataError
from hotspot.progress import ProgressCallback, no_progress
from ingest.report import EVENT, FILE_COLUMNS, IngestReport, utc_now
from ingest.schema import (
    BAD_COORDINATES,
    DUPLICATE_CRIME_ID,
    FUTURE_TIME,
    INVALID_MONTH,
    NO_COORDINATES,
    OUTSIDE_STUDY_AREA,
    REASONS,
)

_READ_ERRORS = (pa.ArrowInvalid, OSError, EOFError, zipfile.BadZipFile, zlib.error)
_BLOCK_SIZE = 1 << 22


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
    text = line.decode("utf-8-sig", errors="replace")
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
    convert = pa_csv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
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
        raise DataError(
            f"{inp.label} cannot be read as CSV: {exc}: fix or re-download it"
        ) from None
    return table, sha256


# --------------------------------------------------------------------------- row checks

#: Reason codes: 0 = no reason (an event), then the schema's reasons in order.
REASON_TEXT = np.array([None, *REASONS], dtype=object)
_CODE = {reason: np.int8(code) for code, reason in enumerate(REASONS, start=1)}


class Rows:
    """One input file's rows while they are checked: columns as arrays, and the reason as a
    small code per row (0 while no check has failed). A check only ever flags rows that have
    no reason yet, so calling checks in precedence order gives each row its first reason."""

    def __init__(self, inp: CsvInput, table: pa.Table) -> None:
        self.inp = inp
        self.table = table
        self.n_rows = table.num_rows
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
                "row": np.arange(1, self.n_rows + 1, dtype="int64"),
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

    if area is not None:
        with warnings.catch_warnings(), atomic_path(store / event_store.AREA_FILE) as tmp:
            # GDAL warns that the temporary name does not end in .gpkg.
            warnings.simplefilter("ignore", RuntimeWarning)
            area.to_file(tmp)

    counts = (
        rows.assign(reason=rows["reason"].fillna(EVENT))
        .groupby(["month", "reason"], sort=True)
        .size()
        .rename("n")
        .reset_index()
    )
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
