"""``naive-last``: next period looks like the last one."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from hotspot.models.base import Covariates, LevelForecaster


class NaiveLast(LevelForecaster):
    """Expected count = the count in the last observed period."""

    name = "naive-last"
    _tags = {"baseline": True}

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        self.level_ = history["counts"].values[-1].astype(float)

