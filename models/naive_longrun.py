"""``naive-longrun``: the mean of all history."""

from __future__ import annotations

import pandas as pd
import xarray as xr

from hotspot.models.base import Covariates, LevelForecaster


class NaiveLongrun(LevelForecaster):
    """Expected count = mean count over every period up to the cutoff."""

    name = "naive-longrun"
    _tags = {"baseline": True}

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        self.level_ = history["counts"].values.mean(axis=0)

