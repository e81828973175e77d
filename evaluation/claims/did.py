"""Difference in differences against the control units, with a pre-trend check.

Model: a quasi-Poisson panel GLM of monthly counts ``y[t, i]`` (the treated area and each
control unit) with a fixed effect per unit and per month and one treated x window term::

    log E y[t, i] = a_i + g_t + delta * treated_i * window_t

``exp(delta)`` is the rate ratio of the treated area against what the controls' month-to-
month movement (season, city-wide shocks such as Covid-19) predicts.

With a single treated unit its own noise dominates ``delta``'s uncertainty, so the scale
is the larger of the pooled Pearson dispersion and the treated unit's own, and the
variance is widened by the AR(1) factor of the treated unit's pre-period residuals (as in
ITS). Real areas also drift against their controls more than a count model allows, so
the same DiD is computed at every fake window of the claimed length inside the
pre-period (with at least 12 months before it), in closed form given the fitted month
effects: ``log(sum_W y / sum_W e^g) - log(sum_before y / sum_before e^g)``. Each is
divided by its model standard error, and the mean square of these placebo z-scores, if
above 1, multiplies the variance, shrunk towards 1 when there are few placebos
(:func:`evaluation.claims.its.placebo_inflation`, which also sets the degrees of freedom).
In space likewise: each control unit's own 2 x 2 DiD in the claimed window against the
sum of the other controls, standardised the same way, shows how much comparable areas
moved in that very window (local shocks the treated area may share). Both sets of
placebos measure the same thing - how much more a unit's DiD varies than the model says -
so they are pooled into one factor, each weighted by its effective number of independent
placebos (:func:`pooled_inflation`; Conley & Taber 2011 in spirit: with one treated unit,
the controls tell how variable a unit's DiD is). Taking the larger of the two factors, as
an earlier version did, gave 98 % coverage of planted effects on both real data sets
(intervals too wide; ``benchmarks/results/claims.md``).

Pre-trend check (``did_pretrend``): on the pre-period only, the same fixed effects plus
``treated x time`` (years). Its rate ratio per year should be near 1; a p-value below
0.05 flags that the treated area was already drifting away from its controls, which
breaks the parallel-trends assumption DiD rests on.
"""

from __future__ import annotations

import numpy as np

from hotspot.evaluation.claims.its import (
    LEVEL,
    PRIOR_DF,
    Estimate,
    ar1_factor,
    effective_placebos,
    fit_quasi_poisson,
    placebo_inflation,
    t_interval,
    unavailable,
)

#: Fewer control units than this and DiD is not run.
MIN_CONTROLS = 3
#: Fake windows need at least this many months before them.
MIN_PLACEBO_PRE = 12
#: Pre-trend p-value below this flags diverging trends.
PRETREND_ALPHA = 0.05


def _panel_design(n_months: int, n_units: int, extra: np.ndarray) -> np.ndarray:
    """Rows month-major (t, i): unit dummies, month dummies (first dropped), extra column."""
    units = np.tile(np.eye(n_units), (n_months, 1))
    months = np.repeat(np.eye(n_months)[:, 1:], n_units, axis=0)
    return np.column_stack([units, months, extra.reshape(-1)])


def pooled_inflation(groups: list[tuple[np.ndarray, int]], df_model: float,
                     min_placebos: int = 5) -> tuple[float, float]:
    """Variance factor and degrees of freedom from several sets of standardised placebo
    effects ``(z, window)``: :func:`~hotspot.evaluation.claims.its.placebo_inflation` with
    the sets' mean squares averaged by their effective numbers of placebos."""
    n_total, weighted = 0.0, 0.0
    for z, window in groups:
        z = np.asarray(z, dtype=float)
        z = z[np.isfinite(z)]
        if len(z) < min_placebos:
            continue
        n_eff = effective_placebos(len(z), window)
        n_total += n_eff
        weighted += n_eff * float(np.mean(z**2))
    if n_total == 0:
        return 1.0, df_model
    kappa = (PRIOR_DF + weighted) / (PRIOR_DF + n_total)
    if kappa <= 1:
        return 1.0, df_model
    return kappa, min(df_model, PRIOR_DF + n_total)


def placebo_did_z(y: np.ndarray, base: np.ndarray, window: int, variance_factor: float,
                  min_pre: int = MIN_PLACEBO_PRE) -> np.ndarray:
    """Standardised DiD effects of one unit at every fake window of ``window`` months in
    its pre-period series ``y``, given the month effects ``base = exp(g_t)``."""
    z = []
    for s in range(min_pre, len(y) - window + 1):
        y_w, b_w = y[s:s + window].sum(), base[s:s + window].sum()
        y_b, b_b = y[:s].sum(), base[:s].sum()
        if y_w <= 0 or y_b <= 0:
            continue
        rate = y_b / b_b
        delta = np.log(y_w / b_w) - np.log(rate)
        var = variance_factor * (1 / (rate * b_w) + 1 / y_b)
        z.append(delta / np.sqrt(var))
    return np.array(z)


def placebo_space_z(controls: np.ndarray, post: np.ndarray, variance_factor: float
                    ) -> np.ndarray:
    """Standardised 2 x 2 DiD effects of each control unit in the claimed window against
    the sum of the other controls (what the window did to comparable areas)."""
    total = controls.sum(axis=1)
    z = []
    for j in range(controls.shape[1]):
        y, rest = controls[:, j], total - controls[:, j]
        y_b, y_a, r_b, r_a = y[~post].sum(), y[post].sum(), rest[~post].sum(), rest[post].sum()
        if min(y_b, y_a, r_b, r_a) <= 0:
            continue
        delta = np.log(y_a / r_a) - np.log(y_b / r_b)
        var = variance_factor * (1 / (y_b / r_b * r_a) + 1 / y_b) + 1 / r_a + 1 / r_b
        z.append(delta / np.sqrt(var))
    return np.array(z)


