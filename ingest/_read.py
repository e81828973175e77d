"""Reading CSV inputs as text: a file on disk or a zip member, whole or block by block.

Every column is read as a string (blanks stay empty strings) so that each source parses
and checks its own fields; a file's SHA-256 is taken while it is read, never in a second
pass. Unreadable input (bad UTF-8, ragged rows, a corrupt archive member) raises
``DataError`` naming the file.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from hotspot.core.errors import DataError
from hotspot.ingest._raw import raw_json

_READ_ERRORS = (pa.ArrowInvalid, OSError, EOFError, zipfile.BadZipFile, zlib.error)
_BLOCK_SIZE = 1 << 22
#: Parse CSV blocks on worker threads (faster, but several blocks are in flight at once).
_CSV_THREADS = False


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


def folder_files(folder: Path) -> list[Path]:
    """Every file under ``folder``, sorted, following links to folders and files.

    ``Path.rglob`` does not enter linked folders, so a tree of linked months would be
    skipped without a word. Each real folder is entered once (a link back up the tree
    cannot loop). A link that points nowhere raises ``DataError``: it names a file the
    user meant to give.
    """
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for top, dirs, names in os.walk(folder, followlinks=True):
        info = os.stat(top)
        if (info.st_dev, info.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        for name in names:
            path = Path(top) / name
            if path.is_symlink() and not path.exists():
                raise DataError(
                    f"{path} is a link to {os.readlink(path)}, which does not exist: fix or "
                    "remove the link"
                )
            if path.is_file():
                found.append(path)
    return sorted(found)


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
    # Old Mac exports end lines with CR only: readline() then returns the whole file, so cut
    # the header at its first line end of any kind (the CSV reader handles CR itself).
    line = line.split(b"\r", 1)[0].split(b"\n", 1)[0]
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
