"""``self-exciting-counts``: a Poisson autoregression (INGARCH) for counts per cell.

The discrete-time analogue of a self-exciting point process for period-level data
(police.uk months): last period's crimes in a cell and around it raise this period's
expected count. For cell ``c`` and period ``t``

    y[c, t] | past  ~  Poisson(λ[c, t])
    λ[c, t] = exp(b0 + b1 · z[c])  +  α · y[c, t−1]  +  γ · N[c, t−1]  (+ β · λ[c, t−1])

with ``z[c] = log((Σ_t y[c, t] + 0.5) / T)`` the cell's log long-run rate over the history
(centred over cells for the fit; reported uncentred), ``N[c, t−1]`` the sum of the queen
neighbours' counts at ``t − 1``, and the feedback term ``β λ[c, t−1]`` (INGARCH(1, 1))
only with ``feedback=True``. All parameters are shared by every cell; ``α, γ, β`` are
constrained to ``[0, 0.99]`` so every λ is positive.

Fit: maximum likelihood (L-BFGS-B on the mean negative Poisson log-likelihood with its
analytic gradient) over the last ``max_periods`` periods (default 60 months / 104 weeks /
365 days). With feedback the recursion starts from ``λ = mean count of the cell``.

Forecast: one step is λ at the first period after the cutoff; further steps iterate the
conditional mean, ``E y[t+h] = base + (α I + γ W + β I) E y[t+h−1]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import xarray as xr
from scipy.optimize import minimize
from scipy.special import gammaln

from hotspot.core.errors import ConfigError
from hotspot.features.spatial import queen_adjacency, spatial_lag
from hotspot.models.base import BaseForecaster, Covariates, optional

DEFAULT_MAX_PERIODS = {"M": 60, "W": 104, "D": 365}
_UPPER = 0.99


class SelfExcitingCounts(BaseForecaster):
    """Poisson INGARCH per cell with shared parameters, fitted by maximum likelihood."""

    name = "self-exciting-counts"

    def __init__(self, feedback: bool = False, max_periods: int | None = None,
                 maxiter: int = 300) -> None:
        self.feedback = feedback
        self.max_periods = max_periods
        self.maxiter = maxiter

    def _validate_params(self) -> None:
        if self.max_periods is not None and int(self.max_periods) < 2:
            raise ConfigError(f"self-exciting-counts max_periods must be at least 2, "
                              f"got {self.max_periods}")
        if int(self.maxiter) < 1:
            raise ConfigError(f"self-exciting-counts maxiter must be at least 1, "
                              f"got {self.maxiter}")

    # -- likelihood ---------------------------------------------------------------------
    def _intensity(self, theta: np.ndarray, y: np.ndarray, nb: np.ndarray, start: np.ndarray,
                   want_grad: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """λ for periods 1..T−1 of ``y`` (T, n), its gradient (T−1, n, p), and the base."""
        b0, b1, a, g = theta[:4]
        base = np.exp(b0 + b1 * self.z_)
        fixed = base[None, :] + a * y[:-1] + g * nb[:-1]
        p = theta.size
        if not self.feedback:
            lam = fixed
            grad = None
            if want_grad:
                grad = np.empty(lam.shape + (p,))
                grad[..., 0] = base
                grad[..., 1] = base * self.z_
                grad[..., 2] = y[:-1]
                grad[..., 3] = nb[:-1]
            return lam, grad, base
        beta = theta[4]
        lam = np.empty_like(fixed)
        grad = np.empty(lam.shape + (p,)) if want_grad else None
        prev, dprev = start, np.zeros((y.shape[1], p))
        for t in range(len(fixed)):  # a loop over periods; each step is vectorised over cells
            lam[t] = fixed[t] + beta * prev
            if want_grad:
                d = beta * dprev
                d[:, 0] += base
                d[:, 1] += base * self.z_
                d[:, 2] += y[t]
                d[:, 3] += nb[t]
                d[:, 4] += prev
                grad[t] = dprev = d
            prev = lam[t]
        return lam, grad, base

    def _nll(self, theta: np.ndarray, y: np.ndarray, nb: np.ndarray,
             start: np.ndarray) -> tuple[float, np.ndarray]:
        lam, grad, _ = self._intensity(theta, y, nb, start, want_grad=True)
        obs = y[1:]
        n = obs.size
        lam = np.maximum(lam, 1e-300)
        value = float(np.sum(lam - obs * np.log(lam))) / n
        resid = (1.0 - obs / lam)
        return value, np.einsum("tn,tnp->p", resid, grad) / n

    # -- fit / predict ------------------------------------------------------------------
    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        counts = history["counts"].values.astype(float)
        n_t = len(counts)
        self.adjacency_ = queen_adjacency(history["ix"].values, history["iy"].values)
        nb = spatial_lag(counts, self.adjacency_)
        z = np.log((counts.sum(axis=0) + 0.5) / n_t)
        self.z_center_ = float(z.mean())
        self.z_ = z - self.z_center_
        max_periods = (optional(int, self.max_periods)
                       or DEFAULT_MAX_PERIODS[history.attrs["freq"]])
        window = slice(max(0, n_t - max_periods), n_t)
        y, nbw = counts[window], nb[window]
        start = np.maximum(counts.mean(axis=0), 1e-3)
        self.last_y_, self.last_nb_ = counts[-1], nb[-1]

        if len(y) < 3:  # too short to learn any dependence: the long-run mean
            self.theta_ = np.array([np.log(np.exp(self.z_center_) + 1e-12), 1.0, 0.0, 0.0]
                                   + ([0.0] if self.feedback else []))
            self.trace_, self.converged_, self.message_, self.nit_ = [], True, "too short", 0
            self.last_lambda_ = np.exp(self.theta_[0] + self.theta_[1] * self.z_)
            return

        a0, g0 = 0.2, 0.01
        mean_level = max(float(y.mean()), 1e-3)
        theta0 = [np.log(mean_level * (1 - a0) + 1e-9) - 0.0, 1.0, a0, g0]
        bounds = [(-30.0, 30.0), (-5.0, 5.0), (0.0, _UPPER), (0.0, _UPPER)]
        if self.feedback:
            theta0[0] -= np.log(2.0)
            theta0.append(0.3)
            bounds.append((0.0, _UPPER))
        trace: list[float] = []
        result = minimize(
            self._nll, np.array(theta0), args=(y, nbw, start), jac=True, method="L-BFGS-B",
            bounds=bounds, options={"maxiter": int(self.maxiter)},
            callback=lambda intermediate_result: trace.append(float(intermediate_result.fun)),
        )
        self.theta_ = np.asarray(result.x, dtype=float)
        self.trace_ = trace
        self.converged_ = bool(result.success)
        self.message_ = str(result.message)
        self.nit_ = int(result.nit)
        self.loglik_ = -float(result.fun) * y[1:].size - float(gammaln(y[1:] + 1).sum())
        lam, _, _ = self._intensity(self.theta_, y, nbw, start, want_grad=False)
        self.last_lambda_ = lam[-1]

    def _predict(self, periods: int, covariates: Covariates | None) -> np.ndarray:
        b0, b1, a, g = self.theta_[:4]
        beta = self.theta_[4] if self.feedback else 0.0
        base = np.exp(b0 + b1 * self.z_)
        out = np.empty((periods, len(base)))
        out[0] = base + a * self.last_y_ + g * self.last_nb_ + beta * self.last_lambda_
        for h in range(1, periods):
            prev = out[h - 1]
            out[h] = base + (a + beta) * prev + g * spatial_lag(prev, self.adjacency_)
        return np.maximum(out, 0.0)

    def fitted_params(self) -> dict[str, Any]:
        b0, b1, a, g = (float(v) for v in self.theta_[:4])
        params: dict[str, Any] = {
            "b0": b0 - b1 * self.z_center_,  # on the uncentred log long-run rate
            "b1": b1, "alpha": a, "gamma": g,
            "beta": float(self.theta_[4]) if self.feedback else None,
            "mean_neighbours": float(np.asarray(sp.csr_matrix(self.adjacency_).sum(axis=1)).mean()),
            "converged": self.converged_, "message": self.message_, "n_iter": self.nit_,
            "loglik": getattr(self, "loglik_", None),
            "trace_nll": self.trace_,
        }
        return params
