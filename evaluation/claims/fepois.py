"""Poisson difference in differences by pyfixest (``fepois``), clustered by unit.

The same model as :mod:`.did` - ``log E y[t, i] = a_i + g_t + delta * treated_i *
window_t`` - estimated by pyfixest's Poisson pseudo-maximum-likelihood with unit and
month fixed effects, and standard errors clustered by unit (CRV1, ``t(G - 1)``
intervals). It is the maintained-library counterpart of the hand-written DiD and is
evaluated by the same calibration (``benchmarks/bench_claims.py``). Clustered errors need
many *treated* clusters; a claim has one, so the calibration table is what decides whether
this row may drive a verdict. pyfixest has a wild cluster bootstrap only for OLS
(``feols``), not for ``fepois``.

pyfixest is imported inside the function: it takes seconds to import.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from hotspot.evaluation.claims.its import LEVEL, Estimate, unavailable

#: Fewer control units than this and the row is not estimated.
MIN_CONTROLS = 3


def fit_did_fepois(treated: np.ndarray, controls: np.ndarray, post: np.ndarray, *,
                   level: float = LEVEL) -> Estimate:
    """pyfixest ``fepois`` DiD rate ratio with unit-clustered errors."""
    import pyfixest as pf

    post = np.asarray(post, dtype=bool)
    treated = np.asarray(treated, dtype=float)
    if controls.shape[1] < MIN_CONTROLS:
        return unavailable("did_fepois",
                           f"{controls.shape[1]} control units (need {MIN_CONTROLS})")
    if treated[~post].sum() == 0:
        return unavailable("did_fepois", "no events before the start")
    if treated[post].sum() == 0:
        return Estimate("did_fepois", 0.0, note="no events in the window: the rate ratio is 0")
    panel = np.column_stack([treated, controls])
    n_months, n_units = panel.shape
    frame = pd.DataFrame({"y": panel.reshape(-1),
                          "unit": np.tile(np.arange(n_units), n_months),
                          "month": np.repeat(np.arange(n_months), n_units)})
    frame["d"] = ((frame["unit"] == 0) & post[frame["month"]]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.fepois("y ~ d | unit + month", data=frame, vcov={"CRV1": "unit"})
        coef = float(fit.coef()["d"])
        ci = fit.confint(alpha=1 - level)
        p = float(fit.pvalue()["d"])
        se = float(fit.se()["d"])
    lo, hi = float(np.exp(ci.loc["d"].iloc[0])), float(np.exp(ci.loc["d"].iloc[1]))
    note = (f"pyfixest fepois: unit + month fixed effects, {controls.shape[1]} control units, "
            f"CRV1 errors clustered by unit (one treated cluster)")
    return Estimate("did_fepois", float(np.exp(coef)), lo, hi, p, note,
                    extra={"log_rr": coef, "se": se})
