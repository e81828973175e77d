"""What every source shares: give each row of an input either no reason (an event) or
exactly one quarantine reason.

A source reads a file with :mod:`hotspot.ingest._read`, wraps each table in :class:`Rows`
and runs its own checks in precedence order with :meth:`Rows.flag` (a row keeps the first
reason it gets), setting these columns::

    month                ``YYYY-MM`` of ``time``, or ``INVALID_MONTH``
    time, lon, lat       parsed values (NaT / NaN where unreadable)
    event_id             the id the event gets
    unique_id            True where ``event_id`` came from the data (duplicates are checked)
    category, area_code

then :class:`~hotspot.ingest._checks.CommonChecks` (``future_time``, ``outside_study_area``,
projected ``x``/``y``). :meth:`Rows.frame` adds ``file``, ``row`` (1-based), ``source``,
the reason ``code`` and the ``raw`` fields (JSON) of quarantined rows. The store is then
written by :func:`~hotspot.ingest._commit.commit` (an input held in memory) or
:func:`~hotspot.ingest._commit_spilled.commit_spilled` (inputs streamed block by block).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from hotspot.ingest._raw import raw_json, spread
from hotspot.ingest._read import CsvInput
from hotspot.ingest.schema import REASONS

#: Reason codes: 0 = no reason (an event), then the schema's reasons in order.
REASON_TEXT = np.array([None, *REASONS], dtype=object)
REASON_CODE = {reason: np.int8(code) for code, reason in enumerate(REASONS, start=1)}


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
        self.code[np.asarray(mask, dtype=bool) & (self.code == 0)] = REASON_CODE[reason]

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
        raw = spread(raw_json(self.table, quarantined), quarantined, self.n_rows)
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
