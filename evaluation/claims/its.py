"""Interrupted time series: the treated area's own history as its counterfactual.

A quasi-Poisson GLM (statsmodels ``GLM(Poisson)``, scale = Pearson chi-square / df) of
the treated area's monthly counts on

* a linear trend (years),
* month-of-year seasonality: 11 month dummies when there are at least 24 pre-period
  months, otherwise one annual sine/cosine pair,
* an indicator of the claimed period,
* an indicator of the Covid-19 lockdown months (:data:`COVID_MONTHS`, 2020-03..2020-12)
  when the pre-period holds some of them: police.uk counts collapsed then, and a single
  series has nothing else to explain the dip with. A claimed period that overlaps those
  months is not estimated by the single-series methods (the lockdown and the claim cannot
  be told apart from one series); the comparative methods (:mod:`.cits`, :mod:`.did`,
  :mod:`.sts`, :mod:`.synth`) take the dip from their controls,

fitted on every month from the store's first month to the end of the claimed period. The
indicator's coefficient is the log rate ratio (observed / counterfactual). Two things
widen the interval beyond a Poisson one: the Pearson dispersion (overdispersion) and,
when the pre-period residuals are positively autocorrelated (lag-1 correlation ``rho``),
the AR(1) variance factor ``(1 + rho) / (1 - rho)``; and, where the area's own history
allows placebo fits at fake start dates (:mod:`.placebo`), the mean square of those
placebo effects divided by their model standard errors (if above 1) - real series drift
and shift more than any count model says, and this measures by how much in the treated
area itself (shrunk towards the model when there are few placebos, see
:func:`placebo_inflation`). Intervals use the t distribution with the residual degrees
of freedom, or fewer when the placebos widened the variance.

This module also holds :class:`Estimate`, one row of the estimates table, and the GLM
helper the other model-based methods share.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

LEVEL = 0.95
#: The Covid-19 lockdown months of police.uk data (first lockdown to the end of 2020).
COVID_MONTHS = pd.period_range("2020-03", "2020-12", freq="M")


def covid_mask(months: pd.PeriodIndex) -> np.ndarray:
    """True for the months in :data:`COVID_MONTHS`."""
    return np.asarray(months.isin(COVID_MONTHS))


def covid_overlap(months: pd.PeriodIndex, post: np.ndarray) -> bool:
    """Whether the claimed period touches a Covid-19 lockdown month."""
    return bool((covid_mask(months) & np.asarray(post, dtype=bool)).any())


@dataclass(frozen=True)
class Estimate:
    """One method's answer: a rate ratio (or the method's own quantity) with its interval."""

    method: str
    estimate: float
    ci_low: float = np.nan
    ci_high: float = np.nan
    p_value: float = np.nan
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def row(self) -> dict[str, Any]:
        return {"method": self.method, "estimate": self.estimate, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "p_value": self.p_value, "note": self.note}

    @property
    def has_ci(self) -> bool:
        return bool(np.isfinite(self.ci_low) and np.isfinite(self.ci_high))

    def contains(self, value: float) -> bool:
        return self.has_ci and self.ci_low <= value <= self.ci_high


COVID_WHY = ("the claimed period overlaps the Covid-19 lockdown months 2020-03..2020-12: "
             "one series cannot tell the lockdown from the claim (the comparative methods "
             "can)")


def unavailable(method: str, why: str) -> Estimate:
    """A row that says why a method could not be run."""
    return Estimate(method, np.nan, note=f"not estimated: {why}")


@dataclass(frozen=True)
class GlmFit:
    """What the quasi-Poisson fits return: coefficients, scaled covariance, fitted means."""

    params: np.ndarray
    cov: np.ndarray
    mu: np.ndarray
    scale: float
    df_resid: int
    pearson: np.ndarray


def fit_quasi_poisson(y: np.ndarray, X: np.ndarray) -> GlmFit:
    """Poisson GLM with Pearson-estimated scale (never below 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.GLM(y, X, family=sm.families.Poisson()).fit(method="IRLS", maxiter=100)
    mu = np.asarray(res.fittedvalues, dtype=float)
    pearson = (y - mu) / np.sqrt(np.maximum(mu, 1e-12))
    df = max(int(len(y) - X.shape[1]), 1)
    scale = max(float(pearson @ pearson) / df, 1.0)
    cov = np.asarray(res.cov_params(), dtype=float) * scale
    return GlmFit(np.asarray(res.params, dtype=float), cov, mu, scale, df, pearson)


def ar1_factor(residuals: np.ndarray, max_rho: float = 0.8) -> tuple[float, float]:
    """``(rho, (1 + rho) / (1 - rho))`` from the lag-1 autocorrelation (negatives -> 0)."""
    r = np.asarray(residuals, dtype=float)
    r = r - r.mean()
    denom = float(r @ r)
    if len(r) < 4 or denom <= 0:
        return 0.0, 1.0
    rho = float(np.clip((r[1:] @ r[:-1]) / denom, 0.0, max_rho))
    return rho, (1 + rho) / (1 - rho)


def t_interval(coef: float, se: float, df: float, level: float = LEVEL
               ) -> tuple[float, float, float, float]:
    """Rate ratio, CI and two-sided p-value from a log-scale coefficient."""
    if not (np.isfinite(coef) and np.isfinite(se)) or se <= 0:
        return float(np.exp(coef)) if np.isfinite(coef) else np.nan, np.nan, np.nan, np.nan
    q = stats.t.ppf(0.5 + level / 2, df)
    p = float(2 * stats.t.sf(abs(coef) / se, df))
    return float(np.exp(coef)), float(np.exp(coef - q * se)), float(np.exp(coef + q * se)), p


def seasonal_design(months: pd.PeriodIndex, n_pre: int) -> np.ndarray:
    """Month dummies (January the reference) with >= 24 pre months, else sine/cosine."""
    moy = np.asarray(months.month) - 1
    if n_pre >= 24:
        return (moy[:, None] == np.arange(1, 12)[None, :]).astype(float)
    angle = 2 * np.pi * moy / 12
    return np.column_stack([np.sin(angle), np.cos(angle)])


def its_design(months: pd.PeriodIndex, post: np.ndarray, n_pre: int) -> np.ndarray:
    """Intercept, trend (years, 0 at the start), seasonality, a Covid-19 indicator when the
    pre-period holds some (not all) lockdown months, claimed-period indicator (last)."""
    start_idx = int(np.argmax(post)) if post.any() else len(months)
    t = (np.arange(len(months)) - start_idx) / 12.0
    covid = covid_mask(months) & ~np.asarray(post, dtype=bool)
    extra = [covid.astype(float)] if 0 < covid.sum() < n_pre else []
    return np.column_stack([np.ones(len(months)), t, seasonal_design(months, n_pre), *extra,
                            post.astype(float)])


def its_coefficient(
    y: np.ndarray, months: pd.PeriodIndex, post: np.ndarray, serial: bool = True
) -> tuple[float, float, int, GlmFit, float]:
    """Log rate ratio, its standard error, df, the fit and the pre-period AR(1) rho."""
    post = np.asarray(post, dtype=bool)
    n_pre = int((~post).sum())
    X = its_design(months, post, n_pre)
    fit = fit_quasi_poisson(np.asarray(y, dtype=float), X)
    rho, factor = ar1_factor(fit.pearson[~post]) if serial else (0.0, 1.0)
    se = float(np.sqrt(fit.cov[-1, -1] * factor))
    return float(fit.params[-1]), se, fit.df_resid, fit, rho


#: Prior weight (in effective placebos) of the model's own variance, see
#: :func:`placebo_inflation`.
PRIOR_DF = 4.0


def effective_placebos(n_placebos: int, window: int) -> float:
    """Independent-equivalent number of ``n_placebos`` consecutive fake windows.

    Consecutive fake windows of ``window`` months overlap, so their effects are
    correlated (about ``(L - k) / L`` at a shift of ``k``); the mean of ``n`` squared
    z-scores then carries as much information as ``n / (1 + 2 sum_k ((L - k) / L)^2)``
    independent ones.
    """
    lags = np.arange(1, max(window, 1))  # window 1: independent placebos (in space)
    return n_placebos / (1 + 2 * float(np.sum(((window - lags) / window) ** 2)))


def placebo_inflation(z: np.ndarray | None, window: int, df_model: float,
                      min_placebos: int = 5) -> tuple[float, float]:
    """Variance factor and degrees of freedom from standardised placebo effects ``z``.

    Under a correct model a placebo effect divided by its model standard error has
    variance 1; real local drifts, level shifts and serial correlation make it larger.
    The factor is the mean of ``z^2`` shrunk towards the model's 1 as if the model's
    variance were worth :data:`PRIOR_DF` placebos,
    ``kappa = (PRIOR_DF + n_eff * mean(z^2)) / (PRIOR_DF + n_eff)`` with ``n_eff`` from
    :func:`effective_placebos`; when it is above 1 the interval's degrees of freedom are
    ``PRIOR_DF + n_eff`` (the variance rests on the placebos), otherwise the model's
    ``df_model`` and a factor of 1. Fewer than ``min_placebos`` placebos: ``(1, df_model)``.
    """
    if z is None:
        return 1.0, df_model
    z = np.asarray(z, dtype=float)
    z = z[np.isfinite(z)]
    if len(z) < min_placebos:
        return 1.0, df_model
    n_eff = effective_placebos(len(z), window)
    kappa = (PRIOR_DF + n_eff * float(np.mean(z**2))) / (PRIOR_DF + n_eff)
    if kappa <= 1:
        return 1.0, df_model
    return kappa, min(df_model, PRIOR_DF + n_eff)


def fit_its(
    y: np.ndarray, months: pd.PeriodIndex, post: np.ndarray, *, serial: bool = True,
    placebo_z: np.ndarray | None = None, level: float = LEVEL,
) -> Estimate:
    """Interrupted time series rate ratio of the claimed period (see module docstring).

    Parameters
    ----------
    y
        Monthly counts of the treated area, from the first month to the end of the window.
    months
        The months of ``y``.
    post
        True for the months of the claimed period (the last months of ``y``).
    serial
        Widen the interval for lag-1 autocorrelation of the pre-period residuals.
    placebo_z
        Standardised ITS effects at fake start dates (:mod:`.placebo`); their mean square
        (if above 1) further widens the interval, see :func:`placebo_inflation`.
    """
    y = np.asarray(y, dtype=float)
    post = np.asarray(post, dtype=bool)
    if y[~post].sum() == 0:
        return unavailable("its", "no events in the treated area before the start")
    if covid_overlap(months, post):
        return unavailable("its", COVID_WHY)
    coef, se, df, fit, rho = its_coefficient(y, months, post, serial)
    counterfactual = fit.mu * np.exp(-coef * post)
    if y[post].sum() == 0:
        note = "no events in the window: the rate ratio is 0 and its interval is undefined"
        return Estimate("its", 0.0, note=note,
                        extra={"counterfactual": counterfactual, "scale": fit.scale})
    kappa, df = placebo_inflation(placebo_z, int(post.sum()), df)
    se *= np.sqrt(kappa)
    rr, lo, hi, p = t_interval(coef, se, df, level)
    season = "month dummies" if (~post).sum() >= 24 else "annual sine/cosine"
    note = (f"quasi-Poisson GLM: trend + {season} + window indicator; dispersion "
            f"{fit.scale:.2f}, AR(1) rho {rho:.2f}, placebo-in-time variance factor "
            f"{kappa:.2f}; counterfactual {counterfactual[post].sum():.0f} vs observed "
            f"{y[post].sum():.0f} events")
    return Estimate("its", rr, lo, hi, p, note,
                    extra={"counterfactual": counterfactual, "scale": fit.scale, "rho": rho,
                           "log_rr": coef, "se": se, "mu_pre": fit.mu[~post],
                           "kappa": kappa})
