"""``glm``: Poisson or negative-binomial regression on the feature table.

Model, for cell ``c`` and period ``t`` (features from ``features.design``, all from the
past):

    y[c, t] ~ Poisson(μ) or NB2(μ, α),    log μ = β0 + Σ_k β_k · x_k[c, t]

Features: ``log1p`` of every count feature (own lags, neighbour lags and means, own
rolling and long-run means), trend, season, ``log_area``, covariates, and covariate ×
``log1p(longrun)`` interactions; all standardised on the training rows (columns constant
there are dropped).

Fit: statsmodels ``GLM`` (IRLS) on the last ``max_periods`` periods only (default 36 months,
104 weeks, 365 days) and at most ``max_rows`` rows (default 150,000, a seeded random subset
beyond), so the fit stays fast on large daily cubes; rows with any feature missing are
dropped. ``family="negbin"``: NB2 with ``α`` estimated by the Cameron–Trivedi
moment regression ``(y − μ)² − y = α μ²`` on the Poisson fit, then the NB GLM is fitted
with that ``α`` and ``α`` re-estimated once on its fit (a fixed-α GLM is far more robust
than a joint MLE of ``α``). If IRLS fails, a small ridge penalty is used instead.

Forecast: one step from ``design_for_next``; longer horizons recursively (the expected
counts of earlier steps stand in for the unknown counts). The linear predictor is capped
at ``log(10 · max training count + 10)`` so a trend can never explode a forecast.

``TabularForecaster`` (shared with ``gbm``) holds the feature-table plumbing. Fits and
forecasts run on ``n_threads`` BLAS/OpenMP threads (default 1): on a shared machine more
threads than free cores make a small least-squares solve fifty times slower, and
backtests get their parallelism from running many fits, not from threads inside one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
import statsmodels.api as sm
import xarray as xr
from threadpoolctl import threadpool_limits

from hotspot.core.errors import ConfigError, DataError
from hotspot.features.design import (
    INTERACTION_SUFFIX,
    SEASONALITY,
    build_design,
    count_columns,
    default_lags,
    default_window,
    feature_columns,
    recursive_forecast,
    usable_lags,
)
from hotspot.models.base import BaseForecaster, Covariates, optional

DEFAULT_MAX_PERIODS = {"M": 36, "W": 104, "D": 365}
#: Training rows kept at most (a seeded random subset beyond): bounds a daily fit's time.
DEFAULT_MAX_ROWS = 150_000
FAMILIES = ("poisson", "negbin")


class TabularForecaster(BaseForecaster):
    """A regression on ``features.design`` rows: subclasses fit and predict rows only.

    Covariates come through ``fit`` and ``predict`` (tagged ``takes_covariates``): the fit
    reads their rows up to the cutoff, the forecast those of the target periods, which
    must be there, and predict must get the groups the fit got.
    """

    _tags = {"takes_covariates": True}

    #: Drop training rows with any missing feature (regressions) or keep them (trees).
    drop_missing: bool = True

    def __init__(self, lags: Sequence[int] | None = None, max_periods: int | None = None,
                 seasonality: str = "harmonic", interactions: bool = True,
                 max_rows: int = DEFAULT_MAX_ROWS, n_threads: int = 1) -> None:
        self.lags = lags
        self.max_periods = max_periods
        self.seasonality = seasonality
        self.interactions = interactions
        self.max_rows = max_rows
        self.n_threads = n_threads

    def _validate_params(self) -> None:
        if self.max_periods is not None and int(self.max_periods) < 1:
            raise ConfigError(f"{self.name} max_periods must be at least 1, "
                              f"got {self.max_periods}")
        if self.seasonality not in SEASONALITY:
            raise ConfigError(f"{self.name} seasonality must be one of {SEASONALITY}")
        if self.lags is not None and any(int(k) < 1 for k in self.lags):
            raise ConfigError(f"{self.name} lags must be at least 1, got {self.lags}")
        if int(self.max_rows) < 1000:
            raise ConfigError(f"{self.name} max_rows must be at least 1000, got {self.max_rows}")
        if int(self.n_threads) < 1:
            raise ConfigError(f"{self.name} n_threads must be at least 1, got {self.n_threads}")

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        freq = history.attrs["freq"]
        n_t = history.sizes["time"]
        max_rows = int(self.max_rows)
        lags = optional(lambda given: tuple(int(k) for k in given), self.lags)
        self.design_options_ = {
            "lags": usable_lags(lags or default_lags(freq), n_t),
            "window": default_window(freq), "seasonality": self.seasonality,
            "interactions": bool(self.interactions),
        }
        self.covariate_groups_ = sorted(covariates or {})
        max_periods = optional(int, self.max_periods) or DEFAULT_MAX_PERIODS[freq]
        table = build_design(history, covariates, last_periods=max_periods,
                             **self.design_options_)
        table = table[table["longrun"].notna()]  # the cube's first period has no past
        if self.drop_missing:
            table = table.dropna(subset=feature_columns(table))
        if table.empty or n_t < 2:
            raise DataError(f"{self.name} needs at least two periods of history with every "
                            f"feature known; this history has {n_t}")
        if len(table) > max_rows:  # a seeded random subset, all periods represented
            rng = np.random.default_rng(int(getattr(self, "random_state", 0)))
            table = table.iloc[np.sort(rng.choice(len(table), max_rows, replace=False))]
        self.history_ = history
        self.n_rows_ = len(table)
        self.max_count_ = float(table["y"].max())
        with threadpool_limits(limits=int(self.n_threads)):
            self._fit_rows(table[feature_columns(table)], table["y"].to_numpy(dtype=float))

    def _predict(self, periods: int, covariates: Covariates | None) -> np.ndarray:
        given = sorted(covariates or {})
        if given != self.covariate_groups_:
            raise DataError(f"{self.name} was fitted with covariates {self.covariate_groups_} "
                            f"but predict got {given}: pass the same groups to fit and predict")
        with threadpool_limits(limits=int(self.n_threads)):
            return recursive_forecast(
                self.history_, covariates, periods,
                lambda rows: self._predict_rows(rows[feature_columns(rows)]),
                **self.design_options_)

    def _fit_rows(self, features: pd.DataFrame, y: np.ndarray) -> None:
        raise NotImplementedError

    def _predict_rows(self, features: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError


class GLMForecaster(TabularForecaster):
    """Log-linear Poisson / NB2 regression on past-only features (statsmodels GLM)."""

    name = "glm"

    def __init__(self, family: str = "poisson", lags: Sequence[int] | None = None,
                 max_periods: int | None = None, seasonality: str = "harmonic",
                 interactions: bool = True, max_rows: int = DEFAULT_MAX_ROWS,
                 maxiter: int = 100, n_threads: int = 1) -> None:
        super().__init__(lags, max_periods, seasonality, interactions, max_rows, n_threads)
        self.family = family
        self.maxiter = maxiter

    def _validate_params(self) -> None:
        if self.family not in FAMILIES:
            raise ConfigError(f"glm family must be one of {', '.join(FAMILIES)}, "
                              f"got {self.family!r}")
        super()._validate_params()
        if int(self.maxiter) < 1:
            raise ConfigError(f"glm maxiter must be at least 1, got {self.maxiter}")

    # -- feature transform --------------------------------------------------------------
    def _transform(self, features: pd.DataFrame) -> np.ndarray:
        """log1p the counts, re-form the interactions on that scale, standardise."""
        names = list(features.columns)
        values = np.array(features.to_numpy(dtype=float))  # a copy, never the frame's memory
        counts = [names.index(c) for c in count_columns(features)]
        values[:, counts] = np.log1p(np.clip(values[:, counts], 0.0, None))
        longrun = names.index("longrun")
        for j, column in enumerate(names):
            if column.endswith(INTERACTION_SUFFIX):
                covariate = names.index(column[: -len(INTERACTION_SUFFIX)])
                values[:, j] = values[:, covariate] * values[:, longrun]
        chosen = [names.index(c) for c in self.columns_]
        return (values[:, chosen] - self.center_) / self.scale_

    def _fit_rows(self, features: pd.DataFrame, y: np.ndarray) -> None:
        self.columns_ = list(features.columns)
        self.center_ = np.zeros(len(self.columns_))
        self.scale_ = np.ones(len(self.columns_))
        raw = self._transform(features)
        std = raw.std(axis=0)
        keep = std > 1e-9 * np.maximum(1.0, np.abs(raw).max(axis=0))
        self.center_, self.scale_ = raw.mean(axis=0), np.where(keep, std, 1.0)
        keep &= _independent_columns((raw - self.center_) / self.scale_)
        self.columns_ = [c for c, k in zip(self.columns_, keep, strict=True) if k]
        self.center_, self.scale_ = self.center_[keep], self.scale_[keep]
        X = sm.add_constant(self._transform(features), has_constant="add")
        self.trace_: list[dict[str, Any]] = []
        result = self._glm(X, y, sm.families.Poisson(), None)
        self.alpha_ = None
        if self.family == "negbin":
            for _ in range(2):  # α from the previous fit's means, then refit with that α
                mu = np.exp(X @ np.asarray(result.params, dtype=float))
                self.alpha_ = _moment_alpha(y, mu)
                result = self._glm(X, y, sm.families.NegativeBinomial(alpha=self.alpha_),
                                   np.asarray(result.params))
        self.params_ = np.asarray(result.params, dtype=float)
        self.cap_ = float(np.log(10.0 * self.max_count_ + 10.0))

    def _glm(self, X: np.ndarray, y: np.ndarray, family: Any,
             start: np.ndarray | None) -> Any:
        model = sm.GLM(y, X, family=family)
        name = type(family).__name__
        try:
            with np.errstate(all="ignore"):
                result = model.fit(start_params=start, maxiter=int(self.maxiter), tol=1e-8)
            if not np.all(np.isfinite(result.params)):
                raise ValueError("non-finite coefficients")
            history = result.fit_history
            self.converged_ = bool(result.converged)
            self.trace_.append({"family": name, "method": "IRLS",
                                "converged": self.converged_,
                                "iterations": int(history["iteration"]),
                                # at the start (statsmodels' data-based guess or the
                                # start parameters) then after each iteration
                                "deviance": [float(d) for d in history["deviance"]
                                             if np.isfinite(d)]})
            return result
        except (np.linalg.LinAlgError, ValueError, sm.tools.sm_exceptions.PerfectSeparationError):
            result = model.fit_regularized(alpha=1e-3, L1_wt=0.0, maxiter=int(self.maxiter),
                                           start_params=start)
            self.converged_ = True
            self.trace_.append({"family": name, "method": "ridge", "converged": True,
                                "iterations": None, "deviance": []})
            return result

    def _predict_rows(self, features: pd.DataFrame) -> np.ndarray:
        X = sm.add_constant(self._transform(features), has_constant="add")
        eta = np.minimum(X @ self.params_, self.cap_)
        return np.exp(eta)

    def fitted_params(self) -> dict[str, Any]:
        return {"family": self.family, "alpha": self.alpha_,
                "coefficients": dict(zip(["const", *self.columns_],
                                         self.params_.tolist(), strict=True)),
                "n_rows": self.n_rows_, "lags": list(self.design_options_["lags"]),
                "converged": self.converged_, "trace": self.trace_}


def _moment_alpha(y: np.ndarray, mu: np.ndarray) -> float:
    """NB2 dispersion by the Cameron–Trivedi regression ``(y − μ)² − y = α μ²`` (no intercept)."""
    alpha = float(np.sum((y - mu) ** 2 - y) / max(np.sum(mu**2), 1e-12))
    return min(max(alpha, 1e-6), 100.0)


def _independent_columns(X: np.ndarray, tol: float = 1e-7) -> np.ndarray:
    """Mask of columns kept by a pivoted QR (constant and collinear ones are dropped).

    ``X`` is centred, so the intercept added later cannot be reproduced by the kept ones.
    Keeping the design full rank keeps the coefficients identifiable on short histories.
    """
    _, r, pivot = scipy.linalg.qr(X, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > tol * max(diag.max(initial=0.0), 1e-300) * np.sqrt(len(X))))
    keep = np.zeros(X.shape[1], dtype=bool)
    keep[pivot[:rank]] = True
    return keep
