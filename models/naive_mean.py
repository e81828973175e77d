"""``naive-mean``: the mean of the last ``k`` periods."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.models.base import LevelForecaster
from hotspot.models.registry import register


@register
class NaiveMean(LevelForecaster):
    """Expected count = mean count over the last ``k`` periods (all of them if fewer)."""

    name = "naive-mean"

    def __init__(self, k: int = 12) -> None:
        if int(k) < 1:
            raise ConfigError(f"naive-mean k must be at least 1, got {k}")
        self.k = int(k)

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None) -> None:
        self.level_ = history["counts"].values[-self.k :].mean(axis=0)

