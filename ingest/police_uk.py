"""data.police.uk street-level crime CSVs → the event store.

Reads any mix of a folder tree of ``YYYY-MM/YYYY-MM-<force>-street.csv`` files, the bulk
zip archive of the same tree (members are streamed, never extracted) and single CSV files,
for any number of forces. Outcomes and stop-and-search files are listed in the report as
skipped. Every row becomes an event or is quarantined with exactly one reason, in this
order: ``bad_month`` > ``no_coordinates`` > ``bad_coordinates`` > ``outside_country`` (valid
coordinates outside the UK, e.g. longitude and latitude swapped) > ``future_time`` >
``outside_study_area`` > ``duplicate_crime_id``.

Files are streamed block by block (a file larger than memory is fine): checked rows wait in
a temporary folder until every input has been read, then each (month, force) partition is
written in turn while the store lock (``STORE/.lock``) is held.

The same (month, force) file twice in one input (a folder and a zip holding the same
month, or two folders): byte-identical copies are read once and the others listed in the
report as skipped; copies that differ are an error (which one is right cannot be told:
police.uk republishes months), and nothing is written.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import hotspot.ingest.store as event_store
from hotspot.core.area import StudyArea
from hotspot.core.area import _check_metric as check_metric_crs
from hotspot.core.errors import DataError
from hotspot.core.locking import ensure_unlocked, store_lock
from hotspot.core.progress import ProgressCallback, no_progress
from hotspot.ingest._checks import CommonChecks
from hotspot.ingest._commit import CommitContext
from hotspot.ingest._commit_spilled import commit_spilled
from hotspot.ingest._coordinates import flag_outside_country, set_lonlat
from hotspot.ingest._dates import normalize_months
from hotspot.ingest._guards import (
    FileTally,
    partition_counts,
    refuse_emptied_partitions,
    refuse_if_nothing_ingested,
    tally_warnings,
)
from hotspot.ingest._read import (
    CsvInput,
    CsvStream,
    file_sha256,
    folder_files,
    read_header,
    require_columns,
    reread_raw,
    slugify,
)
from hotspot.ingest._rows import Rows
from hotspot.ingest._spill import Spill
from hotspot.ingest.report import IngestReport, InputFile, utc_now
from hotspot.ingest.schema import BAD_MONTH, FUTURE_TIME, INVALID_MONTH

STREET_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip
REQUIRED_COLUMNS = ("Crime ID", "Month", "Longitude", "Latitude", "Crime type")
_HINT = (
    "expected a police.uk street-level crime CSV (YYYY-MM-<force>-street.csv) with columns "
    + ", ".join(STREET_COLUMNS)
    + "; download street-level crime files from https://data.police.uk/data/"
)
_STREET_NAME = re.compile(r"^(?P<month>\d{4}-\d{2})-(?P<force>.+)-street\.csv$", re.IGNORECASE)
_OTHER_KINDS = {
    "-outcomes.csv": "skipped: outcomes file (only *-street.csv files are ingested)",
    "-stop-and-search.csv": "skipped: stop-and-search file (only *-street.csv files are ingested)",
}
_NOT_STREET = "skipped: not a police.uk *-street.csv file"
_MONTH_TEXT = r"\d{4}-(0[1-9]|1[0-2])"


def ingest_police_uk(
    paths: Sequence[Path | str],
    store: Path | str,
    *,
    area: StudyArea | None = None,
    crs: str = "EPSG:27700",
    today: datetime.date | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest police.uk street-level CSVs into the event store and return the report.

    Parameters
    ----------
    paths
        Folders (searched recursively), ``.zip`` archives and CSV files, in any mix.
    store
        The event store folder; created if absent. For every (month, force) in the input
        its events and quarantine partitions are replaced, so re-ingesting is idempotent.
    area
        Study area: points outside it are quarantined as ``outside_study_area``; it is
        saved as ``STORE/area.gpkg``.
    crs
        Metric CRS of ``x``/``y`` in the store (a store keeps one CRS).
    today
        Months after today's month are ``future_time``; default the real today.
    progress
        Called as ``progress("ingest police-uk", done, n_files)``.

    Raises
    ------
    DataError
        A path is missing, a zip is corrupt, a folder or zip holds no street CSV, a CSV
        lacks required columns or cannot be parsed, no rows at all were read, or the store
        has another CRS. All inputs are checked before anything is written.
    """
    started_at = utc_now()
    progress = progress or no_progress
    crs = check_metric_crs(crs)
    store = Path(store)
    today = today or datetime.date.today()
    future_from = pd.Timestamp(today.year, today.month, 1) + pd.DateOffset(months=1)
    checks = CommonChecks(crs, area, future_from)
    ensure_unlocked(store)  # fail before reading anything if another run writes the store
    with ExitStack() as archives, Spill() as spill:
        inputs, skipped = _discover(paths, archives)
        headers = {}
        for inp in inputs:
            headers[inp.label] = read_header(inp)
            require_columns(inp, headers[inp.label], REQUIRED_COLUMNS, _HINT)
        inputs, copies = _drop_identical_copies(inputs)
        if (store / event_store.META_FILE).exists():
            event_store.init_store(store, crs, "month")  # only checks an existing store

        files = []
        tallies: dict[str, FileTally] = {}
        partitions: Counter = Counter()  # (month, source) -> rows that are to be events
        owners: dict[tuple[str, str], list[str]] = {}
        for done, inp in enumerate(inputs):
            progress("ingest police-uk", done, len(inputs))
            stream = CsvStream(inp, headers[inp.label])
            tally = tallies[inp.label] = FileTally(inp.label)
            if inp.month:  # the month its name promises is replaced, rows or not
                partitions[(inp.month, inp.source)] += 0
                owners.setdefault((inp.month, inp.source), []).append(inp.label)
            with spill.input(done, inp) as park:
                for table in stream:
                    frame = _parse(inp, table, checks, stream.n_rows - table.num_rows, tally)
                    partition_counts(frame, partitions, owners, inp.label)
                    park(frame)
            files.append(InputFile(inp.label, stream.sha256, stream.n_rows))
        progress("ingest police-uk", len(inputs), len(inputs))
        if not sum(f.n_rows for f in files):
            raise DataError(
                f"no rows in {', '.join(str(p) for p in paths)}: the street CSVs hold only "
                "headers; download months that have data"
            )
        refuse_if_nothing_ingested(tallies.values())
        by_label = {inp.label: inp for inp in inputs}
        with store_lock(store):
            refuse_emptied_partitions(
                store, partitions,
                {key: [tallies[label] for label in labels] for key, labels in owners.items()},
            )
            report = commit_spilled(spill, CommitContext(
                inputs=inputs,
                files=files + skipped + copies,
                store=store,
                crs=crs,
                resolution="month",
                area=area,
                started_at=started_at,
                progress=progress,
                warnings=tally_warnings(tallies.values(), BAD_MONTH, "Month"),
            ), raw_of=lambda label, rows: reread_raw(by_label[label], headers[label], rows))
            return report


