"""A generic timestamped CSV (city open-data portals) → the event store.

One row per crime with a timestamp and either longitude/latitude or projected x/y. Every
row becomes an event or is quarantined with exactly one reason, in this order:
``bad_time`` > ``no_coordinates`` > ``bad_coordinates`` > ``future_time`` >
``outside_study_area`` > ``duplicate_crime_id`` (only with ``id_col``).
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from pyproj import CRS

import hotspot.ingest.store as event_store
from hotspot.core.area import StudyArea, choose_metric_crs
from hotspot.core.area import _check_metric as check_metric_crs
from hotspot.core.errors import ConfigError, DataError
from hotspot.core.locking import store_lock
from hotspot.core.progress import ProgressCallback, no_progress
from hotspot.ingest._checks import CommonChecks, month_labels
from hotspot.ingest._commit import CommitContext, commit
from hotspot.ingest._coordinates import set_lonlat, set_xy
from hotspot.ingest._dates import numeric_date_order
from hotspot.ingest._guards import (
    FileTally,
    partition_counts,
    refuse_emptied_partitions,
    refuse_if_nothing_ingested,
    tally_warnings,
)
from hotspot.ingest._read import file_input, read_header, read_strings, require_columns, slugify
from hotspot.ingest._rows import Rows
from hotspot.ingest.report import IngestReport, InputFile, utc_now
from hotspot.ingest.schema import BAD_TIME, FUTURE_TIME

#: ``category`` of every event when no category column is given.
DEFAULT_CATEGORY = "all"


def ingest_csv(
    path: Path | str,
    store: Path | str,
    *,
    time_col: str,
    lon_col: str | None = None,
    lat_col: str | None = None,
    x_col: str | None = None,
    y_col: str | None = None,
    input_crs: str = "EPSG:4326",
    category_col: str | None = None,
    id_col: str | None = None,
    time_format: str | None = None,
    dayfirst: bool | None = None,
    source: str | None = None,
    area: StudyArea | None = None,
    crs: str | None = None,
    today: datetime.date | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest one timestamped CSV (``.csv`` or ``.csv.gz``) into the event store.

    Parameters
    ----------
    path
        The CSV file; ``.gz`` files are decompressed while read.
    store
        The event store folder (time resolution ``timestamp``); created if absent. Every
        (month, source) in the input replaces that partition, so re-ingesting is idempotent.
    time_col
        Column with each crime's date and time; kept to the microsecond.
    lon_col, lat_col
        WGS84 longitude and latitude columns, or else
    x_col, y_col
        projected coordinate columns in ``input_crs``. Exactly one pair must be given.
    category_col
        Column with the crime category; default every event is ``"all"``.
    id_col
        Column with a record id (duplicates are quarantined); default ``"<source>:<row>"``.
    time_format
        ``strptime`` format of ``time_col``; default pandas' parser. Times with a UTC offset
        are stored as UTC.
    dayfirst
        Whether numeric dates (``05/01/2016``) put the day first (``True``) or the month
        (``False``). Needed when the values do not show it (no field above 12) or show
        day-first dates, which pandas would otherwise read month-first.
    source
        Name of the source in the store; default the slug of the file name.
    area
        Study area: points outside are quarantined; saved as ``STORE/area.gpkg``.
    crs
        Metric CRS of the store; default the existing store's, else ``area.crs``, else the
        UTM zone (or British National Grid) at the median point.
    today
        Times after this day are ``future_time``; default the real today.
    progress
        Called as ``progress("ingest <source>", done, 1)``.

    Raises
    ------
    ConfigError
        Not exactly one coordinate pair, a bad ``source``, ``crs`` or ``time_format``;
        numeric dates whose order is not given and cannot be told, or is day-first.
    DataError
        The file is missing, unreadable, empty or lacks a named column, the store holds
        another CRS or time resolution, every row was quarantined, or a month that holds
        events would be replaced by none. Checked before anything is written.
    """
    started_at = utc_now()
    progress = progress or no_progress
    path, store = Path(path), Path(store)
    today = today or datetime.date.today()
    coordinates = _coordinate_columns(lon_col, lat_col, x_col, y_col)
    if not path.is_file():
        raise DataError(f"{path} not found: pass a CSV file (.csv or .csv.gz)")
    source = _source_name(path, source)
    store_crs = _store_crs(store, crs)

    inp = file_input(path.resolve(), source)
    names = read_header(inp)
    wanted = [time_col, *coordinates, category_col, id_col]
    require_columns(
        inp,
        names,
        [c for c in wanted if c],
        "name the columns with --time-col, --lon-col/--lat-col or --x-col/--y-col, "
        "--category-col and --id-col",
    )
    progress(f"ingest {source}", 0, 1)
    table, sha256 = read_strings(inp, names)
    progress(f"ingest {source}", 1, 1)
    if table.num_rows == 0:
        raise DataError(f"no rows in {path}: the file has only a header")

    rows = Rows(inp, table)
    time_text = rows.text(time_col)
    time = _parse_time(time_text, time_format, dayfirst, time_col)
    rows["time"] = time.to_numpy()
    rows["month"] = month_labels(time)
    rows.flag(time.isna(), BAD_TIME)
    if lon_col:
        set_lonlat(rows, rows.text(lon_col), rows.text(lat_col))
    else:
        set_xy(rows, rows.text(x_col), rows.text(y_col), _any_crs(input_crs, "--input-crs"))
    if store_crs is None:
        store_crs = area.crs if area is not None else _median_crs(rows, path)
    _set_ids(rows, source, id_col)
    if category_col:
        rows["category"] = rows.text(category_col)
    else:
        rows["category"] = pd.Series(DEFAULT_CATEGORY, index=time.index, dtype="str")
    rows["area_code"] = pd.Series(None, index=time.index, dtype="str")
    future_from = pd.Timestamp(today) + pd.Timedelta(days=1)
    CommonChecks(store_crs, area, future_from).apply(rows)

    tally = FileTally(inp.label)
    place = (rows.text(coordinates[0]) + ", " + rows.text(coordinates[1]))
    tally.add(rows.code, np.arange(1, rows.n_rows + 1), place,
              {BAD_TIME: time_text, FUTURE_TIME: time_text})
    refuse_if_nothing_ingested([tally])
    frame = rows.frame()
    partitions: Counter = Counter()
    owners: dict[tuple[str, str], list[str]] = {}
    partition_counts(frame, partitions, owners, inp.label)
    with store_lock(store):
        refuse_emptied_partitions(store, partitions, {key: [tally] for key in owners})
        report = commit(frame, CommitContext(
            inputs=[inp],
            files=[InputFile(inp.label, sha256, table.num_rows)],
            store=store,
            crs=store_crs,
            resolution="timestamp",
            area=area,
            started_at=started_at,
            progress=progress,
            warnings=tally_warnings([tally], BAD_TIME, f"--time-col {time_col!r}"),
        ), tables=lambda _inp: table)
        return report


