"""Uncertainty of per-period metrics: percentile bootstrap over held-out periods."""

from __future__ import annotations

import numpy as np
import pandas as pd


def bootstrap_mean_ci(
    values: np.ndarray, n_resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` (NaN ignored) and its percentile-bootstrap confidence interval.

    With fewer than two finite values the interval is undefined (NaN).
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if values.size < 2:
        return mean, np.nan, np.nan
    rng = np.random.default_rng(seed)
    resampled = values[rng.integers(0, values.size, size=(n_resamples, values.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(resampled, [tail, 100 - tail])
    return mean, float(low), float(high)


def summarise(
    metrics: pd.DataFrame, n_resamples: int = 2000, seed: int = 0, level: float = 0.95
) -> pd.DataFrame:
    """Per model, metric and coverage: ``n_periods, mean, ci_low, ci_high``.

    Each group uses the same seed, so summaries are reproducible and groups with the same
    periods resample the same periods (a paired design).
    """
    rows = []
    keys = ["model", "metric", "coverage"]
    for (model, metric, coverage), group in metrics.groupby(keys, dropna=False, sort=False):
        mean, low, high = bootstrap_mean_ci(group["value"].to_numpy(), n_resamples, level, seed)
        rows.append({"model": model, "metric": metric, "coverage": coverage,
                     "n_periods": int(group["value"].notna().sum()),
                     "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=[*keys, "n_periods", "mean", "ci_low", "ci_high"])
