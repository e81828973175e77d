"""Faults injected into a store write, shared by the crash tests and the hostile cases.

Both check that a disk filling up part-way through an ingest changes nothing; they must
fail the write the same way (same call, same leftover) for their results to agree.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pyarrow.parquet as pq
import pytest

#: The partition file whose write fails: far enough in that earlier partitions were staged.
FULL_AT_WRITE = 11


def fill_disk_at(monkeypatch: pytest.MonkeyPatch, n: int = FULL_AT_WRITE) -> list[str]:
    """Make the ``n``-th ``pyarrow.parquet.write_table`` call leave a stub of a file (as a
    full disk does) and raise ``ENOSPC``; the others write as usual. Returns the list of
    paths written to, filled as the calls come (undo with ``monkeypatch.undo()``)."""
    real, calls = pq.write_table, []

    def full(table, where, *args, **kwargs):
        calls.append(where)
        if len(calls) == n:
            Path(where).write_bytes(b"PAR1")
            raise OSError(errno.ENOSPC, "No space left on device", str(where))
        return real(table, where, *args, **kwargs)

    monkeypatch.setattr(pq, "write_table", full)
    return calls
