"""Uncertainty of per-period metrics: percentile bootstrap over held-out periods."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspot.evaluation.metrics import box_rows


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
    """Per model, target, metric and coverage: ``n_periods, mean, ci_low, ci_high``.

    Each group uses the same seed, so summaries are reproducible and groups with the same
    periods resample the same periods (a paired design). Rows at the boxes' coverage (box
    hit rate, box PAI and the oracle beside them, :func:`evaluation.metrics.box_rows`)
    have a coverage that varies per period: they form one group per model, target and
    metric, whose ``coverage`` is the mean area share of the boxes. A table without a
    ``target`` column is one target, ``all``.
    """
    keys = ["model", "target", "metric", "coverage"]
    columns = [*keys, "n_periods", "mean", "ci_low", "ci_high"]
    if metrics.empty:
        return pd.DataFrame(columns=columns)
    table = metrics if "target" in metrics.columns else metrics.assign(target="all")
    is_box = box_rows(table)
    # the box group's key: a coverage no setting can have, so it never joins a set one
    table = table.assign(_key=np.where(is_box, -1.0, table["coverage"].astype(float)))
    rows = []
    for (model, target, metric, key), group in table.groupby(
            ["model", "target", "metric", "_key"], dropna=False, sort=False):
        mean, low, high = bootstrap_mean_ci(group["value"].to_numpy(), n_resamples, level, seed)
        # a set coverage is written as given (a mean of equal floats can move its last bit)
        coverage = float(group["coverage"].astype(float).mean()) if key == -1.0 else key
        rows.append({"model": model, "target": target, "metric": metric, "coverage": coverage,
                     "n_periods": int(group["value"].notna().sum()),
                     "mean": mean, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=columns)
