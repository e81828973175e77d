"""Event ids as 128-bit digests, so that a month's ids and the store's can be checked for
duplicates in bounded memory (16 bytes an id)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import hotspot.ingest.store as event_store

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
    root = event_store.committed_root(store) / event_store.EVENTS_DIR
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