def _drop_identical_copies(
    inputs: list[CsvInput],
) -> tuple[list[CsvInput], list[InputFile]]:
    """Keep one of several byte-identical files for the same (month, force); refuse copies
    that differ. Returns the inputs to read and report entries for the skipped copies."""
    groups: dict[tuple[str, str], list[CsvInput]] = {}
    for inp in inputs:
        if inp.month:
            groups.setdefault((inp.month, inp.source), []).append(inp)
    skipped: dict[str, InputFile] = {}
    for (month, source), same in groups.items():
        if len(same) < 2:
            continue
        digests = [file_sha256(inp) for inp in same]
        if len(set(digests)) > 1:
            raise DataError(
                f"{len(same)} different files for {month} {source}: "
                + ", ".join(inp.label for inp in same)
                + ": pass one file per force and month (police.uk republishes months; keep "
                "the newest download)"
            )
        for inp, digest in zip(same[1:], digests[1:], strict=True):
            skipped[inp.label] = InputFile(inp.label, digest, 0,
                                           f"skipped: identical copy of {same[0].label}")
    return [inp for inp in inputs if inp.label not in skipped], list(skipped.values())


def force_slug(name: str) -> str:
    """``2019-03-city-of-london-street.csv`` → ``city-of-london``; else the stem's slug."""
    match = _STREET_NAME.match(name)
    if match:
        return slugify(match["force"])
    stem = re.sub(r"(\.csv)?(\.gz)?$", "", name, flags=re.IGNORECASE)
    return slugify(stem)


def _classify(name: str, explicit: bool) -> tuple[str | None, str | None]:
    """``(note, month)``: a note for a skipped file, else the month its name promises."""
    lower = name.lower()
    for suffix, note in _OTHER_KINDS.items():
        if lower.endswith(suffix):
            return note, None
    match = _STREET_NAME.match(name)
    if match:
        return None, match["month"]
    return (None, None) if explicit else (_NOT_STREET, None)


