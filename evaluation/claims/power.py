"""Power and minimum detectable effect of a negative-binomial rate ratio test.

The test compares the treated area's window months with its pre-period months, both
negative binomial (NB2: ``var = mu + alpha mu^2``). With ``m`` pre months of mean ``mu0``,
``L`` window months whose no-effect mean is ``mu1`` and a true rate ratio ``r``, the log
rate ratio's standard error is (delta method)::

    se(r) = sqrt( (1 / (r mu1) + alpha) / L + (1 / mu0 + alpha) / m )

and the two-sided Wald test at level ``a`` has power
``Phi(|log r| / se - z) + Phi(-|log r| / se - z)``, ``z = Phi^-1(1 - a/2)``.
The minimum detectable effect (MDE) is the rate ratio below 1 whose power is 0.8 (found
with ``brentq``). ``alpha`` is the moment estimate ``sum((y - mu)^2 - mu) / sum(mu^2)``
(floored at 0) from the ITS fit's pre-period fitted means, so trend and season are not
counted as noise. That alone is the *best case*: the ITS and DiD intervals are wider
because they also estimate trend, season and month effects and allow for serial
correlation and placebo-measured drift. So the variance is multiplied by the *design
effect* of the estimate the verdict rests on (its interval's variance over the NB test's
at the same rate ratio, at least 1): the ``power`` and ``mde`` rows are those of the
analysis actually done, and their notes give the best-case figures too.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.optimize import brentq

from hotspot.evaluation.claims.its import Estimate, unavailable

ALPHA = 0.05
TARGET_POWER = 0.8


def nb_alpha(y: np.ndarray, mu: np.ndarray) -> float:
    """Moment estimate of the NB2 overdispersion from counts and their fitted means."""
    y, mu = np.asarray(y, float), np.asarray(mu, float)
    denom = float((mu**2).sum())
    return max(float(((y - mu) ** 2 - mu).sum()) / denom, 0.0) if denom > 0 else 0.0


def log_rr_se(rr: float, mu_pre: float, mu_post: float, n_pre: int, n_post: int,
              alpha: float, deff: float = 1.0) -> float:
    return float(np.sqrt(deff * ((1 / (rr * mu_post) + alpha) / n_post
                                 + (1 / mu_pre + alpha) / n_pre)))


def nb_power(rr: float, mu_pre: float, mu_post: float, n_pre: int, n_post: int,
             alpha: float, level: float = ALPHA, deff: float = 1.0) -> float:
    """Power of the two-sided NB rate ratio test to detect a true rate ratio ``rr``
    (``deff`` multiplies the variance: the design effect of the actual analysis)."""
    if rr <= 0 or mu_pre <= 0 or mu_post <= 0:
        return float("nan")
    z = stats.norm.ppf(1 - level / 2)
    shift = abs(np.log(rr)) / log_rr_se(rr, mu_pre, mu_post, n_pre, n_post, alpha, deff)
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


def nb_mde(mu_pre: float, mu_post: float, n_pre: int, n_post: int, alpha: float,
           power: float = TARGET_POWER, level: float = ALPHA, deff: float = 1.0) -> float:
    """Largest rate ratio below 1 detected with ``power`` (NaN if none down to 0.02)."""
    def gap(rr: float) -> float:
        return nb_power(rr, mu_pre, mu_post, n_pre, n_post, alpha, level, deff) - power
    low, high = 0.02, 1 - 1e-9
    if gap(low) < 0:
        return float("nan")
    return float(brentq(gap, low, high, xtol=1e-6))


def design_se(e: Estimate) -> float:
    """The z-equivalent standard error of an estimate's log rate ratio from its 95 % CI
    (folds a t quantile or placebo widening into the standard error)."""
    if not e.has_ci or e.ci_low <= 0:
        return float("nan")
    return float(np.log(e.ci_high / e.ci_low) / (2 * stats.norm.ppf(0.975)))


def fit_power(
    y: np.ndarray, post: np.ndarray, claimed_rr: float | None, *, mu_fit: np.ndarray | None,
    counterfactual: np.ndarray | None, design: Estimate | None = None,
) -> tuple[Estimate, Estimate]:
    """``power`` (at the claimed rate ratio) and ``mde`` rows for the treated series.

    ``mu_fit`` are the ITS fitted means of the pre-period months (for ``alpha``) and
    ``counterfactual`` the ITS no-effect means (for the window's baseline); without them
    the pre-period mean stands in for both. ``design`` is the estimate whose interval the
    verdict rests on: its design effect (its variance over the NB test's at its own
    estimate, at least 1) scales the NB variance, so power and MDE are those of the
    analysis actually done; the note gives the best-case NB figures as well.
    """
    y = np.asarray(y, float)
    post = np.asarray(post, bool)
    pre_y = y[~post]
    mu_pre = float(pre_y.mean())
    if mu_pre <= 0:
        why = "no events before the start"
        return unavailable("power", why), unavailable("mde", why)
    mu = np.asarray(mu_fit, float) if mu_fit is not None else np.full(len(pre_y), mu_pre)
    alpha = nb_alpha(pre_y, mu)
    mu_post = (float(np.asarray(counterfactual, float)[post].mean())
               if counterfactual is not None else mu_pre)
    mu_post = mu_post if mu_post > 0 else mu_pre
    n_pre, n_post = int(len(pre_y)), int(post.sum())
    deff, design_text = 1.0, ""
    if design is not None and np.isfinite(design_se(design)) and design.estimate > 0:
        nb_se = log_rr_se(design.estimate, mu_pre, mu_post, n_pre, n_post, alpha)
        deff = max(1.0, (design_se(design) / nb_se) ** 2)
        design_text = f"design effect {deff:.2f} from the {design.method} interval; "
    args = (mu_pre, mu_post, n_pre, n_post, alpha)
    base = (f"NB rate ratio test, alpha = {ALPHA}: baseline {mu_pre:.1f} events/month over "
            f"{n_pre} months, {mu_post:.1f} expected/month in the {n_post}-month window, "
            f"overdispersion alpha {alpha:.3f}; {design_text}")
    mde = nb_mde(*args, deff=deff)
    best = nb_mde(*args)
    best_text = (f"best case (NB test alone) {1 - best:.0%}" if np.isfinite(best)
                 else "best case: none")
    extra = {"alpha": alpha, "deff": deff, "best_case_mde": best}
    if np.isfinite(mde):
        mde_row = Estimate("mde", mde, note=(f"smallest drop detected with power "
                                              f"{TARGET_POWER:.0%}: {1 - mde:.0%} (rate ratio "
                                              f"{mde:.3f}); {base}{best_text}"), extra=extra)
    else:
        mde_row = Estimate("mde", np.nan, note=(f"even a 98% drop is not detected with power "
                                                 f"{TARGET_POWER:.0%}; {base}{best_text}"),
                           extra=extra)
    if claimed_rr is None:
        power_row = unavailable("power", "no --claimed effect given")
    else:
        pw = nb_power(claimed_rr, *args, deff=deff)
        best_pw = nb_power(claimed_rr, *args)
        verdict = "could be detected" if pw >= TARGET_POWER else "could easily be missed"
        power_row = Estimate("power", pw, note=(
            f"power to detect the claimed rate ratio {claimed_rr:.3f}: {pw:.0%} - a change of "
            f"that size {verdict}; {base}best case (NB test alone) {best_pw:.0%}"),
            extra=extra)
    return power_row, mde_row