def _coordinate_columns(
    lon_col: str | None, lat_col: str | None, x_col: str | None, y_col: str | None
) -> tuple[str, str]:
    lonlat, xy = (lon_col, lat_col), (x_col, y_col)
    if all(lonlat) and not any(xy):
        return lonlat  # type: ignore[return-value]
    if all(xy) and not any(lonlat):
        return xy  # type: ignore[return-value]
    raise ConfigError(
        "give either --lon-col and --lat-col (WGS84 degrees) or --x-col and --y-col "
        "(projected, with --input-crs), not a mix"
    )


def _source_name(path: Path, source: str | None) -> str:
    if source is None:
        stem = re.sub(r"(\.csv)?(\.gz)?$", "", path.name, flags=re.IGNORECASE)
        source = slugify(stem) or "csv"
    if not source or slugify(source) != source:
        raise ConfigError(
            f"--source {source!r} must be lower-case letters, digits and dashes, "
            f"e.g. {slugify(source) or 'city'!r}"
        )
    return source


def _store_crs(store: Path, crs: str | None) -> str | None:
    """The CRS to write in: ``crs`` if given (the store must agree), else the store's."""
    if crs is not None:
        crs = check_metric_crs(crs)
    if not (store / event_store.META_FILE).exists():
        return crs
    meta = event_store.read_store_meta(store)
    crs = crs or meta.get("crs")
    event_store.init_store(store, crs, "timestamp")  # only checks an existing store
    return crs


