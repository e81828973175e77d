"""``naive-mean``: the mean of the last ``k`` periods."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.models.base import Covariates, LevelForecaster


class NaiveMean(LevelForecaster):
    """Expected count = mean count over the last ``k`` periods (all of them if fewer)."""

    name = "naive-mean"
    _tags = {"baseline": True}

    def __init__(self, k: int = 12) -> None:
        self.k = k

    def _validate_params(self) -> None:
        if int(self.k) < 1:
            raise ConfigError(f"naive-mean k must be at least 1, got {self.k}")

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        self.level_ = history["counts"].values[-int(self.k) :].mean(axis=0)

