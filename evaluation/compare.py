"""Paired comparisons of models scored on the same held-out periods.

Differences are taken period by period (model minus reference) and their mean gets a
percentile-bootstrap CI over periods, so the period-to-period swings that both models
share do not widen the interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspot.evaluation.bootstrap import bootstrap_mean_ci
from hotspot.models.registry import MODELS, model_tag

#: Metrics where a larger value is better; for the others (deviance) smaller is better.
HIGHER_IS_BETTER = {"hit_rate": True, "pai": True, "pei": True, "poisson_deviance": False}


def _wide(metrics: pd.DataFrame) -> pd.DataFrame:
    keyed = metrics.assign(coverage=metrics["coverage"].fillna(-1.0))
    return keyed.pivot_table(index=["metric", "coverage", "target_period"], columns="model",
                             values="value", aggfunc="first")


def paired_differences(
    metrics: pd.DataFrame, model: str, reference: str, n_bootstrap: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Per metric and coverage: mean of ``model − reference`` over shared periods, with CI.

    Columns ``metric, coverage, model, reference, n_periods, mean_diff, ci_low, ci_high,
    better`` — ``better`` is True when the whole CI lies on the model's better side.
    """
    wide = _wide(metrics)
    for name in (model, reference):
        if name not in wide.columns:
            raise KeyError(f"model {name!r} is not in the metrics table")
    rows = []
    for (metric, coverage), group in wide.groupby(level=["metric", "coverage"], sort=False):
        diff = (group[model] - group[reference]).to_numpy(dtype=float)
        mean, low, high = bootstrap_mean_ci(diff, n_bootstrap, seed=seed)
        sign = 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0
        rows.append({
            "metric": metric, "coverage": np.nan if coverage == -1.0 else coverage,
            "model": model, "reference": reference,
            "n_periods": int(np.isfinite(diff).sum()), "mean_diff": mean,
            "ci_low": low, "ci_high": high,
            "better": bool(np.isfinite(low) and min(sign * low, sign * high) > 0),
        })
    return pd.DataFrame(rows)


def model_name(label: str) -> str:
    """The registered model behind a results label: ``glm[weather]`` → ``glm`` (ablation
    variants and parameter sets are written as ``NAME[...]``)."""
    return label.partition("[")[0]


def is_baseline(label: str) -> bool:
    """Whether a results label is a model tagged ``baseline`` (any other label, a model this
    installation does not know included, is not)."""
    name = model_name(label)
    return name in MODELS and model_tag(name, "baseline")


def best_baseline(summary: pd.DataFrame, metric: str, coverage: float | None = None) -> str:
    """The baseline (a model tagged ``baseline``) with the best mean on ``metric`` (at
    ``coverage``)."""
    baselines = [label for label in summary["model"].unique() if is_baseline(str(label))]
    rows = summary[summary["model"].isin(baselines) & (summary["metric"] == metric)]
    if coverage is not None:
        rows = rows[np.isclose(rows["coverage"].astype(float), coverage)]
    if rows.empty:
        raise KeyError(f"no baseline scored on {metric}")
    ordered = rows.sort_values("mean", ascending=not HIGHER_IS_BETTER.get(metric, True))
    return str(ordered["model"].iloc[0])
