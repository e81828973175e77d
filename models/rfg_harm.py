"""``rfg-harm``: a recency-frequency-gravity place score, scaled to expected counts.

Every past crime in a cell adds its harm weight (gravity; days of imprisonment, see
``hotspot.features.harm``) decayed by its age (recency): ``score = Σ_t Σ_k w_k · n_tkc ·
exp(−age_t / tau)``, age 0 for the latest period; many crimes add up (frequency). Cubes
without category counts fall back to a weight of 1 per crime.

The score ranks places by recent harm; to be scored like any other forecaster it is
turned into expected counts: the cells' shares of the score times the study area's mean
total count over the last ``k`` periods, blended with ``floor_share`` of the area share
so no cell is forecast exactly zero (the blend does not change the order of cells with a
score, as ranking is by density).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.features.harm import load_harm_weights
from hotspot.features.targets import target_of
from hotspot.models.base import Covariates, LevelForecaster, optional


class RFGHarm(LevelForecaster):
    """Harm-weighted, exponentially decayed count of past crimes per cell."""

    name = "rfg-harm"

    def __init__(
        self,
        tau: float = 3.0,
        k: int = 12,
        floor_share: float = 0.05,
        weights: str | None = None,
        missing_weight: float | None = None,
    ) -> None:
        self.tau = tau
        self.k = k
        self.floor_share = floor_share
        self.weights = weights
        self.missing_weight = missing_weight

    def _validate_params(self) -> None:
        if not float(self.tau) > 0:
            raise ConfigError(f"rfg-harm tau must be > 0 periods, got {self.tau}")
        if int(self.k) < 1:
            raise ConfigError(f"rfg-harm k must be at least 1, got {self.k}")
        if not 0 <= float(self.floor_share) < 1:
            raise ConfigError(f"rfg-harm floor_share must be in [0, 1), got {self.floor_share}")

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        tau, k, floor_share = float(self.tau), int(self.k), float(self.floor_share)
        counts = history["counts"].values.astype(float)
        self.weighted_ = bool("category_counts" in history and history.sizes.get("category", 0))
        if self.weighted_:
            weights = load_harm_weights(optional(str, self.weights))
            by_category = history["category_counts"]
            target = target_of(history)
            if target is not None:  # weigh the crimes the target counts, not every crime
                by_category = by_category.sel(category=list(target.categories))
            w = weights.vector(list(by_category["category"].values),
                               optional(float, self.missing_weight))
            harm = np.einsum("tkc,k->tc", by_category.values.astype(float), w)
        else:
            harm = counts
        age = np.arange(counts.shape[0])[::-1].astype(float)
        score = (np.exp(-age / tau)[:, None] * harm).sum(axis=0)
        total = counts[-k:].sum(axis=1).mean()
        area = history["area_m2"].values.astype(float)
        area_share = area / area.sum()
        score_share = score / score.sum() if score.sum() > 0 else area_share
        self.total_ = float(total)
        self.level_ = total * ((1 - floor_share) * score_share + floor_share * area_share)

    def fitted_params(self) -> dict[str, Any]:
        return {"total_per_period": self.total_, "harm_weighted": self.weighted_}
