"""Health checks of a nightly run: drift against the baselines, volume anomalies, harm hit rates.

- **drift**: over the backtest's recent held-out months the model does not beat the best
  baseline on PAI at the drift coverage (mean paired difference ≤ 0) or on Poisson
  deviance (mean paired difference ≥ 0), paired by month (``evaluation.compare``); not
  checked when the model is itself a baseline.
- **volume anomaly**: a newly ingested month's total count lies outside the 1st–99th
  percentile band of a negative binomial fitted by moments to the previous (up to) 24
  months (Poisson when they are not over-dispersed), or its robust z-score
  ``(x − median) / (1.4826 · MAD)`` exceeds 3. Needs 6 months of history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from hotspot.core.periods import period_label
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.compare import best_baseline, is_baseline, paired_differences
from hotspot.evaluation.harm_metrics import backtest_harm_hit_rates
from hotspot.features.cube import cube_periods
from hotspot.features.harm import HarmWeights, observed_harm
from hotspot.nightly.records import (
    DriftComparison,
    DriftResult,
    HealthWarning,
    VolumeCheck,
)


def volume_anomalies(
    totals: pd.Series,
    months: Sequence[str],
    *,
    history: int = 24,
    min_history: int = 6,
    band: tuple[float, float] = (0.01, 0.99),
    robust_z: float = 3.0,
) -> list[VolumeCheck]:
    """Check each of ``months`` against the ``history`` months before it in ``totals``
    (index ``YYYY-MM``, total count per month): outside the NB/Poisson percentile band, or
    a robust z-score beyond ``robust_z``, is anomalous."""
    totals = totals.sort_index()
    checks = []
    for month in months:
        if month not in totals.index:
            continue
        before = totals[totals.index < month].iloc[-history:].to_numpy(dtype=float)
        value = float(totals[month])
        row: dict[str, Any] = {"month": month, "total": int(value), "n_history": len(before)}
        if len(before) < min_history:
            checks.append(VolumeCheck(**row, checked=False, anomalous=False,
                                      note=f"fewer than {min_history} months of history"))
            continue
        mean, var = before.mean(), before.var(ddof=1)
        if var > mean > 0:
            r = mean**2 / (var - mean)
            dist, method = stats.nbinom(r, r / (r + mean)), "negative binomial"
        else:
            dist, method = stats.poisson(max(mean, 1e-9)), "poisson"
        low, high = (float(dist.ppf(band[0])), float(dist.ppf(band[1])))
        median = float(np.median(before))
        mad = 1.4826 * float(np.median(np.abs(before - median)))
        z = (value - median) / mad if mad > 0 else (0.0 if value == median else float("inf"))
        outside = value < low or value > high
        checks.append(VolumeCheck(
            **row, checked=True, method=method, mean=round(float(mean), 2), p_low=low,
            p_high=high, band=(float(band[0]), float(band[1])),
            robust_z=round(float(z), 2) if np.isfinite(z) else None,
            outside_band=bool(outside), anomalous=bool(outside or abs(z) > robust_z)))
    return checks


def drift_check(record: BacktestResult, model: str, *, coverage: float = 0.05,
                n_bootstrap: int = 1000, seed: int = 0,
                previous: Mapping[str, bool] | None = None) -> DriftResult:
    """Does ``model`` beat the best baseline over the backtest's months, on PAI at
    ``coverage`` and on Poisson deviance? Paired by month; ``previous`` (metric → beats, the
    last run's :meth:`DriftResult.beating`) says when it *stopped* beating them."""
    if is_baseline(model):
        return DriftResult(checked=False, note=f"{model} is itself a baseline")
    previous = previous or {}
    summary = record.summary_table
    others = summary[summary["model"] != model]
    comparisons, warnings = [], []
    for metric, cov in (("pai", coverage), ("poisson_deviance", None)):
        reference = best_baseline(others, metric, cov)
        diffs = paired_differences(record.metrics, model, reference, n_bootstrap, seed)
        rows = diffs[diffs["metric"] == metric]
        if cov is not None:
            rows = rows[np.isclose(rows["coverage"].astype(float), cov)]
        row = rows.iloc[0]
        beats = bool(row["mean_diff"] > 0) if metric == "pai" else bool(row["mean_diff"] < 0)
        label = f"PAI@{cov:.0%}" if cov else "Poisson deviance"
        entry = DriftComparison(
            metric=metric, label=label, coverage=cov, reference=reference,
            n_periods=int(row["n_periods"]), mean_diff=float(row["mean_diff"]),
            ci_low=float(row["ci_low"]), ci_high=float(row["ci_high"]), beats=beats,
            significantly_better=bool(row["better"]))
        comparisons.append(entry)
        if not beats:
            when = "stopped beating" if previous.get(metric) else "does not beat"
            warnings.append(HealthWarning(
                kind="drift", metric=metric,
                message=f"{model} {when} the best baseline {reference} on {label} over the "
                        f"last {entry.n_periods} month(s): mean difference "
                        f"{entry.mean_diff:+.3f} [{entry.ci_low:+.3f}, {entry.ci_high:+.3f}]"))
    return DriftResult(checked=True, comparisons=tuple(comparisons), warnings=tuple(warnings))


def harm_hit_rates(record: BacktestResult, cube: xr.Dataset, weights: HarmWeights
                   ) -> pd.DataFrame:
    """Mean harm-weighted hit rate per model and coverage over the backtest months."""
    harm = observed_harm(cube, weights).values
    labels = [period_label(p) for p in cube_periods(cube)]
    by_target = {label: harm[i] for i, label in enumerate(labels)}
    table = backtest_harm_hit_rates(record.predictions, by_target, cube["area_m2"].values,
                                    cube["cell"].values, record.settings["coverages"])
    return table.groupby(["model", "coverage"], sort=False)["value"].mean().reset_index()


def volume_warnings(volume: Sequence[VolumeCheck], robust_z: float) -> list[HealthWarning]:
    """One warning per anomalous month of ``volume_anomalies``."""
    warnings = []
    for check in volume:
        if not check.anomalous:
            continue
        band = check.band or (0.0, 1.0)
        message = (f"{check.month} has {check.total} crimes: outside the "
                   f"{band[0]:.0%}-{band[1]:.0%} band [{check.p_low:.0f}, {check.p_high:.0f}] "
                   f"of a {check.method} fit to the previous {check.n_history} months"
                   if check.outside_band else
                   f"{check.month} has {check.total} crimes: robust z-score "
                   f"{check.robust_z} beyond ±{robust_z:g}")
        warnings.append(HealthWarning(kind="volume_anomaly", month=check.month,
                                      message=message))
    return warnings
