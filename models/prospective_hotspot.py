"""``prospective-hotspot``: prospective mapping (Bowers, Johnson & Pease 2004).

Crime clusters in space and time for a few weeks: every recent crime raises the risk
nearby. Each past crime contributes to cell ``c`` a weight that decays with distance and
with age; cells are ranked by the sum of those weights:

    score[c] = Σ_{s: age_s <= window_weeks} 1 / (1 + age_s)  ·  Σ_j y[j, s] · w(d[c, j])
    w(d)     = 1 / (1 + d / cell_size)   for d <= radius_m (own cell 1), else 0

``d`` is the distance between cell centres; ``age_s`` is the time in weeks from the middle
of period ``s`` to the start of the forecast period (crimes are only known to the period,
so the middle stands for them). With the defaults (400 m, 8 weeks) a monthly cube uses the
last two months (ages ~2.2 and ~6.5 weeks), a daily one the last 56 days.

**Scale.** The score only ranks; to give expected counts it is turned into shares and
multiplied by the recent mean total (mean over the last ``total_periods`` periods of the
whole area's count; default 12 months, 13 weeks or 28 days), with a small area-
proportional floor (``floor_share``) so no cell is forecast a hard zero — the floor adds
the same density everywhere and leaves the ranking unchanged
(``features.spatial.scores_to_counts``). The forecast is the same for every horizon.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.features.cube import cube_periods
from hotspot.features.spatial import (
    cell_coords,
    inverse_distance_band_weights,
    recent_mean_total,
    scores_to_counts,
)
from hotspot.models.base import Covariates, LevelForecaster, optional


class ProspectiveHotspot(LevelForecaster):
    """Distance- and age-weighted sum of recent crimes, scaled to the recent mean total."""

    name = "prospective-hotspot"

    def __init__(self, radius_m: float = 400.0, window_weeks: float = 8.0,
                 total_periods: int | None = None, floor_share: float = 0.02) -> None:
        self.radius_m = radius_m
        self.window_weeks = window_weeks
        self.total_periods = total_periods
        self.floor_share = floor_share

    def _validate_params(self) -> None:
        if not self.radius_m >= 0:
            raise ConfigError(f"prospective-hotspot radius_m must be >= 0, got {self.radius_m}")
        if not self.window_weeks > 0:
            raise ConfigError(f"prospective-hotspot window_weeks must be > 0, "
                              f"got {self.window_weeks}")
        if self.total_periods is not None and int(self.total_periods) < 1:
            raise ConfigError(f"prospective-hotspot total_periods must be >= 1, "
                              f"got {self.total_periods}")
        if not 0 <= self.floor_share < 1:
            raise ConfigError(f"prospective-hotspot floor_share must be in [0, 1), "
                              f"got {self.floor_share}")

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        counts = history["counts"].values.astype(float)
        periods = cube_periods(history)
        forecast_start = (periods[-1] + 1).start_time
        middle = periods.start_time + (periods.end_time - periods.start_time) / 2
        age_weeks = np.asarray((forecast_start - middle) / pd.Timedelta(days=7), dtype=float)
        used = age_weeks <= float(self.window_weeks)
        used[-1] = True  # the last period always counts, whatever the window
        time_weight = np.where(used, 1.0 / (1.0 + np.maximum(age_weeks, 0.0)), 0.0)
        recent = time_weight @ counts  # (cell,) age-weighted counts
        _, _, x, y = cell_coords(history)
        kernel = inverse_distance_band_weights(x, y, float(self.radius_m),
                                               history.attrs["cell_size_m"])
        self.score_ = np.asarray(kernel @ recent, dtype=float)
        self.total_ = recent_mean_total(counts, history.attrs["freq"],
                                        optional(int, self.total_periods))
        self.n_periods_used_ = int(used.sum())
        self.level_ = scores_to_counts(self.score_, history["area_m2"].values, self.total_,
                                       float(self.floor_share))

    def fitted_params(self) -> dict[str, Any]:
        return {"total": self.total_, "n_periods_used": self.n_periods_used_,
                "score_max": float(self.score_.max()), "score_sum": float(self.score_.sum())}