def _discover(
    paths: Sequence[Path | str], archives: ExitStack
) -> tuple[list[CsvInput], list[InputFile]]:
    """Street CSVs to read (sorted by label, each once) and skipped files for the report."""
    if not paths:
        raise DataError("no input given: pass police.uk street CSVs, folders or a .zip")
    inputs: dict[str, CsvInput] = {}
    skipped: dict[str, str] = {}

    def add(label: str, name: str, opener: Callable[[], IO[bytes]], explicit: bool) -> bool:
        note, month = _classify(name, explicit)
        if note:
            skipped.setdefault(label, note)
            return False
        gz = name.lower().endswith(".gz")
        inputs.setdefault(label, CsvInput(label, force_slug(name), opener, gz, month))
        return True

    for given in paths:
        path = Path(given)
        if not path.exists():
            raise DataError(
                f"{path} not found: pass a police.uk .zip archive, a folder of "
                "YYYY-MM/YYYY-MM-<force>-street.csv files or street CSV files"
            )
        path = path.resolve()
        if path.is_dir():
            kind, members = (
                "folder",
                [
                    (str(f), f.name, functools.partial(open, f, "rb"))
                    for f in folder_files(path)
                    if f.name.lower().endswith(".csv")
                ],
            )
        elif path.suffix.lower() == ".zip":
            kind, members = "zip archive", _zip_members(path, archives)
        else:
            kind, members = "file", [(str(path), path.name, functools.partial(open, path, "rb"))]
        found = [add(*member, explicit=kind == "file") for member in members]
        if not any(found):
            raise DataError(
                f"{kind} {path} holds no police.uk street-level file (*-street.csv): "
                "pass the folder or archive downloaded from data.police.uk"
            )
    notes = [InputFile(label, None, 0, note) for label, note in sorted(skipped.items())]
    return [inputs[label] for label in sorted(inputs)], notes


def _zip_members(path: Path, archives: ExitStack) -> list[tuple[str, str, Callable[[], IO[bytes]]]]:
    """``(label, file name, opener)`` of the CSV members of a zip (read, never extracted)."""
    try:
        archive = archives.enter_context(zipfile.ZipFile(path))
        names = sorted(info.filename for info in archive.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(
            f"{path} is not a readable zip archive ({exc}): download it again"
        ) from None
    return [
        (f"{path}!{name}", PurePosixPath(name).name, functools.partial(archive.open, name))
        for name in names
        if name.lower().endswith(".csv") and not name.startswith("__MACOSX/")
    ]


def _parse(
    inp: CsvInput, table: pa.Table, checks: CommonChecks, row_offset: int = 0,
    tally: FileTally | None = None,
) -> pd.DataFrame:
    """One block of a street CSV's rows, checked up to (not including) duplicates; counted
    in ``tally`` if given."""
    rows = Rows(inp, table, row_offset)
    given = rows.text("Month")
    month = normalize_months(given)
    valid_month = month.str.fullmatch(_MONTH_TEXT).to_numpy(dtype=bool, copy=True)
    partition = month.where(valid_month, INVALID_MONTH)
    if inp.month:
        # A row dated outside its file's month is an error in the file, not a reason to
        # replace another month's partition: quarantine it under the file's month.
        stray = valid_month & (month != inp.month).to_numpy()
        valid_month &= ~stray
        partition = partition.mask(stray, inp.month)
    rows["month"] = partition
    rows["time"] = (
        pd.to_datetime(month.where(valid_month), format="%Y-%m").to_numpy().astype("datetime64[us]")
    )
    rows.flag(~valid_month, BAD_MONTH)
    set_lonlat(rows, rows.text("Longitude"), rows.text("Latitude"))
    flag_outside_country(rows)
    crime_id = rows.text("Crime ID")
    has_id = (crime_id != "").to_numpy()
    rows["event_id"] = crime_id.where(has_id)
    rows["unique_id"] = has_id
    rows["category"] = rows.text("Crime type")
    if "LSOA code" in table.column_names:
        code = rows.text("LSOA code")
        rows["area_code"] = code.where(code != "")
    else:
        rows["area_code"] = pd.Series(None, index=pd.RangeIndex(table.num_rows), dtype="str")
    checks.apply(rows)
    rows["asb_key"] = _asb_keys(inp.source, table, ~has_id)
    if tally is not None:
        place = rows.text("Longitude") + ", " + rows.text("Latitude")
        tally.add(rows.code, np.arange(1, rows.n_rows + 1) + row_offset, place,
                  {BAD_MONTH: given, FUTURE_TIME: given})
    return rows.frame()


def _asb_keys(source: str, table: pa.Table, blank_id: np.ndarray) -> pd.Series:
    """SHA-1 (hex, 20 digits) of source, month and every raw field (the police.uk columns in
    their usual order, then any others), for rows with no id."""
    keys = pd.Series(None, index=pd.RangeIndex(table.num_rows), dtype="str")
    positions = np.flatnonzero(blank_id)
    if len(positions):
        names = table.column_names
        ordered = [c for c in STREET_COLUMNS if c in names] + [
            c for c in names if c not in STREET_COLUMNS
        ]
        part = table.take(pa.array(positions, type=pa.int64())).select(ordered)
        joined = pc.binary_join_element_wise(
            pa.scalar(source), part.column("Month"), *part.columns, pa.scalar("\x1f")
        )
        keys.iloc[positions] = [
            hashlib.sha1(line.encode()).hexdigest()[:20] for line in joined.to_pylist()
        ]
    return keys
