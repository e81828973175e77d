"""Structural time series with the controls as a regressor (CausalImpact in spirit).

statsmodels ``UnobservedComponents`` fits, on the pre-period only, a local level model of
``log(treated + 0.5)`` with ``log(control total + 0.5)`` as a regression term (Brodersen
et al. 2015 use a Bayesian version with spike-and-slab priors; here the parameters are
maximum likelihood). The fitted model then simulates the claimed period given the
controls' observed values (``simulate(anchor="end", repetitions=...)``: level, regression
and observation noise, seeded), each path back-transformed to counts and summed over the
window. With ``S`` the simulated window totals and ``O`` the observed one:

* rate ratio ``O / median(S)``; 95 % interval ``O / quantile(S, 0.975) .. O /
  quantile(S, 0.025)``;
* two-sided p-value ``2 min(P(S <= O), P(S >= O))`` (with the +1 correction).

The local level takes slow drift, the regression takes shocks the controls share (the
Covid-19 dip included), so no seasonality or lockdown terms are added. Parameter
uncertainty is not simulated (maximum likelihood plug-in), which the calibration table
measures.
"""

from __future__ import annotations

import warnings

import numpy as np

from hotspot.evaluation.claims.its import LEVEL, Estimate, unavailable

#: Simulated window paths.
N_PATHS = 1000
#: Fewer pre-period months than this and the model is not fitted.
MIN_PRE = 18
SEED = 20240601


def fit_sts(y: np.ndarray, controls: np.ndarray, post: np.ndarray, *, level: float = LEVEL,
            n_paths: int = N_PATHS, seed: int = SEED) -> Estimate:
    """Structural-time-series rate ratio of the claimed period (module docstring)."""
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    y = np.asarray(y, dtype=float)
    post = np.asarray(post, dtype=bool)
    pre = ~post
    if controls.shape[1] < 1:
        return unavailable("sts", "no control units")
    if pre.sum() < MIN_PRE:
        return unavailable("sts", f"{int(pre.sum())} pre-period months (need {MIN_PRE})")
    if y[pre].sum() == 0:
        return unavailable("sts", "no events in the treated area before the start")
    lx = np.log(controls.sum(axis=1).astype(float) + 0.5)
    lx = lx - lx[pre].mean()
    ly = np.log(y + 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = UnobservedComponents(ly[pre], level="local level", exog=lx[pre, None])
        res = model.fit(disp=False, maxiter=200)
        n_post = int(post.sum())
        paths = res.simulate(n_post, anchor="end", repetitions=n_paths, exog=lx[post, None],
                             rng=np.random.default_rng(seed))
    sims = np.maximum(np.exp(np.asarray(paths).reshape(n_post, n_paths)) - 0.5, 0.0).sum(0)
    observed = float(y[post].sum())
    median = float(np.median(sims))
    if median <= 0 or not np.isfinite(median):
        return unavailable("sts", "the simulated counterfactual is empty")
    tail = (1 - level) / 2
    q_lo, q_hi = np.quantile(sims, [tail, 1 - tail])
    rr = observed / median
    lo = observed / q_hi if q_hi > 0 else np.nan
    hi = observed / q_lo if q_lo > 0 else np.inf
    p = min(1.0, 2 * min((1 + np.sum(sims <= observed)), (1 + np.sum(sims >= observed)))
            / (1 + n_paths))
    note = (f"statsmodels UnobservedComponents: local level + log(total of "
            f"{controls.shape[1]} control units) (coefficient {res.params[-1]:.2f}), fitted "
            f"on {int(pre.sum())} pre-period months; {n_paths} simulated windows, "
            f"counterfactual median {median:.0f} vs observed {observed:.0f} events")
    return Estimate("sts", float(rr), float(lo), float(hi), float(p), note,
                    extra={"simulated_totals": sims, "beta": float(res.params[-1])})
