"""``hotspot-map``: the analyst's smoothed long-run hotspot map, bandwidth chosen on training.

The map a crime analyst draws without a forecasting model: the long-run rate per cell (the
mean count per period over all history up to the cutoff), smoothed by a Gaussian kernel
over cell centres with Diggle's edge correction (``features.spatial.edge_corrected``: a
uniform rate stays uniform up to the edge of the study area), scaled so its total is the
recent level:

    expected[c] = total · ((1 − ε) · s[c] / Σ s + ε · area[c] / Σ area)
    s = K_h · rate,    total = mean count summed over cells in the last year of periods

so the total tracks the level as ``naive-longrun``'s would if it looked only at the last
year, while the *shape* uses all history. ``ε`` = ``floor_share`` (default 0.02, as
``kde``): an area-proportional floor that leaves the ranking by density unchanged and keeps
a cell with no past crime from a forecast of zero (which a Poisson log score punishes
without bound).

**Choosing h** uses the training history only (the base class cuts it at the cutoff):
the last ``holdout`` periods are held out (default 12 months, 26 weeks, 60 days: a year of
months, half a year of weeks and two months of days; at most half the history), the map is
fitted on the periods before them for each candidate bandwidth (default 0 — no smoothing —
0.5, 1, 1.5, 2, 3 cell sizes), and the candidate with the highest Poisson log-likelihood of
the held-out counts wins (the held-out forecast is the map above, its total the last year
of the fitting part). Then the map is refitted on all history with that bandwidth. Ties go
to the smaller bandwidth (listed first). With fewer than two periods nothing can be held
out and the candidate nearest one cell is used. The sparse kernels are built once per fit
and serve both the choice and the refit.

``select_bandwidth`` is the same choice as a function, for other models (``etas-grid``'s
smoothed background) to call on their own training counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.special import gammaln

from hotspot.core.errors import ConfigError
from hotspot.features.spatial import (
    cell_coords,
    edge_corrected,
    gaussian_weights,
    scores_to_counts,
)
from hotspot.models.base import Covariates, LevelForecaster, optional

#: Default candidate bandwidths in cell sizes (0 = the raw long-run map).
BANDWIDTH_CELLS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
#: Default held-out periods for the bandwidth choice.
HOLDOUT = {"M": 12, "W": 26, "D": 60}
#: A year of periods: the window of the recent level.
YEAR_PERIODS = {"M": 12, "W": 52, "D": 365}


def smoothing_kernels(x: np.ndarray, y: np.ndarray, area_m2: np.ndarray,
                      bandwidths_m: Sequence[float]) -> list[sp.csr_matrix]:
    """Edge-corrected Gaussian kernels (counts → counts), the identity for bandwidth 0."""
    n = len(area_m2)
    return [sp.identity(n, format="csr") if h == 0
            else edge_corrected(gaussian_weights(x, y, h), area_m2) for h in bandwidths_m]


def map_forecast(counts: np.ndarray, kernel: sp.spmatrix, area_m2: np.ndarray,
                 year: int, floor_share: float) -> np.ndarray:
    """Expected counts per cell for the period after ``counts`` (periods × cells)."""
    rate = counts.mean(axis=0)
    total = float(counts[-year:].sum(axis=1).mean())
    return scores_to_counts(np.asarray(kernel @ rate, dtype=float), area_m2, total, floor_share)


def poisson_loglik(observed: np.ndarray, expected: np.ndarray) -> float:
    """``Σ y log λ − λ − log y!`` (``observed`` may be harm-weighted: ``log Γ(y + 1)``)."""
    with np.errstate(divide="ignore"):
        log_expected = np.where(observed > 0, np.log(np.maximum(expected, 1e-300)), 0.0)
    return float(np.sum(observed * log_expected - expected - gammaln(observed + 1.0)))


def select_bandwidth(counts: np.ndarray, area_m2: np.ndarray, kernels: Sequence[sp.spmatrix],
                     holdout: int, year: int, floor_share: float
                     ) -> tuple[int, np.ndarray, int]:
    """Index of the kernel whose map, fitted before the last ``holdout`` periods of
    ``counts``, best predicts them (Poisson log-likelihood), the log-likelihoods, and the
    number of periods actually held out (at most half the history; 0 = no choice made)."""
    n_t = len(counts)
    holdout = min(int(holdout), n_t // 2)
    loglik = np.zeros(len(kernels))
    if holdout < 1:
        return -1, loglik, 0
    train, test = counts[:n_t - holdout], counts[n_t - holdout:]
    for i, kernel in enumerate(kernels):  # a handful of bandwidths, not cells
        expected = map_forecast(train, kernel, area_m2, year, floor_share)
        loglik[i] = poisson_loglik(test, np.broadcast_to(expected, test.shape))
    return int(np.argmax(loglik)), loglik, holdout


class HotspotMap(LevelForecaster):
    """Smoothed long-run hotspot map scaled to the recent level (a baseline).

    Parameters
    ----------
    bandwidths_m
        Candidate Gaussian bandwidths in metres (0 = no smoothing); default 0, 0.5, 1, 1.5,
        2 and 3 cell sizes.
    holdout
        Periods held out at the end of the training history to choose the bandwidth;
        default 12 (monthly), 26 (weekly), 60 (daily); at most half the history is used.
    total_periods
        Periods whose mean total is the forecast's total; default a year (12, 52, 365).
    floor_share
        Share of the total spread over cells by area (see the module docstring).
    """

    name = "hotspot-map"
    _tags = {"baseline": True}

    def __init__(self, bandwidths_m: Sequence[float] | None = None, holdout: int | None = None,
                 total_periods: int | None = None, floor_share: float = 0.02) -> None:
        self.bandwidths_m = bandwidths_m
        self.holdout = holdout
        self.total_periods = total_periods
        self.floor_share = floor_share

    def _validate_params(self) -> None:
        bandwidths = self.bandwidths_m
        if bandwidths is not None and (len(bandwidths) == 0 or any(not b >= 0 for b in bandwidths)):
            raise ConfigError(f"hotspot-map bandwidths_m must be metres >= 0 (0 = no "
                              f"smoothing), got {bandwidths}")
        if self.holdout is not None and int(self.holdout) < 1:
            raise ConfigError(f"hotspot-map holdout must be at least 1 period, got {self.holdout}")
        if self.total_periods is not None and int(self.total_periods) < 1:
            raise ConfigError(f"hotspot-map total_periods must be at least 1, "
                              f"got {self.total_periods}")
        if not 0 < self.floor_share < 1:
            raise ConfigError(f"hotspot-map floor_share must be in (0, 1), got {self.floor_share}")

    def _fit(self, history: xr.Dataset, events: Any, covariates: Covariates | None) -> None:
        counts = history["counts"].values.astype(float)
        area = history["area_m2"].values.astype(float)
        freq = history.attrs["freq"]
        cell = float(history.attrs["cell_size_m"])
        _, _, x, y = cell_coords(history)
        bandwidths = [float(b) for b in self.bandwidths_m] if self.bandwidths_m is not None \
            else [b * cell for b in BANDWIDTH_CELLS]
        year = optional(int, self.total_periods) or YEAR_PERIODS[freq]
        floor = float(self.floor_share)
        kernels = smoothing_kernels(x, y, area, bandwidths)
        best, loglik, used = select_bandwidth(
            counts, area, kernels, optional(int, self.holdout) or HOLDOUT[freq], year, floor)
        if best < 0:  # too short to hold anything out
            best = int(np.argmin(np.abs(np.asarray(bandwidths) - cell)))
        self.bandwidths_ = bandwidths
        self.bandwidth_m_ = bandwidths[best]
        self.holdout_loglik_ = loglik
        self.n_holdout_ = used
        self.total_ = float(counts[-year:].sum(axis=1).mean())
        self.level_ = map_forecast(counts, kernels[best], area, year, floor)

    def fitted_params(self) -> dict[str, Any]:
        if not self.is_fitted:
            return {}
        return {"bandwidth_m": self.bandwidth_m_, "bandwidths_m": self.bandwidths_,
                "holdout_loglik": self.holdout_loglik_.tolist(), "n_holdout": self.n_holdout_,
                "total": self.total_}
