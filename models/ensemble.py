"""``ensemble``: a weighted blend of member models, weights learned on earlier origins.

    μ[c] = Σ_m w_m · μ_m[c],    w_m >= 0,  Σ_m w_m = 1

Weights come from the training history alone. Inside ``fit`` an internal rolling backtest
runs over the history's last ``n_weight_origins`` periods (default 6): for each internal
origin ``o`` (the periods before the cutoff's last ``n_weight_origins``), every member is
fitted on periods ``<= o`` (made by ``models.registry.make_model``) and forecasts ``o + 1``,
which is still ``<= cutoff``. The weights minimise the mean Poisson deviance (forecasts
floored as in ``evaluation.metrics``) of the blended forecasts over those origins and cells:
a convex problem on the simplex, solved with SLSQP from equal weights. Then every member
is refitted on all the history and the blend of their forecasts is the forecast, for every
horizon. An internal origin where some member cannot be fitted (history too short) is
skipped; with no usable origin the weights are equal.

Default members: ``naive-mean, naive-longrun, glm, gbm, prospective-hotspot``; their
parameters go in ``member_params`` (``{"glm": {"family": "negbin"}}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import minimize

from hotspot.core.errors import ConfigError, HotspotError
from hotspot.core.periods import period_label
from hotspot.core.ranking import DEVIANCE_FLOOR
from hotspot.features.cube import cube_periods
from hotspot.models.base import BaseForecaster, Covariates
from hotspot.models.registry import make_model

DEFAULT_MEMBERS = ("naive-mean", "naive-longrun", "glm", "gbm", "prospective-hotspot")


def blend_deviance(weights: np.ndarray, forecasts: np.ndarray,
                   observed: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean Poisson deviance of ``Σ_m w_m forecasts[m]`` against ``observed``, and its gradient.

    ``forecasts`` is ``(member, ...)``, ``observed`` the trailing shape.
    """
    mu_raw = np.tensordot(weights, forecasts, axes=1)
    mu = np.maximum(mu_raw, DEVIANCE_FLOOR)
    y = observed
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log = np.where(y > 0, y * np.log(y / mu), 0.0)
    value = float(np.mean(2.0 * (y_log - (y - mu))))
    dmu = np.where(mu_raw > DEVIANCE_FLOOR, 2.0 * (1.0 - y / mu), 0.0) / y.size
    return value, np.tensordot(forecasts, dmu, axes=(tuple(range(1, forecasts.ndim)),
                                                      tuple(range(dmu.ndim))))


def simplex_weights(forecasts: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, Any]:
    """Non-negative weights summing to one that minimise ``blend_deviance``."""
    n = forecasts.shape[0]
    result = minimize(
        blend_deviance, np.full(n, 1.0 / n), args=(forecasts, observed), jac=True,
        method="SLSQP", bounds=[(0.0, 1.0)] * n,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0,
                      "jac": lambda w: np.ones_like(w)}],
        options={"maxiter": 200, "ftol": 1e-10},
    )
    weights = np.clip(result.x, 0.0, None)
    return weights / weights.sum(), result


class Ensemble(BaseForecaster):
    """Simplex-weighted blend of member forecasts, weights from an internal backtest."""

    name = "ensemble"

    def __init__(self, members: Sequence[str] = DEFAULT_MEMBERS,
                 member_params: Mapping[str, Mapping[str, Any]] | None = None,
                 n_weight_origins: int = 6) -> None:
        self.members = members
        self.member_params = member_params
        self.n_weight_origins = n_weight_origins

    def _validate_params(self) -> None:
        members = tuple(self.members)
        if not members or len(set(members)) != len(members) or "ensemble" in members:
            raise ConfigError(f"ensemble members must be distinct models other than ensemble, "
                              f"got {members}")
        if int(self.n_weight_origins) < 1:
            raise ConfigError(f"ensemble n_weight_origins must be at least 1, "
                              f"got {self.n_weight_origins}")
        for name in members:  # an unknown member or a bad member parameter fails here
            self._member(name)

    def _member(self, name: str) -> BaseForecaster:
        return make_model(name, **(self.member_params or {}).get(name, {}))

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None,
             covariates: Covariates | None) -> None:
        members = tuple(self.members)
        periods = cube_periods(history)
        counts = history["counts"].values.astype(float)
        n_t = len(periods)
        forecasts, observed, origins, skipped = [], [], [], []
        for o in range(max(0, n_t - 1 - int(self.n_weight_origins)), n_t - 1):  # earlier ones
            try:
                row = [self._member(name).fit(history, periods[o], events).predict(1).values[0]
                       for name in members]
            except HotspotError as exc:  # e.g. too little history for a member this early
                skipped.append({"origin": period_label(periods[o]), "reason": str(exc)})
                continue
            forecasts.append(row)
            observed.append(counts[o + 1])
            origins.append(period_label(periods[o]))
        self.origins_, self.skipped_ = origins, skipped
        if forecasts:
            stack = np.asarray(forecasts).transpose(1, 0, 2)  # (member, origin, cell)
            obs = np.asarray(observed)
            self.weights_, result = simplex_weights(stack, obs)
            self.optimiser_ = {"success": bool(result.success), "n_iter": int(result.nit),
                               "message": str(result.message)}
            self.member_deviance_ = {
                name: blend_deviance(np.eye(len(members))[i], stack, obs)[0]
                for i, name in enumerate(members)}
            self.blend_deviance_ = blend_deviance(self.weights_, stack, obs)[0]
        else:
            self.weights_ = np.full(len(members), 1.0 / len(members))
            self.optimiser_ = {"success": False, "n_iter": 0,
                               "message": "no usable internal origin: equal weights"}
            self.member_deviance_, self.blend_deviance_ = {}, None
        self.members_ = members
        self.fitted_ = [self._member(name).fit(history, periods[-1], events)
                        for name in members]

    def _predict(self, periods: int, covariates: Covariates | None) -> np.ndarray:
        stack = np.stack([m.predict(periods).values for m in self.fitted_])
        return np.tensordot(self.weights_, stack, axes=1)

    def fitted_params(self) -> dict[str, Any]:
        return {
            "weights": dict(zip(self.members_, self.weights_.tolist(), strict=True)),
            "weight_origins": self.origins_, "skipped_origins": self.skipped_,
            "member_deviance": self.member_deviance_, "blend_deviance": self.blend_deviance_,
            "optimiser": self.optimiser_,
            "members": {m.name: m.fitted_params() for m in self.fitted_},
        }
