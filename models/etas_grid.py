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

Fit: EM on the events (times as float days; see :mod:`models._selfexcite` for the shared
E-step, the θ/ω M-step, the SQUAREM acceleration and the truncation: pairs within
``radius_sigmas · σ`` of cell-centre distance — the kernel is truncated and normalised at
that radius — and within the lag where ``e^{−ω lag} = lag_tol``). The model's own M-steps:

- background: ``μ_c = Σ_{j in c} p_j / T`` (expected background events in ``c`` per day);
- σ: maximise ``−Σ p_ij d_ij² / (2σ²) − Σ_c W_c log Z_c(σ)`` where ``W_c`` is the
  expected number of offspring of events in ``c`` and ``Z_c`` the kernel's normaliser at
  ``c`` (a 1-D bounded search; without the edge normalisation this is the closed form
  ``σ² = Σ p d² / (2 Σ p)`` of the weighted squared distances).

Forecast: expected count per cell integrated over each period (``μ_c Δ`` plus the decaying
excitation of past events, plus — with ``horizon_cascade`` — events expected to be
triggered inside the horizon, see :func:`models._selfexcite.integrate_forecast`).

Limitations: events must carry times finer than the forecast period to identify ω; with
month-resolution sources (police.uk: every time on the 1st) each event is treated as at
its month's start, events of the same month never trigger each other, and ω, θ describe
month-to-month excitation only (on unclustered monthly data θ goes to 0 and ω to its cap,
leaving the per-cell background). Events with equal times are never each other's parents.
The per-cell background has one free parameter per cell: with few events per cell it
soaks up clustering and θ comes out low (on simulated data about −16 % at ~10 events per
cell, −2 to −4 % at ~40). Event positions enter only through their cell: distances are
between cell centres.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import optimize, sparse

from hotspot.core.errors import ConfigError
from hotspot.models._selfexcite import (
    EventWindow,
    Pairs,
    SelfExcitingForecaster,
    cell_neighbours,
    decayed_sums,
    discrete_gaussian_kernel,
    dot,
)
from hotspot.models.registry import register

SPATIAL = ("neighbour", "in-cell")


