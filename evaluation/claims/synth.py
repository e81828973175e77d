"""Synthetic control with an in-space placebo permutation test.

Each unit's monthly series is divided by its own pre-period mean (so a unit of 10 and one
of 100 events a month are comparable and only the *shape* is matched). Weights
``w >= 0, sum(w) = 1`` on the control units minimise the pre-period squared error between
the treated area's normalised series and the weighted controls; they are found with
``scipy.optimize.nnls`` on the system augmented by a heavily weighted row ``sum(w) = 1``
(then renormalised), which is exact to ~1e-9 and fast enough to refit for every placebo.

The counterfactual is the weighted normalised series times the treated area's pre-period
mean; the rate ratio is observed / counterfactual summed over the window.

Inference (Abadie, Diamond & Hainmueller 2010): each control in turn is treated as if it
were the treated area (its donors: the other controls), and the ratio of post- to
pre-period RMSPE is computed for every unit. The p-value is the rank of the treated
unit's ratio among all ``n + 1`` ratios, ``(1 + #{placebo >= treated}) / (n + 1)``, so it
can be no smaller than ``1 / (n + 1)``.

Interval: each unit's log rate ratio gets a Poisson-scale standard error
``se = sqrt(1 / sum_post counterfactual + 1 / sum_pre y)`` (units differ in size); the
placebos' mean squared ``log rr / se`` (at least 1) says how much more they actually
vary, and the interval is ``log rr +- t(0.975, n) * sqrt(that) * se`` of the treated
area.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats
from scipy.optimize import nnls

from hotspot.evaluation.claims.its import LEVEL, Estimate, unavailable

#: Fewer donors than this and synthetic control is not run.
MIN_DONORS = 4


def synth_weights(target: np.ndarray, donors: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that best fit ``target`` (pre months) by ``donors``
    (pre months x units)."""
    n_units = donors.shape[1]
    penalty = 1e3 * max(float(np.sqrt((target**2).sum())), 1.0)
    A = np.vstack([donors, penalty * np.ones((1, n_units))])
    b = np.append(target, penalty)
    w, _ = nnls(A, b, maxiter=50 * n_units)
    total = w.sum()
    return w / total if total > 0 else np.full(n_units, 1.0 / n_units)


def _normalise(panel: np.ndarray, pre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    means = panel[pre].mean(axis=0)
    return panel / np.where(means > 0, means, 1.0), means


#: ``weights(target_pre, donors_pre) -> w``: how the donor weights are found.
WeightsFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _fit_one(norm: np.ndarray, means: np.ndarray, raw: np.ndarray, j: int, donors: np.ndarray,
             pre: np.ndarray, post: np.ndarray, weights: WeightsFn = synth_weights) -> dict:
    """Synthetic control of unit ``j`` from ``donors`` (column indices)."""
    w = weights(norm[pre, j], norm[pre][:, donors])
    synth = norm[:, donors] @ w
    gap = norm[:, j] - synth
    rmspe_pre = float(np.sqrt(np.mean(gap[pre] ** 2)))
    rmspe_post = float(np.sqrt(np.mean(gap[post] ** 2)))
    counterfactual = synth * means[j]
    expected = float(counterfactual[post].sum())
    rr = float(raw[post, j].sum() / expected) if expected > 0 else np.nan
    observed_pre = float(raw[pre, j].sum())
    se = (float(np.sqrt(1 / expected + 1 / observed_pre)) if expected > 0 and observed_pre > 0
          else np.nan)
    return {"weights": w, "synthetic": counterfactual, "rmspe_pre": rmspe_pre,
            "rmspe_post": rmspe_post, "ratio": rmspe_post / max(rmspe_pre, 1e-9), "rr": rr,
            "se": se}


def fit_synth(
    treated: np.ndarray, controls: np.ndarray, post: np.ndarray, *,
    control_ids: list[str] | None = None, level: float = LEVEL,
    weights: WeightsFn = synth_weights, method: str = "synthetic_control",
) -> Estimate:
    """Synthetic-control rate ratio with placebo p-value and interval (module docstring).

    ``weights`` finds the donor weights (default: :func:`synth_weights`;
    :mod:`.synth_lib` passes pysyncon's) and ``method`` names the row.
    """
    post = np.asarray(post, dtype=bool)
    pre = ~post
    n_controls = controls.shape[1]
    if n_controls < MIN_DONORS + 1:
        return unavailable(method,
                           f"{n_controls} control units (need {MIN_DONORS + 1} for placebos)")
    raw = np.column_stack([treated, controls]).astype(float)
    if raw[pre, 0].sum() == 0:
        return unavailable(method, "no events before the start")
    norm, means = _normalise(raw, pre)
    fit = _fit_one(norm, means, raw, 0, np.arange(1, n_controls + 1), pre, post, weights)
    placebos = []
    for j in range(1, n_controls + 1):
        donors = np.array([k for k in range(1, n_controls + 1) if k != j])
        placebos.append(_fit_one(norm, means, raw, j, donors, pre, post, weights))
    ratios = np.array([p["ratio"] for p in placebos])
    usable = [p for p in placebos if p["rr"] > 0 and np.isfinite(p["se"])]
    log_rr = np.log(np.array([p["rr"] for p in usable]))
    z = log_rr / np.array([p["se"] for p in usable])
    p_value = float((1 + np.sum(ratios >= fit["ratio"])) / (1 + len(ratios)))
    rr = fit["rr"]
    lo = hi = np.nan
    kappa = max(1.0, float(np.mean(z**2))) if len(z) else np.nan
    if np.isfinite(rr) and rr > 0 and np.isfinite(fit["se"]) and len(z) >= MIN_DONORS:
        half = stats.t.ppf(0.5 + level / 2, len(z)) * np.sqrt(kappa) * fit["se"]
        lo, hi = float(rr * np.exp(-half)), float(rr * np.exp(half))
    ids = control_ids or [f"unit_{k}" for k in range(n_controls)]
    top = np.argsort(-fit["weights"])[:3]
    weights_text = ", ".join(f"{ids[k]} {fit['weights'][k]:.2f}" for k in top
                             if fit["weights"][k] > 0.005)
    note = (f"{n_controls} donors (top weights: {weights_text}); pre-period RMSPE "
            f"{fit['rmspe_pre']:.2f} of the mean; placebo p = rank of post/pre RMSPE ratio "
            f"{fit['ratio']:.2f} among {n_controls + 1} (smallest possible "
            f"{1 / (n_controls + 1):.3f}); CI scaled by the placebos' spread (factor "
            f"{kappa:.2f})")
    return Estimate(method, rr, lo, hi, p_value, note, extra={
        "synthetic": fit["synthetic"], "weights": fit["weights"], "ratio": fit["ratio"],
        "placebo_ratios": ratios, "placebo_log_rr": log_rr, "rmspe_pre": fit["rmspe_pre"],
        "kappa": kappa})
