"""``kde``: space-time kernel density of past counts, bandwidths chosen on held-out periods.

For a forecast of period ``τ`` from the periods before it

    score[c] = Σ_{s < τ} exp(−δ · (τ − 1 − s)) · Σ_j y[j, s] · exp(−d[c, j]² / 2h²)

a Gaussian kernel over cell centres (bandwidth ``h`` metres, cut at 4h) with Diggle's edge
correction (the kernel sum is divided by the kernel's mass inside the study area, so a
uniform pattern stays uniform up to the edge; ``features.spatial.edge_corrected``) and an
exponential decay in time (rate ``δ = ln 2 / half-life`` per period; an infinite half-life
weighs all history alike). Scores become expected counts as in ``prospective-hotspot``:
shares (with the area-proportional floor ``floor_share``) times the recent mean total
(``features.spatial.scores_to_counts`` and ``recent_mean_total``).

**Choosing h and δ** uses the training history only: each of its last ``n_holdout`` (6)
periods is forecast from the periods before it, for every ``(h, δ)`` on the grid, and the
pair with the highest multinomial log-likelihood ``Σ_τ Σ_c y[c, τ] log share[c]`` wins
(the total is not part of the choice: it is scaled separately). Default grid: ``h`` in
0.25, 0.5, 1, 2, 4 cell sizes; half-lives 1, 3, 12, ∞ months (2, 8, 26, ∞ weeks; 7, 30, 90,
∞ days). The chosen pair and the whole likelihood grid are in ``fitted_params`` (an
infinite half-life, no decay, is saved as null).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.features.spatial import (
    cell_coords,
    edge_corrected,
    gaussian_weights,
    recent_mean_total,
    scores_to_counts,
)
from hotspot.models.base import Covariates, LevelForecaster, optional

BANDWIDTH_CELLS = (0.25, 0.5, 1.0, 2.0, 4.0)
HALF_LIVES = {"M": (1.0, 3.0, 12.0, np.inf), "W": (2.0, 8.0, 26.0, np.inf),
              "D": (7.0, 30.0, 90.0, np.inf)}


def _decayed_sums(counts: np.ndarray, targets: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """``out[:, r, k] = Σ_{s < targets[k]} exp(−rates[r] (targets[k] − 1 − s)) counts[s]``."""
    s = np.arange(len(counts))
    age = targets[:, None] - 1 - s[None, :]  # (target, period)
    weight = np.where(age[None] >= 0, np.exp(-rates[:, None, None] * np.maximum(age, 0)[None]),
                      0.0)  # (rate, target, period)
    return np.einsum("rks,sc->crk", weight, counts)


def _floats(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values]


class KernelDensity(LevelForecaster):
    """Gaussian space kernel × exponential time decay, tuned on the history's last periods."""

    name = "kde"

    def __init__(self, bandwidths_m: Sequence[float] | None = None,
                 half_lives: Sequence[float] | None = None, n_holdout: int = 6,
                 total_periods: int | None = None, floor_share: float = 0.02) -> None:
        self.bandwidths_m = bandwidths_m
        self.half_lives = half_lives
        self.n_holdout = n_holdout
        self.total_periods = total_periods
        self.floor_share = floor_share

    def _validate_params(self) -> None:
        bandwidths, half_lives = self.bandwidths_m, self.half_lives
        if bandwidths is not None and (len(bandwidths) == 0 or any(not b > 0 for b in bandwidths)):
            raise ConfigError(f"kde bandwidths_m must be positive metres, got {bandwidths}")
        if half_lives is not None and (len(half_lives) == 0 or any(not h > 0 for h in half_lives)):
            raise ConfigError(f"kde half_lives must be positive periods, got {half_lives}")
        if int(self.n_holdout) < 1:
            raise ConfigError(f"kde n_holdout must be at least 1, got {self.n_holdout}")
        if not 0 < self.floor_share < 1:
            raise ConfigError(f"kde floor_share must be in (0, 1), got {self.floor_share}")

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        counts = history["counts"].values.astype(float)
        area = history["area_m2"].values.astype(float)
        freq = history.attrs["freq"]
        _, _, x, y = cell_coords(history)
        n_t = len(counts)
        floor_share = float(self.floor_share)
        bandwidths = np.array(optional(_floats, self.bandwidths_m) or
                              [b * history.attrs["cell_size_m"] for b in BANDWIDTH_CELLS])
        half_lives = np.array(optional(_floats, self.half_lives) or HALF_LIVES[freq],
                              dtype=float)
        rates = np.log(2.0) / half_lives  # inf half-life -> rate 0
        kernels = [edge_corrected(gaussian_weights(x, y, h), area) for h in bandwidths]

        # held-out targets: the last n_holdout periods that have a period before them
        targets = np.arange(max(1, n_t - int(self.n_holdout)), n_t)
        observed = counts[targets]  # (target, cell)
        loglik = np.zeros((len(bandwidths), len(rates)))
        if len(targets) and observed.sum() > 0:
            sums = _decayed_sums(counts, targets, rates)  # (cell, rate, target)
            area_share = area / area.sum()
            for i, kernel in enumerate(kernels):  # a handful of bandwidths, not cells
                score = (kernel @ sums.reshape(len(area), -1)).reshape(sums.shape)
                total = score.sum(axis=0, keepdims=True)
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = np.where(total > 0, score / np.where(total > 0, total, 1.0), 0.0)
                share = np.where(total > 0, (1 - floor_share) * share
                                 + floor_share * area_share[:, None, None],
                                 area_share[:, None, None])
                loglik[i] = np.einsum("kc,crk->r", observed, np.log(share))
        best = np.unravel_index(np.argmax(loglik), loglik.shape)
        self.bandwidth_m_ = float(bandwidths[best[0]])
        self.half_life_ = float(half_lives[best[1]])
        self.decay_rate_ = float(rates[best[1]])
        self.loglik_grid_ = loglik
        self.grid_ = {"bandwidths_m": bandwidths.tolist(), "half_lives": half_lives.tolist()}
        self.n_holdout_used_ = int(len(targets))

        recent = _decayed_sums(counts, np.array([n_t]), np.array([self.decay_rate_]))[:, 0, 0]
        self.score_ = np.asarray(kernels[best[0]] @ recent, dtype=float)
        self.total_ = recent_mean_total(counts, freq, optional(int, self.total_periods))
        self.level_ = scores_to_counts(self.score_, area, self.total_, floor_share)

    def fitted_params(self) -> dict[str, Any]:
        def finite(value: float) -> float | None:  # an infinite half-life is saved as null
            return value if np.isfinite(value) else None

        grid = {"bandwidths_m": self.grid_["bandwidths_m"],
                "half_lives": [finite(h) for h in self.grid_["half_lives"]]}
        return {"bandwidth_m": self.bandwidth_m_, "half_life_periods": finite(self.half_life_),
                "decay_rate": self.decay_rate_, "total": self.total_,
                "n_holdout": self.n_holdout_used_, "grid": grid,
                "holdout_loglik": self.loglik_grid_.tolist()}
