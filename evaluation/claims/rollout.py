"""A staggered rollout: which unit started (and stopped) when, read from a CSV
``unit,start[,end]`` (:func:`read_rollout`)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from hotspot.core.errors import ConfigError, DataError

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
COLUMNS = ("unit", "start", "end")


def looks_like_rollout(text: str) -> bool:
    """Whether a ``--from`` value names a rollout CSV rather than a month."""
    return not _MONTH.match(text.strip()) and (text.strip().lower().endswith(".csv")
                                               or Path(text).is_file())


def _month(text: str, path: Path, line: int, column: str) -> pd.Period:
    if not _MONTH.match(text.strip()):
        raise ConfigError(f"--from {path} line {line}: {column} {text.strip()!r} is not a "
                          "month: write it as YYYY-MM")
    return pd.Period(text.strip(), freq="M")


def read_rollout(path: Path | str, known_units: list[str] | None = None) -> pd.DataFrame:
    """The rollout table: one row per treated unit with ``unit``, ``start`` and ``end``
    (monthly periods; ``end`` is ``NaT`` where the file leaves it blank).

    Parameters
    ----------
    path
        CSV with a header ``unit,start`` or ``unit,start,end``.
    known_units
        The names of the polygons units must match (e.g. the wards of the area file).

    Raises
    ------
    DataError
        A missing or empty file.
    ConfigError
        A wrong header, a bad month, an end before its start, a repeated or unknown unit;
        the message names the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"--from {path} not found: pass YYYY-MM or a rollout CSV "
                        "unit,start[,end]")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise DataError(f"--from {path} is empty: write a header unit,start[,end] and one "
                        "row per treated unit")
    header = [c.strip().lower() for c in rows[0]]
    if header not in (list(COLUMNS[:2]), list(COLUMNS)):
        raise ConfigError(f"--from {path}: header {','.join(rows[0])!r} must be "
                          "unit,start or unit,start,end")
    if len(rows) == 1:
        raise DataError(f"--from {path} has a header but no rows: add one row per treated "
                        "unit")
    known = None if known_units is None else set(known_units)
    records, seen = [], set()
    for line, row in enumerate(rows[1:], start=2):
        if len(row) > len(header) or len(row) < 2:
            raise ConfigError(f"--from {path} line {line}: {len(row)} fields, expected "
                              f"{len(header)} ({','.join(header)})")
        unit = row[0].strip()
        if not unit:
            raise ConfigError(f"--from {path} line {line}: the unit name is blank")
        if unit in seen:
            raise ConfigError(f"--from {path} line {line}: unit {unit!r} is listed twice")
        if known is not None and unit not in known:
            close = sorted(k for k in known if k.lower().startswith(unit[:3].lower()))[:5]
            hint = f" (similar: {', '.join(close)})" if close else ""
            raise ConfigError(f"--from {path} line {line}: unit {unit!r} matches no polygon "
                              f"of the area file{hint}")
        seen.add(unit)
        start = _month(row[1], path, line, "start")
        end_text = row[2].strip() if len(row) > 2 else ""
        end = _month(end_text, path, line, "end") if end_text else pd.NaT
        if end is not pd.NaT and end < start:
            raise ConfigError(f"--from {path} line {line}: end {end} is before start {start}")
        records.append({"unit": unit, "start": start, "end": end})
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))
