"""Forecast metrics of the field, defined once.

For a forecast that ranks cells and an area coverage ``a`` (a fraction of the study area):

- **hit rate** ``h(a)``: share of the period's crimes inside the top-ranked cells covering
  ``a`` of the area;
- **PAI** ``= h(a) / a`` (Chainey, Tompson & Uhlig 2008);
- **PEI** ``= h(a) / h*(a)``, ``h*`` the best hit rate any choice of cells covering ``a``
  could have had (Hunt 2016);
- **Poisson deviance**: mean over cells of ``2 [y log(y/μ) − (y − μ)]``.

Conventions, chosen so every number is reproducible and no ranking is favoured:

- Cells are ranked by expected count per square metre (clipped edge cells are smaller,
  so density, not count, is what fills an area budget best). **Ties are broken by
  cell id in ascending order** — deterministic, and independent of the model.
- Coverage is met exactly: cells are taken whole in rank order while they fit in the
  budget ``a × total area``; the next cell is taken in part, counting the same fraction of
  its crimes as of its area. With this rule the best possible choice ``h*`` is exactly the
  greedy choice by observed density, so PEI is never above 1.
- A period with no crimes has undefined hit rate, PAI and PEI (NaN, not 0).
- Deviance floors predictions at ``DEVIANCE_FLOOR`` so a zero forecast where crime
  happened costs a large but finite penalty; the floor is part of the metric's definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hotspot.core.coverages import DEFAULT_COVERAGES
from hotspot.core.ranking import DEVIANCE_FLOOR, rank_cells

__all__ = ["DEFAULT_COVERAGES", "DEVIANCE_FLOOR", "captured_share", "coverage_metrics",
           "poisson_deviance", "rank_cells", "score_forecast"]


def captured_share(
    order: np.ndarray, observed: np.ndarray, area_m2: np.ndarray, coverages: Sequence[float]
) -> np.ndarray:
    """Share of all observed crimes captured by cells taken in ``order`` up to each coverage."""
    observed = np.asarray(observed, dtype=float)[order]
    area = np.asarray(area_m2, dtype=float)[order]
    total = observed.sum()
    if total <= 0:
        return np.full(len(coverages), np.nan)
    budget = np.asarray(coverages, dtype=float) * area.sum()
    cum_area = np.concatenate([[0.0], np.cumsum(area)])
    cum_count = np.concatenate([[0.0], np.cumsum(observed)])
    # number of whole cells that fit, then the fraction of the next one
    n_whole = np.searchsorted(cum_area, budget, side="right") - 1
    n_whole = np.minimum(n_whole, len(area))
    leftover = budget - cum_area[n_whole]
    partial_idx = np.minimum(n_whole, len(area) - 1)
    has_partial = n_whole < len(area)
    fraction = np.where(has_partial, leftover / area[partial_idx], 0.0)
    captured = cum_count[n_whole] + np.where(has_partial, fraction * observed[partial_idx], 0.0)
    return captured / total


def coverage_metrics(
    expected: np.ndarray,
    observed: np.ndarray,
    area_m2: np.ndarray,
    cell_ids: np.ndarray,
    coverages: Sequence[float],
) -> pd.DataFrame:
    """Hit rate, PAI and PEI at each coverage: columns ``metric, coverage, value``."""
    coverages = np.asarray(coverages, dtype=float)
    hit = captured_share(rank_cells(expected, area_m2, cell_ids), observed, area_m2, coverages)
    best = captured_share(rank_cells(observed, area_m2, cell_ids), observed, area_m2, coverages)
    with np.errstate(invalid="ignore", divide="ignore"):
        pei = np.where(best > 0, hit / best, np.nan)
    return pd.DataFrame(
        {
            "metric": np.repeat(["hit_rate", "pai", "pei"], len(coverages)),
            "coverage": np.tile(coverages, 3),
            "value": np.concatenate([hit, hit / coverages, pei]),
        }
    )


def poisson_deviance(expected: np.ndarray, observed: np.ndarray) -> float:
    """Mean Poisson deviance per cell, predictions floored at ``DEVIANCE_FLOOR``."""
    mu = np.maximum(np.asarray(expected, dtype=float), DEVIANCE_FLOOR)
    y = np.asarray(observed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_log = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(np.mean(2.0 * (y_log - (y - mu))))


def score_forecast(
    expected: np.ndarray,
    observed: np.ndarray,
    area_m2: np.ndarray,
    cell_ids: np.ndarray,
    coverages: Sequence[float],
) -> pd.DataFrame:
    """Every metric for one forecast period: columns ``metric, coverage, value``.

    ``coverage`` is NaN for metrics that do not depend on it (deviance).
    """
    table = coverage_metrics(expected, observed, area_m2, cell_ids, coverages)
    deviance = pd.DataFrame(
        {"metric": ["poisson_deviance"], "coverage": [np.nan],
         "value": [poisson_deviance(expected, observed)]}
    )
    return pd.concat([table, deviance], ignore_index=True)
