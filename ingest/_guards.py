"""Nothing lost before anything is written: per-file tallies of the checked rows, the
refusals that keep a run from emptying the store, and the warnings a run must show.

A source adds every checked block to a :class:`FileTally` (rows, rows still open, reasons,
one example per reason). Before the store is touched, :func:`refuse_if_nothing_ingested`
refuses a run whose rows were all quarantined, and :func:`refuse_emptied_partitions`
refuses to replace a (month, source) that holds events with one that would hold none (a
file whose every row is unreadable would otherwise wipe a good month). What passes is
warned about by :func:`tally_warnings`. Counts here are taken before duplicate ids are
flagged (that needs the store), so "open" rows are events-to-be.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import hotspot.ingest.store as event_store
from hotspot.core.errors import DataError
from hotspot.ingest._rows import REASON_TEXT
from hotspot.ingest.schema import (
    BAD_COORDINATES,
    BAD_MONTH,
    BAD_TIME,
    FUTURE_TIME,
    INVALID_MONTH,
    NO_COORDINATES,
    OUTSIDE_COUNTRY,
    OUTSIDE_STUDY_AREA,
    REASONS,
)

#: Warn when more than this share of a file's rows cannot be read (time or month).
UNREADABLE_WARN_SHARE = 0.02

_HINTS = {
    BAD_MONTH: "the Month column must name a month (YYYY-MM; 2020-1, 01/2020 and Jan-20 are "
               "read too)",
    BAD_TIME: "check --time-col, and give --time-format (or --dayfirst/--monthfirst)",
    NO_COORDINATES: "check the coordinate columns (--lon-col/--lat-col or --x-col/--y-col)",
    BAD_COORDINATES: "check the coordinate columns and --input-crs",
    OUTSIDE_COUNTRY: "longitude and latitude may be swapped",
    FUTURE_TIME: "the dates lie after today",
    OUTSIDE_STUDY_AREA: "the study area (--area/--area-filter/--bbox) does not cover the data",
}


@dataclass
class FileTally:
    """What the checks did to one input file's rows (before duplicate ids)."""

    label: str
    n_rows: int = 0
    n_open: int = 0
    reasons: Counter = field(default_factory=Counter)
    #: reason → (row number, value of the file's key field) of its first row.
    examples: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, code: np.ndarray, row: np.ndarray, value: pd.Series,
            by_reason: Mapping[str, pd.Series] | None = None) -> None:
        """Count one block: reason codes, 1-based row numbers and, for the examples, the
        text that shows each reason (``by_reason``, else ``value``)."""
        self.n_rows += len(code)
        self.n_open += int((code == 0).sum())
        for reason_code in np.unique(code[code != 0]):
            reason = str(REASON_TEXT[reason_code])
            where = np.flatnonzero(code == reason_code)
            self.reasons[reason] += len(where)
            if reason not in self.examples:
                shown = (by_reason or {}).get(reason, value)
                self.examples[reason] = (int(row[where[0]]), str(shown.iloc[where[0]]))

    def describe(self) -> str:
        """``bad_month 797, e.g. row 2: '2020-1'`` for the reasons, commonest first."""
        parts = []
        order = sorted(self.reasons.items(), key=lambda kv: (-kv[1], REASONS.index(kv[0])))
        for reason, n in order:
            row, value = self.examples[reason]
            parts.append(f"{reason} {n:,} (e.g. row {row}: {value!r})")
        return ", ".join(parts)

    def hint(self) -> str:
        top = max(self.reasons, key=lambda r: self.reasons[r]) if self.reasons else None
        return _HINTS.get(top or "", "check the input")


def partition_counts(frame: pd.DataFrame, counts: Counter,
                     owners: dict[tuple[str, str], list[str]], label: str) -> None:
    """Add a checked block's open rows per (month, source) to ``counts`` (every partition
    the block touches appears, with 0 where all its rows were quarantined) and ``label``
    to the partition's ``owners``."""
    open_rows = (frame["code"] == 0).to_numpy()
    keys = pd.DataFrame({"month": frame["month"].to_numpy(), "source": frame["source"].to_numpy(),
                         "open": open_rows})
    for (month, source), n in keys.groupby(["month", "source"], sort=False)["open"].sum().items():
        key = (str(month), str(source))
        counts[key] += int(n)
        if label not in owners.setdefault(key, []):
            owners[key].append(label)


def refuse_if_nothing_ingested(tallies: Iterable[FileTally]) -> None:
    """Raise ``DataError`` when the input has rows but every one was quarantined."""
    tallies = list(tallies)
    n_rows = sum(t.n_rows for t in tallies)
    if n_rows == 0 or any(t.n_open for t in tallies):
        return
    worst = max(tallies, key=lambda t: t.n_rows)
    where = worst.label if len(tallies) == 1 else f"{len(tallies)} files (e.g. {worst.label})"
    raise DataError(
        f"nothing to ingest: all {n_rows:,} rows of {where} were quarantined: "
        f"{worst.describe()}; the store is unchanged: {worst.hint()}"
    )


def refuse_emptied_partitions(
    store: Path,
    partitions: Mapping[tuple[str, str], int],
    tallies: Mapping[tuple[str, str], list[FileTally]],
) -> None:
    """Raise ``DataError`` if a (month, source) that holds events in ``store`` would be
    replaced by one without any (``partitions`` gives the open rows of each one this run
    writes; ``tallies`` the files behind each)."""
    if not (Path(store) / event_store.META_FILE).exists():
        return
    for (month, source), n_open in sorted(partitions.items()):
        if n_open or month == INVALID_MONTH:
            continue
        held = event_store.read_events(store, months=[month])
        n_held = int((held["source"] == source).sum())
        if not n_held:
            continue
        files = tallies.get((month, source), [])
        label = ", ".join(t.label for t in files) or "the input"
        n_rows = sum(t.n_rows for t in files)
        why = (f"all {n_rows:,} of its rows are quarantined: {files[0].describe()}"
               if n_rows and files else "it has no rows")
        raise DataError(
            f"{label} would replace {month} {source} ({n_held:,} events in the store) with no "
            f"event: {why}; nothing was written: "
            + (files[0].hint() if n_rows and files else
               "leave the file out, or remove that month's partition from the store by hand")
        )


def tally_warnings(tallies: Iterable[FileTally], unreadable: str, field_name: str) -> list[str]:
    """Warnings for files whose rows all were quarantined, and for files where more than
    :data:`UNREADABLE_WARN_SHARE` of the rows have an ``unreadable`` (``bad_time`` or
    ``bad_month``) ``field_name``."""
    out = []
    for t in tallies:
        if t.n_rows and not t.n_open:
            out.append(f"{t.label}: all {t.n_rows:,} rows were quarantined: {t.describe()}; "
                       f"{t.hint()}")
            continue
        n_bad = t.reasons.get(unreadable, 0)
        if t.n_rows and n_bad > UNREADABLE_WARN_SHARE * t.n_rows:
            row, value = t.examples[unreadable]
            out.append(f"{t.label}: {n_bad:,} of {t.n_rows:,} rows ({n_bad / t.n_rows:.1%}) have "
                       f"a {field_name} that cannot be read (e.g. row {row}: {value!r}); they "
                       f"are quarantined as {unreadable}: {_HINTS[unreadable]}")
    return out
