"""Forecast periods: months for police.uk, days or weeks where events have timestamps.

Periods are ``pandas.Period``; the cube's time coordinate holds each period's start.
Labels are ``YYYY-MM`` for months and ``YYYY-MM-DD`` (the first day) for days and weeks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from hotspot.core.errors import ConfigError

Freq = Literal["M", "W", "D"]

#: pandas period frequency for each cube frequency (weeks run Monday to Sunday).
PANDAS_FREQ: dict[str, str] = {"M": "M", "W": "W-SUN", "D": "D"}


def check_freq(freq: str) -> Freq:
    if freq not in PANDAS_FREQ:
        raise ConfigError(f"--freq {freq!r} is not one of M (month), W (week), D (day)")
    return freq  # type: ignore[return-value]


def to_period(value: pd.Period | str | pd.Timestamp | np.datetime64, freq: str) -> pd.Period:
    """Interpret ``value`` (a period, ``YYYY-MM``/``YYYY-MM-DD`` text or timestamp) as a period."""
    pandas_freq = PANDAS_FREQ[check_freq(freq)]
    if isinstance(value, pd.Period):
        return value.asfreq(pandas_freq) if value.freqstr != pandas_freq else value
    try:
        return pd.Period(pd.Timestamp(value), freq=pandas_freq)
    except (ValueError, TypeError):
        raise ConfigError(
            f"{value!r} is not a period: write months as YYYY-MM and days as YYYY-MM-DD"
        ) from None


def period_label(period: pd.Period) -> str:
    """``YYYY-MM`` for months, ``YYYY-MM-DD`` (first day) for days and weeks."""
    if period.freqstr.startswith("M"):
        return period.strftime("%Y-%m")
    return period.start_time.strftime("%Y-%m-%d")


def period_range(first: pd.Period, last: pd.Period) -> pd.PeriodIndex:
    return pd.period_range(first, last, freq=first.freq)


def period_starts(periods: pd.PeriodIndex) -> np.ndarray:
    """Start timestamps (``datetime64[ns]``) used as the cube's time coordinate."""
    return periods.to_timestamp(how="start").to_numpy(dtype="datetime64[ns]")
