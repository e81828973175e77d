"""The canonical daily weather table and its provenance.

One row per calendar day of the range, no gaps (a day without data is a row of NaN), and
the columns

==========  ======================================================
``date``    the day (``datetime64``, midnight)
``tmax``    daily maximum temperature, °C
``tmin``    daily minimum temperature, °C
``tavg``    daily mean temperature, °C
``prcp``    precipitation, mm
==========  ======================================================

Where it comes from is provenance, not a column: ``source``, the station, the file, and
``n_suspect`` (values an ECA&D file flags as suspect, kept).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hotspot.core.atomic import atomic_path
from hotspot.core.errors import DataError

VALUE_COLUMNS = ["tmax", "tmin", "tavg", "prcp"]
DAILY_COLUMNS = ["date", *VALUE_COLUMNS]
UNITS = {"tmax": "degC", "tmin": "degC", "tavg": "degC", "prcp": "mm"}


@dataclass
class WeatherData:
    """A canonical daily table and where it came from.

    ``suspect`` (same rows as ``daily``, boolean value columns) marks values a source
    flagged as suspect and that were kept; ``n_suspect`` counts them per column.
    """

    daily: pd.DataFrame
    source: str  # "meteostat", "ecad" or "csv"
    station: str | None = None
    station_name: str | None = None
    file: str | None = None
    suspect: pd.DataFrame | None = None
    from_cache: bool = False
    cache_file: str | None = None
    warnings: list[str] = field(default_factory=list)
    file_sha256: str | None = None

    @property
    def n_suspect(self) -> dict[str, int]:
        if self.suspect is None:
            return dict.fromkeys(VALUE_COLUMNS, 0)
        return {c: int(self.suspect[c].sum()) for c in VALUE_COLUMNS}

    @property
    def n_suspect_days(self) -> int:
        if self.suspect is None:
            return 0
        return int(self.suspect[VALUE_COLUMNS].any(axis=1).sum())

    @property
    def n_days(self) -> int:
        return len(self.daily)

    @property
    def n_missing(self) -> dict[str, int]:
        return {c: int(self.daily[c].isna().sum()) for c in VALUE_COLUMNS}

    @property
    def n_suspect_total(self) -> int:
        return int(sum(self.n_suspect.values()))

    def describe_source(self) -> str:
        if self.source == "meteostat":
            name = f" ({self.station_name})" if self.station_name else ""
            return f"meteostat station {self.station}{name}" + (
                " [cache]" if self.from_cache else "")
        kind = "ECA&D file" if self.source == "ecad" else "CSV file"
        return f"{kind} {self.file}"

    def provenance(self) -> dict[str, Any]:
        dates = self.daily["date"]
        return {
            "source": self.source,
            "station": self.station,
            "station_name": self.station_name,
            "file": self.file,
            "file_sha256": self.file_sha256,
            "start": dates.min().strftime("%Y-%m-%d") if len(dates) else None,
            "end": dates.max().strftime("%Y-%m-%d") if len(dates) else None,
            "n_days": self.n_days,
            "n_missing": self.n_missing,
            "n_suspect": dict(self.n_suspect),
            "n_suspect_total": self.n_suspect_total,
            "n_suspect_days": self.n_suspect_days,
            "units": UNITS,
            "from_cache": self.from_cache,
            "cache_file": self.cache_file,
            "warnings": list(self.warnings),
            "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def summary(self) -> str:
        """Days, missing, suspect and source in a few lines."""
        dates = self.daily["date"]
        span = (f"{dates.min():%Y-%m-%d}..{dates.max():%Y-%m-%d}" if len(dates) else "empty")
        missing = ", ".join(f"{c} {n}" for c, n in self.n_missing.items())
        suspect = (", ".join(f"{c} {n}" for c, n in self.n_suspect.items() if n)
                   or "none")
        return (f"weather: {self.n_days} days {span} from {self.describe_source()}\n"
                f"  missing days: {missing}\n"
                f"  suspect values (kept): {self.n_suspect_total} ({suspect})")


def empty_daily() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.DatetimeIndex([], dtype="datetime64[ns]"),
                         **{c: pd.Series(dtype=float) for c in VALUE_COLUMNS}})


def complete_days(daily: pd.DataFrame, start: date | None = None,
                  end: date | None = None) -> pd.DataFrame:
    """``daily`` restricted to ``start..end`` (default: its own span) with one row per day.

    Days the table lacks become NaN rows; duplicate dates are a ``DataError``.
    """
    frame = daily.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize().astype("datetime64[ns]")
    dup = frame["date"].duplicated()
    if dup.any():
        raise DataError(f"weather has {int(dup.sum())} duplicate dates, first "
                        f"{frame.loc[dup, 'date'].iloc[0]:%Y-%m-%d}")
    for column in VALUE_COLUMNS:
        frame[column] = (pd.to_numeric(frame[column], errors="coerce").astype(float)
                         if column in frame else np.nan)
    if start is None and end is None and frame.empty:
        return empty_daily()
    first = pd.Timestamp(start) if start is not None else frame["date"].min()
    last = pd.Timestamp(end) if end is not None else frame["date"].max()
    if pd.isna(first) or pd.isna(last) or first > last:
        return empty_daily()
    days = pd.date_range(first, last, freq="D").astype("datetime64[ns]")
    frame = frame.set_index("date")[VALUE_COLUMNS].reindex(days)
    return frame.rename_axis("date").reset_index()


def complete_flags(suspect: pd.DataFrame, start: date | None = None,
                    end: date | None = None) -> pd.DataFrame:
    """Suspect flags on the same complete day range as ``complete_days`` gives."""
    flags = complete_days(suspect.astype({c: float for c in VALUE_COLUMNS}), start, end)
    flags[VALUE_COLUMNS] = flags[VALUE_COLUMNS].fillna(0.0).astype(bool)
    return flags


def restrict(data: WeatherData, start: date | None, end: date | None) -> WeatherData:
    """``data`` on ``start..end`` (NaN days where it has none); suspect counts follow."""
    if start is None and end is None:
        return data
    suspect = None if data.suspect is None else complete_flags(data.suspect, start, end)
    return replace(data, daily=complete_days(data.daily, start, end), suspect=suspect,
                   warnings=list(data.warnings))


def write_parquet(frame: pd.DataFrame, target: Path) -> Path:
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)
    return target
