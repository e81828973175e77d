"""``etas-grid``: grid ETAS of Mohler et al. (2015), with triggering across cells.

Hand-written from the paper (Mohler, Short, Malinowski, Johnson, Tita, Bertozzi &
Brantingham, "Randomized controlled field trials of predictive policing", JASA 110, 2015).
The intensity in cell ``c`` (events per day) is

    λ_c(t) = μ_c + Σ_{i: t_i < t} θ · g(c | c_i) · ω e^{−ω (t − t_i)}

with ``g(c | c') ∝ exp(−d(c, c')² / (2σ²))`` over cell centres within a truncation radius
``R``, normalised over the cells that exist so ``Σ_c g(c | c') = 1`` for every source
(an edge cell's offspring stay on the grid). The published open-source implementation
triggers only inside the event's own cell, which attributes offspring landing next door to
the background and so underestimates θ; ``spatial="in-cell"`` reproduces that variant
(``g = 1`` for the same cell, 0 elsewhere) for comparison.

Fit: EM on the events (times as float days; see :mod:`models._em` for the shared
E-step, the θ/ω M-step, the SQUAREM acceleration and the truncation: pairs within
``radius_sigmas · σ`` of cell-centre distance — the kernel is truncated and normalised at
that radius — and within the lag where ``e^{−ω lag} = lag_tol``). The model's own M-steps
(:class:`models._background.CellBackground`, :class:`models._lattice.LatticeGaussian`):

- background: ``μ_c = Σ_{j in c} p_j / T`` (expected background events in ``c`` per day);
- σ: maximise ``−Σ p_ij d_ij² / (2σ²) − Σ_c W_c log Z_c(σ)`` where ``W_c`` is the
  expected number of offspring of events in ``c`` and ``Z_c`` the kernel's normaliser at
  ``c`` (a 1-D bounded search; without the edge normalisation this is the closed form
  ``σ² = Σ p d² / (2 Σ p)`` of the weighted squared distances).

Forecast: expected count per cell integrated over each period (``μ_c Δ`` plus the decaying
excitation of past events, plus — with ``horizon_cascade`` — events expected to be
triggered inside the horizon, see :func:`models._forecast.integrate_forecast`).

Limitations: events must carry times finer than the forecast period to identify ω; with
month-resolution sources (police.uk: every time on the 1st) each event is treated as at
its month's start, events of the same month never trigger each other, and ω, θ describe
month-to-month excitation only (on unclustered monthly data θ goes to 0 and ω to its cap,
leaving the per-cell background). Events with equal times are never each other's parents.
The per-cell background has one free parameter per cell: with few events per cell it
soaks up clustering and θ comes out low (on simulated data about −16 % at ~10 events per
cell, −2 to −4 % at ~40); ``background="smoothed"`` (Mohler 2014, "Marked point process
hotspot maps for homicide and gun crime prediction in Chicago", IJF 30) replaces the free
rates by rates smoothed over neighbouring cells inside every M-step, with the bandwidth
chosen on the training counts like ``hotspot-map``'s (inside the M-step, not once after
the fit, so that the smoothing also changes what is attributed to triggering). Event
positions enter only through their cell: distances are between cell centres.

Near-repeat: the cross-cell trigger *is* the near-repeat term (a burglary raising the risk
nearby for a short while: σ of about one cell, 1/ω of days to weeks, both fitted), so no
separate term is added; fitted on one crime type's events (a ``--target``), it is the
type-specific near-repeat of the LA trials.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import sparse

from hotspot.core.errors import ConfigError
from hotspot.models._background import Background, CellBackground, SmoothedCellBackground
from hotspot.models._events import EventWindow
from hotspot.models._lattice import LatticeGaussian
from hotspot.models._modulation import SeasonalModulation
from hotspot.models._selfexcite import SelfExcitingForecaster
from hotspot.models._trigger import Trigger
from hotspot.models.hotspot_map import (
    BANDWIDTH_CELLS,
    HOLDOUT,
    YEAR_PERIODS,
    select_bandwidth,
    smoothing_kernels,
)

SPATIAL = ("neighbour", "in-cell")
BACKGROUNDS = ("cell", "smoothed")


class EtasGrid(SelfExcitingForecaster):
    """Grid ETAS with a cross-cell discrete Gaussian trigger, fitted by EM.

    Parameters
    ----------
    spatial
        ``"neighbour"`` (discrete Gaussian over nearby cells) or ``"in-cell"``.
    sigma_m
        Initial (or, with ``fit_sigma=False``, fixed) kernel bandwidth in metres; default one
        cell.
    fit_sigma
        Estimate σ by EM.
    radius_m
        Fixed truncation radius of the spatial kernel; default ``radius_sigmas · σ`` (at
        least 1.5 cells), re-derived from the fitted σ.
    max_radius_m
        Cap on that radius (at least two cells); σ stays below ``max_radius_m /
        radius_sigmas``. Keeps the parent search bounded where "triggering" turns out to
        be city-wide (e.g. weekly cycles the constant background cannot follow).
    omega_init, theta_init
        Starting values (ω per day).
    max_lag_days
        Fixed time window for parent search; default: where ``e^{−ω lag} < lag_tol``.
    max_iter, tol
        EM stops when the log-likelihood gains less than ``tol · (1 + |ℓ|)``.
    horizon_cascade
        Include events triggered inside the forecast horizon in the forecast.
    background_time
        ``"constant"`` (Mohler 2015: ``μ_c`` per cell) or ``"seasonal"``: ``μ_c · m(t)``
        with ``m`` log-linear in day of week, annual Fourier terms and the latest year's
        level, fitted inside the EM (see :mod:`models._modulation`).
    background
        ``"cell"`` (Mohler 2015: one free rate ``μ_c`` per cell) or ``"smoothed"``
        (Mohler 2014: those rates smoothed by an edge-corrected Gaussian over cell centres
        inside every M-step, :class:`models._background.SmoothedCellBackground`).
    background_bandwidth_m
        Bandwidth of that smoothing; default chosen as ``hotspot-map`` chooses its own, on
        the training counts only (held-out Poisson likelihood over 0, 0.5, 1, 1.5, 2, 3
        cells; 0 = the cell background).
    """

    name = "etas-grid"

    def __init__(
        self,
        spatial: str = "neighbour",
        sigma_m: float | None = None,
        fit_sigma: bool = True,
        radius_m: float | None = None,
        radius_sigmas: float = 4.0,
        max_radius_m: float = 2000.0,
        omega_init: float = 0.1,
        theta_init: float = 0.3,
        max_lag_days: float | None = None,
        lag_tol: float = 1e-6,
        max_iter: int = 500,
        tol: float = 1e-9,
        horizon_cascade: bool = True,
        background_time: str = "constant",
        background: str = "cell",
        background_bandwidth_m: float | None = None,
    ) -> None:
        self.spatial = spatial
        self.sigma_m = sigma_m
        self.fit_sigma = fit_sigma
        self.radius_m = radius_m
        self.radius_sigmas = radius_sigmas
        self.max_radius_m = max_radius_m
        self.omega_init = omega_init
        self.theta_init = theta_init
        self.max_lag_days = max_lag_days
        self.lag_tol = lag_tol
        self.max_iter = max_iter
        self.tol = tol
        self.horizon_cascade = horizon_cascade
        self.background_time = background_time
        self.background = background
        self.background_bandwidth_m = background_bandwidth_m

    def _validate_params(self) -> None:
        if self.spatial not in SPATIAL:
            raise ConfigError(f"etas-grid spatial must be one of {SPATIAL}, got {self.spatial!r}")
        if self.sigma_m is not None and not self.sigma_m > 0:
            raise ConfigError(f"etas-grid sigma_m must be positive, got {self.sigma_m}")
        if self.radius_m is not None and not self.radius_m > 0:
            raise ConfigError(f"etas-grid radius_m must be positive, got {self.radius_m}")
        if self.background not in BACKGROUNDS:
            raise ConfigError(f"etas-grid background must be one of {BACKGROUNDS}, "
                              f"got {self.background!r}")
        if self.background_bandwidth_m is not None and not self.background_bandwidth_m >= 0:
            raise ConfigError(f"etas-grid background_bandwidth_m must be metres >= 0, "
                              f"got {self.background_bandwidth_m}")
        super()._validate_params()

    def _build(self, history: xr.Dataset, window: EventWindow,
               modulation: SeasonalModulation | None) -> tuple[Background, Trigger]:
        h = float(history.attrs["cell_size_m"])
        spatial = LatticeGaussian(
            history["ix"].values.astype(np.int64), history["iy"].values.astype(np.int64),
            history["x"].values.astype(float), history["y"].values.astype(float), h,
            self.sigma_m or h, in_cell=self.spatial == "in-cell",
            fit_sigma=bool(self.fit_sigma), radius=self.radius_m,
            radius_sigmas=float(self.radius_sigmas), max_radius=self._max_radius(h))
        theta = float(self.theta_init)
        if self.background == "cell":
            return CellBackground(window, theta, modulation), self._trigger(spatial)
        kernel = self._background_kernel(history, h)
        return (SmoothedCellBackground(window, theta, modulation, kernel),
                self._trigger(spatial))

    def _background_kernel(self, history: xr.Dataset, h: float) -> sparse.csr_matrix:
        """The smoothing kernel of the background, its bandwidth chosen on the training
        counts when not given (``background_bandwidth_``, ``background_loglik_``)."""
        area = history["area_m2"].values.astype(float)
        x, y = history["x"].values.astype(float), history["y"].values.astype(float)
        freq = history.attrs["freq"]
        if self.background_bandwidth_m is not None:
            self.background_bandwidth_ = float(self.background_bandwidth_m)
            self.background_loglik_ = np.zeros(0)
            return smoothing_kernels(x, y, area, [self.background_bandwidth_])[0]
        candidates = [b * h for b in BANDWIDTH_CELLS]
        kernels = smoothing_kernels(x, y, area, candidates)
        best, loglik, _ = select_bandwidth(
            history["counts"].values.astype(float), area, kernels, HOLDOUT[freq],
            YEAR_PERIODS[freq], floor_share=0.02)
        if best < 0:  # too short to hold anything out: one cell
            best = BANDWIDTH_CELLS.index(1.0)
        self.background_bandwidth_, self.background_loglik_ = candidates[best], loglik
        return kernels[best]

    def _extra_params(self) -> dict[str, Any]:
        extra = {"spatial": self.spatial, **self.trigger_.spatial.params(),
                 "mu_per_cell": self.background_.mu}
        if self.background == "smoothed":  # the cell background's output stays as it was
            extra |= {"background": "smoothed",
                      "background_bandwidth_m": self.background_bandwidth_,
                      "background_holdout_loglik": self.background_loglik_.tolist()}
        return extra
