"""Stacked difference in differences for a staggered rollout (Cengiz, Dube, Lindner and
Zipperer 2019), fitted as Poisson regressions with pyfixest (no I/O here).

Why stacked: a two-way fixed-effects DiD on a staggered rollout compares late adopters with
units treated earlier, whose effect is already in their counts, and can even flip the
sign of the estimate. Stacking builds one sub-panel per *cohort* (units starting the
same month) over its own window ``start - pre_months .. last treated month``, with only
*clean* controls: never-treated units and units whose own start comes after the window.
Each stack gets its own unit and month fixed effects (``unit x stack``, ``month x stack``),
so no comparison ever crosses cohorts.

* cohort effect: ``y ~ d | unit + month`` on its stack (``d`` = treated unit in a
  treated month), a rate ratio ``exp(beta)``;
* overall effect: ``y ~ d | unit^stack + month^stack`` on all stacks together;
* event study: ``y ~ i(rel, treated, ref=-1) | unit^stack + month^stack``, effects by
  months since the start.

Inference: heteroskedasticity-robust (Poisson sandwich) standard errors alone ignore the
serial correlation of a unit's months and, with one or a few treated units, say little.
So every standard error is scaled by placebos in space (in the spirit of Conley and Taber
2011): each clean control in turn (cohorts) or one random clean control per stack
(overall, event study, ``n_placebo`` seeded draws) is treated as if it had started, and
the root mean square of the placebo t-statistics, never below 1, multiplies the
standard error. 95 % intervals are ``beta +- 1.96 * scale * se``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))
#: A stack needs at least this many clean controls (placebos need two or more).
MIN_CLEAN_CONTROLS = 3


@dataclass(frozen=True)
class Fit:
    """One coefficient: log rate ratio, its robust standard error and the placebo scale."""

    log_rr: float
    se: float
    scale: float = 1.0
    n_placebos: int = 0

    @property
    def scaled_se(self) -> float:
        return self.se * self.scale

    def row(self) -> dict[str, float]:
        lo, hi = self.log_rr - Z95 * self.scaled_se, self.log_rr + Z95 * self.scaled_se
        z = self.log_rr / self.scaled_se if self.scaled_se > 0 else np.nan
        return {"estimate": float(np.exp(self.log_rr)), "ci_low": float(np.exp(lo)),
                "ci_high": float(np.exp(hi)), "log_rr": self.log_rr,
                "se": self.scaled_se, "se_robust": self.se, "placebo_scale": self.scale,
                "n_placebos": self.n_placebos,
                "p_value": float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else np.nan}


def build_stacks(counts: pd.DataFrame, rollout: pd.DataFrame, never_treated: list[str], *,
                 pre_months: int, end: pd.Period) -> pd.DataFrame:
    """The stacked panel: one row per stack, unit and month in the stack's window.

    Parameters
    ----------
    counts
        Monthly counts, index a monthly ``PeriodIndex``, one column per unit (every treated
        unit and every never-treated candidate).
    rollout
        ``unit, start, end`` (:func:`~hotspot.evaluation.claims.rollout.read_rollout`).
    never_treated
        Columns of ``counts`` that are controls in every stack.
    pre_months
        Months before each cohort's start in its window (fewer where the data start later).
    end
        Last month any unit counts as treated when its row has no end.

    Columns: ``stack`` (the cohort's start, ``YYYY-MM``), ``unit``, ``month``, ``y``,
    ``treated`` (the unit is in this cohort), ``post`` (month >= start), ``d``
    (treated and post), ``rel`` (months since the start, treated units; -1 otherwise).
    """
    months = counts.index
    starts = rollout.set_index("unit")["start"]
    ends = rollout.set_index("unit")["end"].where(rollout.set_index("unit")["end"].notna(),
                                                  end)
    pieces = []
    for start in sorted(rollout["start"].unique()):
        cohort = rollout.loc[rollout["start"] == start, "unit"].tolist()
        last = max(min(ends[u], end) for u in cohort)
        first = max(months[0], start - pre_months)
        window = months[(months >= first) & (months <= last)]
        later = [u for u in starts.index if starts[u] > last]
        for unit in [*cohort, *never_treated, *later]:
            y = counts.loc[window, unit].to_numpy(dtype=float)
            treated = unit in cohort
            rel = np.asarray([(m - start).n for m in window])
            keep = ~(treated & (window > ends[unit])) if treated else np.ones(len(window), bool)
            pieces.append(pd.DataFrame({
                "stack": str(start), "unit": unit, "month": window.astype(str), "y": y,
                "treated": treated, "post": window >= start,
                "rel": rel if treated else -1}).loc[keep])
    panel = pd.concat(pieces, ignore_index=True)
    panel["d"] = (panel["treated"] & panel["post"]).astype(float)
    panel["unit_stack"] = panel["unit"] + "@" + panel["stack"]
    panel["month_stack"] = panel["month"] + "@" + panel["stack"]
    return panel


def _fit(formula: str, data: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and robust standard errors of ``names`` (NaN when not estimable)."""
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = pf.fepois(formula, data=data, vcov="hetero")
        except Exception:  # separation or a singular design: this fit is not estimable
            return np.full(len(names), np.nan), np.full(len(names), np.nan)
    coef, se = model.coef(), model.se()
    return (np.array([coef.get(n, np.nan) for n in names], dtype=float),
            np.array([se.get(n, np.nan) for n in names], dtype=float))


def _scale(t: list[float]) -> tuple[float, int]:
    t_arr = np.asarray([v for v in t if np.isfinite(v)])
    if t_arr.size < 2:
        return np.nan, int(t_arr.size)
    return max(1.0, float(np.sqrt(np.mean(t_arr ** 2)))), int(t_arr.size)


def _pseudo(stack: pd.DataFrame, unit: str) -> pd.DataFrame:
    """``stack`` without its treated units and with ``unit`` as if it had started."""
    placebo = stack[~stack["treated"]].copy()
    placebo["treated"] = placebo["unit"] == unit
    placebo["d"] = (placebo["treated"] & placebo["post"]).astype(float)
    start = pd.Period(str(placebo["stack"].iat[0]), freq="M")
    months = pd.PeriodIndex(placebo["month"], freq="M")
    placebo["rel"] = np.where(placebo["treated"], (months - start).map(lambda d: d.n), -1)
    return placebo


def fit_cohorts(panel: pd.DataFrame) -> pd.DataFrame:
    """One row per cohort: its units, clean controls, rate ratio and placebo-scaled CI."""
    rows = []
    for stack, part in panel.groupby("stack", sort=True):
        controls = sorted(part.loc[~part["treated"], "unit"].unique())
        beta, se = _fit("y ~ d | unit + month", part, ["d"])
        t = []
        for unit in controls:
            b, s = _fit("y ~ d | unit + month", _pseudo(part, unit), ["d"])
            t.append(float(b[0] / s[0]) if s[0] > 0 else np.nan)
        scale, n = _scale(t)
        fit = Fit(float(beta[0]), float(se[0]), scale, n)
        rows.append({"cohort": stack,
                     "units": ";".join(sorted(part.loc[part["treated"], "unit"].unique())),
                     "n_controls": len(controls),
                     "months": f"{part['month'].min()}..{part['month'].max()}", **fit.row()})
    return pd.DataFrame(rows)


def _random_placebo(panel: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    parts = []
    for _, part in panel.groupby("stack", sort=True):
        controls = sorted(part.loc[~part["treated"], "unit"].unique())
        parts.append(_pseudo(part, controls[int(rng.integers(len(controls)))]))
    return pd.concat(parts, ignore_index=True)


OVERALL = "y ~ d | unit_stack + month_stack"
EVENT = "y ~ i(rel, treated, ref=-1) | unit_stack + month_stack"


def _event_rels(panel: pd.DataFrame) -> list[int]:
    """Months since the start the event study estimates (all but the reference -1)."""
    return sorted(int(r) for r in panel.loc[panel["treated"] > 0, "rel"].unique() if r != -1)


def fit_overall_and_events(panel: pd.DataFrame, *, n_placebo: int = 40,
                           seed: int = 0) -> tuple[Fit, pd.DataFrame]:
    """The pooled effect and the event study (effects by months since start), their
    standard errors scaled by ``n_placebo`` seeded random placebo assignments."""
    panel = panel.assign(treated=panel["treated"].astype(float))
    beta, se = _fit(OVERALL, panel, ["d"])
    rels = _event_rels(panel)
    eb, es = _event_fit(panel, rels)
    rng = np.random.default_rng(seed)
    t_overall, t_event = [], []
    for _ in range(n_placebo):
        placebo = _random_placebo(panel.assign(treated=panel["treated"] > 0), rng)
        placebo["treated"] = placebo["treated"].astype(float)
        b, s = _fit(OVERALL, placebo, ["d"])
        t_overall.append(float(b[0] / s[0]) if s[0] > 0 else np.nan)
        pb, ps = _event_fit(placebo, rels)
        t_event.append(np.where(ps > 0, pb / ps, np.nan))
    scale, n = _scale(t_overall)
    overall = Fit(float(beta[0]), float(se[0]), scale, n)
    t_ev = np.asarray(t_event) if t_event else np.zeros((0, len(rels)))
    rows = []
    n_treated = panel[panel["treated"] > 0].groupby("rel")["unit_stack"].nunique()
    for k, rel in enumerate(rels):
        sc, m = _scale(list(t_ev[:, k])) if len(t_ev) else (np.nan, 0)
        rows.append({"months_since_start": rel, "n_treated_units": int(n_treated.get(rel, 0)),
                     **Fit(float(eb[k]), float(es[k]), sc, m).row()})
    reference = {"months_since_start": -1, "n_treated_units": int(n_treated.get(-1, 0)),
                 "estimate": 1.0, "ci_low": 1.0, "ci_high": 1.0, "log_rr": 0.0, "se": 0.0,
                 "se_robust": 0.0, "placebo_scale": np.nan, "n_placebos": 0,
                 "p_value": np.nan}
    events = pd.DataFrame([*rows, reference]).sort_values("months_since_start")
    return overall, events.reset_index(drop=True)


def _event_fit(panel: pd.DataFrame, rels: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Event-study coefficients and robust SEs for ``rels`` (pyfixest's labels parsed)."""
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = pf.fepois(EVENT, data=panel, vcov="hetero")
        except Exception:
            return np.full(len(rels), np.nan), np.full(len(rels), np.nan)
    coef, se = model.coef(), model.se()
    by_rel = {_rel_of(k): (coef[k], se[k]) for k in coef.index}
    return (np.array([by_rel.get(r, (np.nan, np.nan))[0] for r in rels], dtype=float),
            np.array([by_rel.get(r, (np.nan, np.nan))[1] for r in rels], dtype=float))


def _rel_of(label: str) -> int | None:
    """The relative month in a pyfixest interaction label such as ``rel::3:treated``."""
    for token in label.replace("[", ":").replace("]", ":").split(":"):
        token = token.removeprefix("T.")
        if token.lstrip("-").isdigit():
            return int(token)
    return None
