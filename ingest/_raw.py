"""The raw fields of quarantined rows, kept as JSON text so nothing of a bad row is lost."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


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


def spread(values: pa.ChunkedArray, positions: np.ndarray, n_rows: int) -> pd.Series:
    """A text column of ``n_rows`` with ``values`` at ``positions`` and missing elsewhere."""
    where = np.full(n_rows, -1, dtype=np.int64)
    where[positions] = np.arange(len(positions))
    indices = pa.array(where, mask=where < 0)
    return values.take(indices).to_pandas().astype("str")