def _any_crs(crs: str, option: str) -> str:
    try:
        return CRS.from_user_input(crs).to_string()
    except Exception:
        raise ConfigError(
            f"{option} {crs!r} is not a CRS pyproj knows: use e.g. EPSG:27700"
        ) from None


def _median_crs(rows: Rows, path: Path) -> str:
    usable = rows.open
    if not usable.any():
        raise DataError(
            f"no row of {path} has a valid time and coordinates, so no CRS can be chosen: "
            "check the column options or pass --crs"
        )
    return choose_metric_crs(
        float(np.median(rows["lon"][usable])), float(np.median(rows["lat"][usable]))
    )


def _parse_time(
    text: pd.Series, time_format: str | None, dayfirst: bool | None = None,
    time_col: str = "time",
) -> pd.Series:
    """Timestamps (microseconds, no time zone); NaT where blank or unreadable."""
    text = text.where(text != "")
    if time_format is None and dayfirst is None:
        _require_date_order(text.fillna(""), time_col)
    order = {} if dayfirst is None else {"dayfirst": dayfirst}
    try:
        time = pd.to_datetime(text, format=time_format, errors="coerce", **order)
    except ValueError as exc:
        if time_format:
            raise ConfigError(f"--time-format {time_format!r} is not usable: {exc}") from None
        time = pd.to_datetime(text, errors="coerce", utc=True, **order)  # mixed UTC offsets
    if isinstance(time.dtype, pd.DatetimeTZDtype):
        time = time.dt.tz_convert("UTC").dt.tz_localize(None)
    return time.astype("datetime64[us]")


def _require_date_order(text: pd.Series, time_col: str) -> None:
    """Refuse numeric dates whose order (day or month first) only a guess could give."""
    order, at = numeric_date_order(text)
    if order in (None, "monthfirst"):
        return  # no such dates, or month-first as pandas reads them
    example = f"row {at + 1}: {text.iloc[at]!r}"
    if order == "mixed":
        raise DataError(
            f"--time-col {time_col!r} mixes day-first and month-first dates (e.g. {example}, "
            "whose second field is above 12, beside first fields above 12): fix the file, or "
            "give --time-format to quarantine the rows that do not match it"
        )
    said = ("holds day-first dates, which would be read month-first"
            if order == "dayfirst" else
            "holds numeric dates whose day and month cannot be told apart (no field above 12)")
    raise ConfigError(
        f"--time-col {time_col!r} {said} (e.g. {example}): pass --dayfirst or --monthfirst, "
        "or --time-format, e.g. '%d/%m/%Y %H:%M'"
    )


def _set_ids(rows: Rows, source: str, id_col: str | None) -> None:
    """``event_id`` from ``id_col`` (checked for duplicates) or ``<source>:<row>``."""
    fallback = source + ":" + pd.Series(np.arange(1, rows.n_rows + 1)).astype("str")
    if id_col is None:
        rows["event_id"], rows["unique_id"] = fallback, np.zeros(rows.n_rows, dtype=bool)
        return
    ids = rows.text(id_col)
    has_id = (ids != "").to_numpy()
    rows["event_id"], rows["unique_id"] = ids.where(has_id, fallback), has_id
