"""Checked rows parked on disk between reading and writing: one Arrow file per input and
month, in a temporary folder removed when the ingest ends.

A run killed with SIGKILL cannot remove its folder, so each folder holds an ``.owner`` file
its run keeps ``flock``-ed (the kernel drops the lock when the run dies, however it dies);
every new spill removes the ``hotspot-ingest-*`` folders of ``$TMPDIR`` whose owner lock it
can take, i.e. those no live process owns. Folders of other live runs (into any store) are
left alone.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from hotspot.core.locking import flock_held
from hotspot.ingest._read import CsvInput
from hotspot.ingest.schema import EVENTS_SCHEMA

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


PREFIX = "hotspot-ingest-"
OWNER_FILE = ".owner"
#: A folder without an owner file younger than this may be a run between ``mkdtemp`` and
#: taking its lock.
_GRACE_S = 60.0


def _owned_by_live_run(folder: Path) -> bool:
    """Whether a live process holds ``folder``'s owner lock (probe: take and drop it)."""
    try:
        return flock_held(folder / OWNER_FILE)
    except FileNotFoundError:
        try:
            return time.time() - folder.stat().st_mtime < _GRACE_S
        except FileNotFoundError:
            return True  # already gone
    except OSError:
        return True  # not ours to judge (another user's folder, or it cannot be locked)


def remove_stale_spills(tmp: Path | None = None) -> list[Path]:
    """Delete the spill folders in ``tmp`` (default ``$TMPDIR``) that no live run owns."""
    tmp = Path(tmp or tempfile.gettempdir())
    removed = []
    for folder in sorted(tmp.glob(PREFIX + "*")):
        if folder.is_dir() and not folder.is_symlink() and not _owned_by_live_run(folder):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


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
        self.dir = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._owner = os.open(self.dir / OWNER_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.pieces: list[Piece] = []
        remove_stale_spills(self.dir.parent)

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        os.close(self._owner)

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