@register
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
    """

    name = "etas-grid"
    needs_events = True

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
    ) -> None:
        if spatial not in SPATIAL:
            raise ConfigError(f"etas-grid spatial must be one of {SPATIAL}, got {spatial!r}")
        if sigma_m is not None and not sigma_m > 0:
            raise ConfigError(f"etas-grid sigma_m must be positive, got {sigma_m}")
        if radius_m is not None and not radius_m > 0:
            raise ConfigError(f"etas-grid radius_m must be positive, got {radius_m}")
        self.spatial = spatial
        self.sigma_m = sigma_m
        self.fit_sigma = bool(fit_sigma)
        self.radius_m = radius_m
        self.radius_sigmas = float(radius_sigmas)
        self.max_radius_m = float(max_radius_m)
        self.omega_init = float(omega_init)
        self.theta_init = float(theta_init)
        self.max_lag_days = max_lag_days
        self.lag_tol = float(lag_tol)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.horizon_cascade = bool(horizon_cascade)
        self.background_time = background_time
        self._check_common()

    # ---- hooks -----------------------------------------------------------------------
    def _setup(self, history: xr.Dataset, window: EventWindow) -> None:
        self.cell_size_ = float(history.attrs["cell_size_m"])
        self.ix_ = history["ix"].values.astype(np.int64)
        self.iy_ = history["iy"].values.astype(np.int64)
        self.cx_ = history["x"].values.astype(float)
        self.cy_ = history["y"].values.astype(float)
        in_cell = self.spatial == "in-cell"
        self.sigma_ = 0.0 if in_cell else float(self.sigma_m or self.cell_size_)
        self.kernel_radius_ = self._radius()
        counts = np.bincount(window.cell, minlength=window.n_cells).astype(float)
        self.mu_ = (1.0 - self.theta_) * counts / window.T

    def _pair_xy(self, window: EventWindow) -> tuple[np.ndarray, np.ndarray]:
        return self.cx_[window.cell], self.cy_[window.cell]

    def _radius_fixed(self) -> float | None:
        if self.spatial == "in-cell":
            return 0.0
        return None if self.radius_m is None else float(self.radius_m)

    def _radius(self) -> float:
        fixed = self._radius_fixed()
        if fixed is not None:
            return fixed
        return min(max(self.radius_sigmas * self.sigma_, 1.5 * self.cell_size_),
                   self._max_radius())

    def _prepare(self, pairs: Pairs, window: EventWindow) -> None:
        """Kernel truncated at the pair radius; squared offsets grouped into classes so the
        normaliser ``Z_c(σ) = Σ_k n_ck e^{−q_k h²/(2σ²)}`` is a small matrix product."""
        self.kernel_radius_ = pairs.radius
        self.parent_cell_ = window.cell[pairs.parent].astype(np.int32)
        if self.spatial == "in-cell":
            return
        src, _, dx, dy = cell_neighbours(self.ix_, self.iy_, pairs.radius / self.cell_size_)
        q = dx * dx + dy * dy
        self.q_classes_, cls = np.unique(q, return_inverse=True)
        n_cls = self.q_classes_.size
        self.class_counts_ = np.bincount(src * n_cls + cls, minlength=window.n_cells * n_cls
                                         ).reshape(window.n_cells, n_cls).astype(float)

    def _normaliser(self, sigma: float, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        weights = np.exp(-self.q_classes_ * self.cell_size_**2 / (2.0 * sigma**2))
        return np.einsum("ij,j->i", self.class_counts_[rows], weights)

    def _background_at(self, window: EventWindow) -> np.ndarray:
        return self.mu_[window.cell]

    def _background_total(self) -> float:
        return float(self.mu_.sum())

    def _log_spatial(self, pairs: Pairs, window: EventWindow) -> np.ndarray:
        if self.spatial == "in-cell":
            return np.zeros(pairs.size)
        log_z = np.log(self._normaliser(self.sigma_))
        out = pairs.d2 * (-0.5 / self.sigma_**2)
        out -= log_z[self.parent_cell_]
        return out

    def _model_state(self) -> np.ndarray:
        sigma = np.log(self.sigma_) if self.sigma_ > 0 else 0.0
        return np.concatenate([np.sqrt(self.mu_), [sigma]])

    def _set_model_state(self, state: np.ndarray) -> None:
        self.mu_ = state[:-1] ** 2
        if self.sigma_ > 0:
            self.sigma_ = float(np.exp(min(state[-1], 700.0)))

    def _update_background(self, window: EventWindow, p_background: np.ndarray) -> None:
        self.mu_ = np.bincount(window.cell, weights=p_background,
                               minlength=window.n_cells) / window.T

    def _update_sigma(self, pairs: Pairs, window: EventWindow, p_pair: np.ndarray) -> None:
        if self.spatial == "in-cell" or not self.fit_sigma or p_pair.sum() < 1.0:
            return  # fewer than one expected offspring: σ is not identified
        offspring = np.bincount(self.parent_cell_, weights=p_pair, minlength=window.n_cells)
        rows = np.flatnonzero(offspring > 0)
        w = offspring[rows]
        sq = dot(p_pair, pairs.d2)

        def negative_q(log_sigma: float) -> float:
            sigma = np.exp(log_sigma)
            return sq / (2.0 * sigma**2) + dot(w, np.log(self._normaliser(sigma, rows)))

        lo = np.log(0.05 * self.cell_size_)
        hi = np.log(max(min(2.0 * max(pairs.radius, self.cell_size_),
                            self._max_radius() / self.radius_sigmas), 0.1 * self.cell_size_))
        found = optimize.minimize_scalar(negative_q, bounds=(lo, hi), method="bounded",
                                         options={"xatol": 1e-7})
        # GEM safeguard: never accept a step that lowers the expected log-likelihood
        if found.fun <= negative_q(np.log(self.sigma_)):
            self.sigma_ = float(np.exp(found.x))

    def _forecast_parts(self) -> tuple[np.ndarray, np.ndarray, sparse.spmatrix]:
        window = self.window_
        kernel = discrete_gaussian_kernel(self.ix_, self.iy_, self.sigma_ / self.cell_size_,
                                          self.kernel_radius_ / self.cell_size_)
        if window.n == 0:
            return self.mu_, np.zeros(window.n_cells), kernel
        recent = decayed_sums(window.t, window.cell, window.T, self.omega_, window.n_cells)
        return self.mu_, self.theta_ * self.omega_ * (kernel @ recent), kernel

    def _release(self) -> None:
        self.parent_cell_ = None

    def _extra_params(self) -> dict[str, Any]:
        return {
            "spatial": self.spatial,
            "sigma_m": self.sigma_,
            "sigma_cells": self.sigma_ / self.cell_size_,
            "kernel_radius_m": self.kernel_radius_,
            "mu_per_cell": self.mu_,
        }
