"""Comparative interrupted time series: the treated area's history *and* its controls.

Plain ITS (:mod:`.its`) has only the area's own past to predict the claimed period, so
every local or city-wide shock (a lockdown, a recording change, a busy summer) looks like
an effect. The comparative version adds the control units' total as a covariate: a
quasi-Poisson GLM (statsmodels ``GLM(Poisson)``, Pearson scale) of the treated monthly
counts on

* ``log(control total + 0.5)`` (centred): what the comparable areas did that month,
* a linear trend (years) and one annual sine/cosine pair for the trend and season the
  treated area does not share with its controls (the controls' total already carries the
  common season; 11 month dummies would absorb it and leave the covariate nothing),
* an indicator of the claimed period, whose coefficient is the log rate ratio.

Unlike DiD the treated area's response to the controls is estimated (its elasticity need
not be 1), and no Covid-19 indicator is needed: the controls carry the dip. The interval
is widened as in ITS: the Pearson dispersion, the AR(1) factor of the pre-period
residuals and, from refits at every fake window of the claimed length inside the
pre-period (at least 12 months before it), the placebo variance factor
(:func:`~hotspot.evaluation.claims.its.placebo_inflation`), which also sets the degrees of
freedom.

Hand-written design and inference; the fitting is statsmodels'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspot.evaluation.claims.its import (
    LEVEL,
    Estimate,
    ar1_factor,
    fit_quasi_poisson,
    placebo_inflation,
    t_interval,
    unavailable,
)

#: Fake windows need at least this many months before them.
MIN_PLACEBO_PRE = 12
#: Fewer control units than this and comparative ITS is not run: one or two units make a
#: noisy covariate, and the calibration measured pools of 6-20 (as DiD's minimum).
MIN_CONTROLS = 3


def cits_design(x: np.ndarray, months: pd.PeriodIndex, post: np.ndarray) -> np.ndarray:
    """Intercept, log control total (centred on the pre-period), trend, season, window."""
    post = np.asarray(post, dtype=bool)
    start_idx = int(np.argmax(post)) if post.any() else len(months)
    t = (np.arange(len(months)) - start_idx) / 12.0
    lx = np.log(np.asarray(x, dtype=float) + 0.5)
    lx = lx - lx[~post].mean()
    angle = 2 * np.pi * (np.asarray(months.month) - 1) / 12
    return np.column_stack([np.ones(len(months)), lx, t, np.sin(angle), np.cos(angle),
                            post.astype(float)])


def cits_coefficient(y: np.ndarray, x: np.ndarray, months: pd.PeriodIndex, post: np.ndarray,
                     serial: bool = True):
    """Log rate ratio, its standard error (scale and AR(1)), df, the fit and rho."""
    fit = fit_quasi_poisson(np.asarray(y, dtype=float), cits_design(x, months, post))
    rho, factor = ar1_factor(fit.pearson[~np.asarray(post, bool)]) if serial else (0.0, 1.0)
    return float(fit.params[-1]), float(np.sqrt(fit.cov[-1, -1] * factor)), fit.df_resid, fit, rho


def placebo_z(y: np.ndarray, x: np.ndarray, months: pd.PeriodIndex, post: np.ndarray,
              serial: bool = True, min_pre: int = MIN_PLACEBO_PRE) -> np.ndarray:
    """Standardised comparative-ITS effects at every fake window inside the pre-period."""
    n_pre = int((~np.asarray(post, bool)).sum())
    window = int(np.asarray(post, bool).sum())
    z = []
    for s in range(min_pre, n_pre - window + 1):
        stop = s + window
        if y[:s].sum() == 0 or y[s:stop].sum() == 0:
            continue
        fake = np.zeros(stop, dtype=bool)
        fake[s:] = True
        coef, se, *_ = cits_coefficient(y[:stop], x[:stop], months[:stop], fake, serial)
        if np.isfinite(coef) and np.isfinite(se) and se > 0:
            z.append(coef / se)
    return np.array(z)


def fit_cits(y: np.ndarray, controls: np.ndarray, months: pd.PeriodIndex, post: np.ndarray,
             *, serial: bool = True, level: float = LEVEL) -> Estimate:
    """Comparative ITS rate ratio of the claimed period (see the module docstring)."""
    y = np.asarray(y, dtype=float)
    post = np.asarray(post, dtype=bool)
    if controls.shape[1] < MIN_CONTROLS:
        return unavailable("cits", f"{controls.shape[1]} control units (need {MIN_CONTROLS})")
    x = controls.sum(axis=1).astype(float)
    if y[~post].sum() == 0:
        return unavailable("cits", "no events in the treated area before the start")
    if y[post].sum() == 0:
        return Estimate("cits", 0.0, note="no events in the window: the rate ratio is 0")
    coef, se, df, fit, rho = cits_coefficient(y, x, months, post, serial)
    kappa, df = placebo_inflation(placebo_z(y, x, months, post, serial), int(post.sum()), df)
    se *= np.sqrt(kappa)
    rr, lo, hi, p = t_interval(coef, se, df, level)
    counterfactual = fit.mu * np.exp(-coef * post)
    note = (f"quasi-Poisson GLM on log(total of {controls.shape[1]} control units) "
            f"(elasticity {fit.params[1]:.2f}) + trend + season + window indicator; "
            f"dispersion {fit.scale:.2f}, AR(1) rho {rho:.2f}, placebo-in-time variance "
            f"factor {kappa:.2f}; counterfactual {counterfactual[post].sum():.0f} vs observed "
            f"{y[post].sum():.0f} events")
    return Estimate("cits", rr, lo, hi, p, note,
                    extra={"counterfactual": counterfactual, "log_rr": coef, "se": se,
                           "kappa": kappa, "elasticity": float(fit.params[1])})
