"""Local daily weather files: ECA&D station files and plain ``date,tmax,tmin,tavg,prcp`` CSVs.

- ECA&D (``DATE`` as ``YYYYMMDD``; ``TX, TN, TG`` in 0.1 °C, ``RR`` in 0.1 mm; each followed
  by its ``Q_`` flag: 0 valid, 1 suspect (kept, counted), 9 missing (NaN); ``-9999`` is
  missing too), recognised by a ``DATE`` header with ``Q_`` columns;
- a plain CSV ``date,tmax,tmin,tavg,prcp`` (°C, mm; ISO dates; absent columns are NaN).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from hotspot.core.errors import DataError
from hotspot.ingest.weather_table import VALUE_COLUMNS, WeatherData, complete_days, complete_flags

#: ECA&D element -> canonical column (all four in tenths).
ECAD_ELEMENTS = {"TX": "tmax", "TN": "tmin", "TG": "tavg", "RR": "prcp"}
ECAD_MISSING = -9999
FLAG_VALID, FLAG_SUSPECT, FLAG_MISSING = 0, 1, 9
#: Plain CSV header aliases (lower-cased) -> canonical column.
CSV_ALIASES = {"date": "date", "time": "date", "day": "date", "tmax": "tmax", "tmin": "tmin",
               "tavg": "tavg", "temp": "tavg", "prcp": "prcp", "precip": "prcp"}
#: Beyond these a plain CSV is almost certainly in other units (tenths, °F, ...).
PLAUSIBLE = {"temperature": (-90.0, 60.0), "prcp": (0.0, 2000.0)}


def _raise_bad_values(path: Path, column: str, raw: pd.Series, parsed: pd.Series) -> None:
    bad = raw.notna() & (raw.astype(str).str.strip() != "") & parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise DataError(f"{path}: column {column} has {int(bad.sum())} non-numeric values "
                        f"(first at line {row}: {raw[bad].iloc[0]!r})")


def _parse_dates(path: Path, raw: pd.Series, fmt: str | None) -> pd.Series:
    text = raw.astype(str).str.strip()
    if fmt is None:
        fmt = "%Y%m%d" if text.str.fullmatch(r"\d{8}").all() else "ISO8601"
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0]) + 2
        raise DataError(f"{path}: {int(parsed.isna().sum())} dates cannot be read (first at "
                        f"line {row}: {raw[parsed.isna()].iloc[0]!r}); write YYYY-MM-DD")
    return parsed


def _header_line(path: Path) -> tuple[int, list[str]]:
    """Index and tokens of the first line that looks like a header (ECA&D has a preamble)."""
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as handle:
            for number, line in enumerate(handle):
                tokens = [t.strip() for t in line.strip().split(",")]
                upper = [t.upper() for t in tokens]
                if "DATE" in upper and len(tokens) > 1:
                    return number, tokens
                if number >= 60:
                    break
    except OSError as exc:
        raise DataError(f"weather file {path} cannot be read: {exc}") from None
    raise DataError(f"{path}: no header with a DATE/date column in the first lines; expected "
                    f"an ECA&D file or a CSV 'date,tmax,tmin,tavg,prcp'")


def detect_format(path: Path | str) -> str:
    """``"ecad"`` for a DATE header with ``Q_`` flags, ``"csv"`` for ``date,tmax,...``."""
    _, tokens = _header_line(Path(path))
    upper = [t.upper() for t in tokens]
    if any(t.startswith("Q_") for t in upper) and any(t in ECAD_ELEMENTS for t in upper):
        return "ecad"
    lower = {CSV_ALIASES.get(t.lower()) for t in tokens}
    if "date" in lower and lower & set(VALUE_COLUMNS):
        return "csv"
    raise DataError(f"{path}: header {tokens} is neither ECA&D (DATE, TX, Q_TX, TN, ...) nor "
                    f"a CSV with date,tmax,tmin,tavg,prcp")


def read_ecad(path: Path | str) -> WeatherData:
    """Read an ECA&D daily file: tenths to °C/mm, flag 9 (or -9999) to NaN, flag 1 counted."""
    path = Path(path)
    skip, _ = _header_line(path)
    raw = pd.read_csv(path, skiprows=skip, dtype=str, skipinitialspace=True,
                      keep_default_na=False, na_values=[""])
    raw.columns = [str(c).strip().upper() for c in raw.columns]
    present = [e for e in ECAD_ELEMENTS if e in raw.columns]
    if not present:
        raise DataError(f"{path}: ECA&D file has none of the columns {list(ECAD_ELEMENTS)}")
    dates = _parse_dates(path, raw["DATE"], "%Y%m%d")
    daily = pd.DataFrame({"date": dates})
    suspect = pd.DataFrame({"date": dates})
    for element, column in ECAD_ELEMENTS.items():
        if element not in raw.columns:
            daily[column] = np.nan
            suspect[column] = False
            continue
        values = pd.to_numeric(raw[element], errors="coerce")
        _raise_bad_values(path, element, raw[element], values)
        flag_col = f"Q_{element}"
        if flag_col in raw.columns:
            flags = pd.to_numeric(raw[flag_col], errors="coerce").fillna(FLAG_VALID).astype(int)
        else:
            flags = pd.Series(FLAG_VALID, index=raw.index)
        missing = (flags == FLAG_MISSING) | (values == ECAD_MISSING) | values.isna()
        daily[column] = (values / 10.0).where(~missing)
        suspect[column] = (flags == FLAG_SUSPECT) & ~missing  # only values that are kept
    return WeatherData(complete_days(daily), "ecad", file=str(path),
                       suspect=complete_flags(suspect))


def read_plain_csv(path: Path | str) -> WeatherData:
    """Read ``date,tmax,tmin,tavg,prcp`` (°C, mm); missing columns become NaN."""
    path = Path(path)
    skip, _ = _header_line(path)
    raw = pd.read_csv(path, skiprows=skip, dtype=str, skipinitialspace=True,
                      keep_default_na=False, na_values=["", "NA", "NaN", "nan"])
    raw.columns = [CSV_ALIASES.get(str(c).strip().lower(), str(c).strip().lower())
                   for c in raw.columns]
    if "date" not in raw.columns:
        raise DataError(f"{path}: no date column; expected date,tmax,tmin,tavg,prcp")
    daily = pd.DataFrame({"date": _parse_dates(path, raw["date"], None)})
    for column in VALUE_COLUMNS:
        if column not in raw.columns:
            daily[column] = np.nan
            continue
        values = pd.to_numeric(raw[column], errors="coerce")
        _raise_bad_values(path, column, raw[column], values)
        low, high = PLAUSIBLE["prcp" if column == "prcp" else "temperature"]
        outside = values.notna() & ((values < low) | (values > high))
        if outside.any():
            unit = "mm" if column == "prcp" else "°C"
            raise DataError(f"{path}: {int(outside.sum())} {column} values outside "
                            f"[{low:g}, {high:g}] {unit} (e.g. {values[outside].iloc[0]:g}); "
                            f"plain CSVs must be in °C and mm, not tenths or °F")
        daily[column] = values.astype(float)
    return WeatherData(complete_days(daily), "csv", file=str(path))


def read_weather_file(path: Path | str) -> WeatherData:
    """Read an ECA&D or plain CSV weather file, whichever its header says."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"weather file {path} not found")
    data = read_ecad(path) if detect_format(path) == "ecad" else read_plain_csv(path)
    data.file_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return data