def _delta(panel: np.ndarray, term: np.ndarray, pre: np.ndarray, serial: bool,
           placebo_window: int = 0) -> tuple[float, float, float, dict]:
    """Fit the panel with one extra term (months x units) and return its log coefficient,
    standard error (treated-aware scale, AR(1), placebo inflation when
    ``placebo_window``), df and diagnostics."""
    keep = panel.sum(axis=1) > 0  # a month with no events anywhere has no information
    panel, term, pre = panel[keep], term[keep], pre[keep]
    n_months, n_units = panel.shape
    X = _panel_design(n_months, n_units, term)
    fit = fit_quasi_poisson(panel.reshape(-1), X)
    pearson = fit.pearson.reshape(n_months, n_units)
    treated_scale = float(pearson[:, 0] @ pearson[:, 0]) / max(n_months - 2, 1)
    scale = max(fit.scale, treated_scale)
    rho, factor = ar1_factor(pearson[pre, 0]) if serial else (0.0, 1.0)
    kappa = 1.0
    df: float = max(n_months - 2, 1)
    z = np.zeros(0)
    if placebo_window:
        base = np.exp(np.r_[0.0, fit.params[n_units:n_units + n_months - 1]])
        z = placebo_did_z(panel[pre, 0], base[pre], placebo_window, scale * factor)
        kappa, _ = placebo_inflation(z, placebo_window, df)
    var = fit.cov[-1, -1] / fit.scale * scale * factor
    info = {"scale": scale, "pooled_scale": fit.scale, "rho": rho, "kappa": kappa,
            "factor": factor, "z_time": z, "df_model": df,
            "mu": fit.mu.reshape(n_months, n_units)}
    return float(fit.params[-1]), float(np.sqrt(var)), df, info


def fit_did(
    treated: np.ndarray, controls: np.ndarray, post: np.ndarray, *, method: str = "did",
    serial: bool = True, placebo: bool = True, level: float = LEVEL,
) -> Estimate:
    """DiD rate ratio of ``treated`` against ``controls`` (months x units) in the window.

    ``method`` names the row (``did``; the displacement ring's check uses ``buffer``).
    """
    post = np.asarray(post, dtype=bool)
    treated = np.asarray(treated, dtype=float)
    if controls.shape[1] < MIN_CONTROLS:
        return unavailable(method, f"{controls.shape[1]} control units (need {MIN_CONTROLS})")
    if treated[~post].sum() == 0:
        return unavailable(method, "no events before the start")
    if treated[post].sum() == 0:
        return Estimate(method, 0.0, note="no events in the window: the rate ratio is 0")
    panel = np.column_stack([treated, controls])
    term = np.zeros_like(panel)
    term[post, 0] = 1.0
    window = int(post.sum())
    coef, se, df, info = _delta(panel, term, ~post, serial,
                                placebo_window=window if placebo else 0)
    kappa_space, kappa = 1.0, 1.0
    if placebo:
        z = placebo_space_z(controls, post, info["scale"] * info["factor"])
        kappa_space, _ = placebo_inflation(z, 1, df)
        kappa, df = pooled_inflation([(info["z_time"], window), (z, 1)], df)
        se *= np.sqrt(kappa)
    rr, lo, hi, p = t_interval(coef, se, df, level)
    expected = float(treated[post].sum() / rr)
    note = (f"quasi-Poisson panel, unit + month fixed effects, {controls.shape[1]} control "
            f"units; dispersion {info['scale']:.2f}, AR(1) rho {info['rho']:.2f}, placebo "
            f"variance factors: in time {info['kappa']:.2f}, in space {kappa_space:.2f}, "
            f"pooled {kappa:.2f}; "
            f"expected {expected:.0f} vs observed {treated[post].sum():.0f} events")
    return Estimate(method, rr, lo, hi, p, note,
                    extra={"log_rr": coef, "se": se, "scale": info["scale"],
                           "kappa_time": info["kappa"], "kappa_space": kappa_space,
                           "kappa": kappa})


def fit_pretrend(
    treated: np.ndarray, controls: np.ndarray, post: np.ndarray, *, serial: bool = True,
    level: float = LEVEL,
) -> Estimate:
    """Rate ratio per year of the treated area's pre-period trend relative to the controls."""
    post = np.asarray(post, dtype=bool)
    pre = ~post
    if controls.shape[1] < MIN_CONTROLS:
        return unavailable("did_pretrend",
                           f"{controls.shape[1]} control units (need {MIN_CONTROLS})")
    panel = np.column_stack([treated, controls])[pre].astype(float)
    if panel[:, 0].sum() == 0:
        return unavailable("did_pretrend", "no events before the start")
    n = panel.shape[0]
    term = np.zeros_like(panel)
    term[:, 0] = (np.arange(n) - (n - 1) / 2) / 12.0
    coef, se, df, info = _delta(panel, term, np.ones(n, bool), serial)
    rr, lo, hi, p = t_interval(coef, se, df, level)
    flagged = bool(np.isfinite(p) and p < PRETREND_ALPHA)
    note = (f"treated vs control trend in the {n} pre-period months: x{rr:.3f} per year; "
            + ("PRE-TRENDS DIFFER (p < 0.05): the DiD assumption of parallel trends is doubtful"
               if flagged else "no evidence that pre-trends differ"))
    return Estimate("did_pretrend", rr, lo, hi, p, note, extra={"flagged": flagged})
