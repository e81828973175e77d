"""The forecaster shared by the self-exciting point-process models ``etas-grid`` and ``sepp``.

Hand-written science (no third-party point-process code). A model builds two objects from
the history and maps its parameters onto them — a background ``μ(s) m(t)``
(:mod:`models._background`) and a trigger ``θ ω e^{−ω Δt} g_σ(Δs)`` (:mod:`models._trigger`
with its spatial kernel) — and this class does the rest: it cuts the events to the fit's
window (:mod:`models._events`), fits both objects by the one EM routine
(:func:`models._em.fit_em`: E-step, M-step, SQUAREM, adaptive truncation, trace) and
forecasts expected counts per cell integrated over each period, including the cascade of
events triggered inside the horizon (:func:`models._forecast.integrate_forecast`), with the
background's seasonal modulation piecewise per period.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import sparse

from hotspot.core.errors import ConfigError
from hotspot.models._background import Background
from hotspot.models._em import EMOptions, fit_em
from hotspot.models._events import EventWindow, event_window
from hotspot.models._forecast import integrate_forecast
from hotspot.models._modulation import SeasonalModulation, check_background_time
from hotspot.models._trigger import SpatialKernel, Trigger
from hotspot.models.base import BaseForecaster, Covariates


class SelfExcitingForecaster(BaseForecaster):
    """EM fit and integrated forecast shared by ``etas-grid`` and ``sepp``.

    A subclass stores its parameters in ``__init__`` (this class reads ``omega_init,
    theta_init, max_lag_days, lag_tol, radius_sigmas, max_iter, tol, max_radius_m,
    horizon_cascade, background_time``), checks its own in ``_validate_params`` before
    calling this one's, and writes ``_build`` (its background and trigger) and
    ``_extra_params``.

    Fitted state: ``window_`` (the events seen), ``background_``, ``trigger_`` and ``em_``
    (traces and truncation rounds). ``fitted_params`` keeps every EM run's trace
    (``trace``, with a ``round`` number) and the final run's log-likelihoods
    (``loglik_trace``).
    """

    _tags = {"needs_events": True}

    window_: EventWindow
    background_: Background
    trigger_: Trigger

    # ---- written by each model -------------------------------------------------------
    def _build(self, history: xr.Dataset, window: EventWindow,
               modulation: SeasonalModulation | None) -> tuple[Background, Trigger]:
        """The model's background and trigger at their initial parameters."""
        raise NotImplementedError

    def _extra_params(self) -> dict[str, Any]:
        return {}

    # ---- parameters ------------------------------------------------------------------
    def _validate_params(self) -> None:
        if not self.omega_init > 0 or not 0 < self.theta_init < 1:
            raise ConfigError(f"{self.name}: omega_init must be > 0 and theta_init in (0, 1)")
        if self.max_lag_days is not None and not self.max_lag_days > 0:
            raise ConfigError(f"{self.name}: max_lag_days must be positive")
        if not 0 < self.lag_tol < 1 or not self.radius_sigmas > 0:
            raise ConfigError(f"{self.name}: lag_tol must be in (0, 1), radius_sigmas > 0")
        if int(self.max_iter) < 1 or not self.tol > 0:
            raise ConfigError(f"{self.name}: max_iter must be >= 1 and tol > 0")
        if not self.max_radius_m > 0:
            raise ConfigError(f"{self.name}: max_radius_m must be positive")
        check_background_time(self.name, self.background_time)

    def _max_radius(self, cell_size: float) -> float:
        """Largest spatial truncation (``max_radius_m``, at least two cells)."""
        return max(float(self.max_radius_m), 2.0 * cell_size)

    def _trigger(self, spatial: SpatialKernel) -> Trigger:
        return Trigger(spatial, float(self.theta_init), float(self.omega_init))

    # ---- fitting ---------------------------------------------------------------------
    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        window = event_window(history, events, self.cutoff_)
        modulation = None
        if self.background_time == "seasonal":
            starts = pd.DatetimeIndex(history["time"].values)
            modulation = SeasonalModulation(starts, (self.cutoff_ + 1).start_time,
                                            self.freq_, window.t)
        background, trigger = self._build(history, window, modulation)
        max_lag = None if self.max_lag_days is None else float(self.max_lag_days)
        self.em_ = fit_em(background, trigger, window, EMOptions(
            max_iter=int(self.max_iter), tol=float(self.tol), lag_tol=float(self.lag_tol),
            max_lag_days=max_lag))
        self.window_, self.background_, self.trigger_ = window, background, trigger

    # ---- forecasting -----------------------------------------------------------------
    def _forecast_periods(self, periods: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """Starts of the ``periods`` periods after the cutoff, and their edges in days
        after the forecast origin (``periods + 1`` values)."""
        bounds = pd.period_range(self.cutoff_ + 1, periods=periods + 1).to_timestamp(
            how="start")
        return bounds[:-1], np.asarray((bounds - bounds[0]) / pd.Timedelta(days=1),
                                       dtype=float)

    def _forecast_edges(self, periods: int) -> np.ndarray:
        return self._forecast_periods(periods)[1]

    def _forecast_multipliers(self, periods: int) -> tuple[np.ndarray, np.ndarray]:
        """Edges of the ``periods`` periods after the cutoff and the background's
        modulation ``m`` in each."""
        starts, edges = self._forecast_periods(periods)
        return edges, self.background_.modulation.at_periods(starts, np.diff(edges))

    def _forecast_parts(self) -> tuple[np.ndarray, np.ndarray, sparse.spmatrix]:
        """``(base, excite0, kernel)`` per cell at the forecast origin (see
        :func:`integrate_forecast`)."""
        excite0, kernel = self.trigger_.operator(self.window_)
        return self.background_.per_cell(), excite0, kernel

    def expected_counts(self, edges: np.ndarray) -> np.ndarray:
        """Expected counts per cell over arbitrary windows ``[edges[k], edges[k+1])`` in
        days after the end of the cutoff period."""
        base, excite0, kernel = self._forecast_parts()
        theta, omega = self.trigger_.theta, self.trigger_.omega
        edges = np.asarray(edges, dtype=float)
        cascade = bool(self.horizon_cascade)
        if self.background_.modulation is None:
            return integrate_forecast(base, excite0, kernel, theta, omega, edges,
                                      cascade=cascade)
        # a modulated background is constant within each cube period: integrate piecewise
        # on the union of the requested edges and the period boundaries, then sum back
        bounds, per_period = self._forecast_multipliers(
            self._periods_to_cover(float(edges[-1])))
        fine = np.union1d(np.concatenate([[0.0], edges]), bounds[bounds < edges[-1]])
        m = per_period[np.searchsorted(bounds, fine[:-1], side="right") - 1]
        pieces = integrate_forecast(m[:, None] * base[None, :], excite0, kernel,
                                    theta, omega, fine, cascade=cascade)
        first = np.searchsorted(fine, edges[:-1])
        return np.add.reduceat(pieces, first, axis=0)

    def _periods_to_cover(self, days: float) -> int:
        """How many periods after the cutoff cover ``days`` days."""
        shortest = {"D": 1.0, "W": 7.0, "M": 28.0}[self.freq_]
        return int(np.ceil(days / shortest)) + 1

    def _predict(self, periods: int, covariates: Covariates | None) -> np.ndarray:
        return self.expected_counts(self._forecast_edges(periods))

    # ---- reporting -------------------------------------------------------------------
    def _modulation_params(self) -> dict[str, Any]:
        modulation = self.background_.modulation
        if modulation is None:
            return {"kind": "constant"}
        _, multipliers = self._forecast_multipliers(7 if self.freq_ == "D" else 1)
        return {"kind": "seasonal", **modulation.params(),
                "forecast_multipliers": multipliers.tolist()}

    def fitted_params(self) -> dict[str, Any]:
        if not self.is_fitted:
            return {}
        em, trigger, window = self.em_, self.trigger_, self.window_
        return {
            "mu_total_per_day": self.background_.total(),
            "theta": trigger.theta,
            "omega_per_day": trigger.omega,
            "mean_lag_days": 1.0 / trigger.omega if trigger.omega > 0 else None,
            "n_events": window.n,
            "observed_days": window.T,
            "n_pairs": em.n_pairs,
            "converged": em.converged,
            "n_iter": len(em.trace),
            "loglik_trace": em.loglik_trace,
            "trace": em.trace,
            "rounds": em.rounds,
            "background_time": self._modulation_params(),
            **self._extra_params(),
        }
