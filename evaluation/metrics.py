"""Forecast metrics of the field, defined once.

For a forecast that ranks cells and an area coverage ``a`` (a fraction of the study area):

- **hit rate** ``h(a)``: share of the period's crimes inside the top-ranked cells covering
  ``a`` of the area;
- **PAI** ``= h(a) / a`` (Chainey, Tompson & Uhlig 2008);
- **PEI** ``= h(a) / h*(a)``, ``h*`` the best hit rate any choice of cells covering ``a``
  could have had (Hunt 2016); ``h*`` is reported too, as ``oracle_hit_rate``;
- **box hit rate** and **box PAI**: the same two for the top ``N`` ranked cells
  (``boxes``, default 20), taken whole — what a force patrols is a list of boxes, not an
  area share. Their ``coverage`` column is the boxes' share of the area, so it varies from
  forecast to forecast (a model whose boxes are small clipped cells covers less);
- **oracle hit rate at the boxes' coverage**: one more ``oracle_hit_rate`` row, at the
  boxes' area share: the hit rate of cells ranked by *observed* density covering the
  **same area share** as the model's boxes, with the partial-cell rule below. It is the
  ceiling the box hit rate is measured against (never below it: a whole-cell choice is one
  of the choices the oracle considers);
- **log score**: mean over cells of the Poisson log probability
  ``y log μ − μ − lgamma(y + 1)`` (higher is better). For harm targets ``y`` is not an
  integer and the same formula is a quasi-likelihood (it still ranks forecasts by how well
  their means fit, but it is no longer a log probability);
- **Poisson deviance**: mean over cells of ``2 [y log(y/μ) − (y − μ)]``.

Conventions, chosen so every number is reproducible and no ranking is favoured:

- **Units.** The cells scored are the grid's units. None is smaller than a quarter of a
  full cell: at grid build, boundary slivers are merged into the neighbouring cell they
  share most edge with (their events kept, their area added), so a tiny sliver with one
  crime cannot top a density ranking or inflate PAI.
- Cells are ranked by expected count per square metre (clipped edge cells are smaller,
  so density, not count, is what fills an area budget best). **Ties are broken by
  cell id in ascending order** — deterministic, and independent of the model.
- Coverage is met exactly: cells are taken whole in rank order while they fit in the
  budget ``a × total area``; the next cell is taken in part, counting the same fraction of
  its crimes as of its area. With this rule the best possible choice ``h*`` is exactly the
  greedy choice by observed density, so PEI is never above 1.
- **Boxes** are the first ``N`` cells of the same ranking (all cells when there are fewer),
  always whole.
- A period with no crimes has undefined hit rates, PAI, PEI and oracle (NaN, not 0); the
  log score and deviance are still defined.
- Deviance and log score floor predictions at ``DEVIANCE_FLOOR`` so a zero forecast where
  crime happened costs a large but finite penalty; the floor is part of the definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import gammaln

from hotspot.core.coverages import DEFAULT_BOXES, DEFAULT_COVERAGES
from hotspot.core.errors import ConfigError
from hotspot.core.ranking import DEVIANCE_FLOOR, rank_cells, top_boxes

__all__ = ["BOX_METRICS", "DEFAULT_BOXES", "DEFAULT_COVERAGES", "DEVIANCE_FLOOR", "box_rows",
           "box_scores", "captured_share", "check_boxes", "coverage_metrics", "log_score",
           "poisson_deviance", "rank_cells", "score_forecast"]

#: Metrics whose coverage is the boxes' area share (varying per forecast), not a setting.
BOX_METRICS = ("box_hit_rate", "box_pai")


def check_boxes(boxes: int) -> int:
    """``boxes`` as an int, or ``ConfigError`` when it is not a whole number ≥ 1."""
    try:
        whole = not isinstance(boxes, bool) and float(boxes).is_integer() and boxes >= 1
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise ConfigError(f"--boxes must be a whole number of cells, at least 1, not {boxes!r}")
    return int(boxes)


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
    return np.minimum(captured / total, 1.0)  # rounding of cumulative sums must not pass 1


def coverage_metrics(
    expected: np.ndarray,
    observed: np.ndarray,
    area_m2: np.ndarray,
    cell_ids: np.ndarray,
    coverages: Sequence[float],
) -> pd.DataFrame:
    """Hit rate, PAI, PEI and oracle hit rate at each coverage: ``metric, coverage, value``."""
    coverages = np.asarray(coverages, dtype=float)
    hit = captured_share(rank_cells(expected, area_m2, cell_ids), observed, area_m2, coverages)
    best = captured_share(rank_cells(observed, area_m2, cell_ids), observed, area_m2, coverages)
    with np.errstate(invalid="ignore", divide="ignore"):
        pei = np.where(best > 0, hit / best, np.nan)
    return pd.DataFrame(
        {
            "metric": np.repeat(["hit_rate", "pai", "pei", "oracle_hit_rate"], len(coverages)),
            "coverage": np.tile(coverages, 4),
            "value": np.concatenate([hit, hit / coverages, pei, best]),
        }
    )


def box_scores(
    expected: np.ndarray,
    observed: np.ndarray,
    area_m2: np.ndarray,
    cell_ids: np.ndarray,
    boxes: int = DEFAULT_BOXES,
) -> tuple[float, float, float, float]:
    """``(area share, box hit rate, box PAI, oracle hit rate at that share)`` of the top
    ``boxes`` cells; the three rates are NaN for a period without crimes."""
    area = np.asarray(area_m2, dtype=float)
    y = np.asarray(observed, dtype=float)
    top = top_boxes(expected, area, cell_ids, check_boxes(boxes))
    share = float(area[top].sum() / area.sum())
    total = y.sum()
    if total <= 0:
        return share, np.nan, np.nan, np.nan
    hit = min(float(y[top].sum() / total), 1.0)
    oracle = float(captured_share(rank_cells(y, area, cell_ids), y, area, [share])[0])
    # the whole-cell choice is one the oracle considers: equal up to rounding at most
    return share, hit, hit / share, max(oracle, hit)


def log_score(expected: np.ndarray, observed: np.ndarray) -> float:
    """Mean Poisson log probability per cell, predictions floored at ``DEVIANCE_FLOOR``."""
    mu = np.maximum(np.asarray(expected, dtype=float), DEVIANCE_FLOOR)
    y = np.asarray(observed, dtype=float)
    return float(np.mean(y * np.log(mu) - mu - gammaln(y + 1.0)))


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
    *,
    boxes: int = DEFAULT_BOXES,
) -> pd.DataFrame:
    """Every metric for one forecast period: columns ``metric, coverage, value``.

    Rows: hit rate, PAI, PEI and oracle hit rate at each coverage; the oracle hit rate at
    the boxes' area share (always after the per-coverage ones, see :func:`box_rows`); box
    hit rate and box PAI (coverage = the boxes' area share); log score and deviance
    (coverage NaN: they do not depend on it).
    """
    table = coverage_metrics(expected, observed, area_m2, cell_ids, coverages)
    share, hit, pai, oracle = box_scores(expected, observed, area_m2, cell_ids, boxes)
    rest = pd.DataFrame({
        "metric": ["oracle_hit_rate", *BOX_METRICS, "log_score", "poisson_deviance"],
        "coverage": [share, share, share, np.nan, np.nan],
        "value": [oracle, hit, pai, log_score(expected, observed),
                  poisson_deviance(expected, observed)],
    })
    return pd.concat([table, rest], ignore_index=True)


def box_rows(metrics: pd.DataFrame) -> np.ndarray:
    """Which rows of a long metrics table are at the boxes' coverage: the box metrics, and
    per forecast the oracle row at the same coverage as its box hit rate (the last such
    ``oracle_hit_rate`` row, as :func:`score_forecast` writes it last: when the boxes'
    share equals a set coverage both rows hold the same value).

    A forecast is identified by whichever of ``cube, model, param_set, target, origin,
    target_period`` the table has. Tables without box rows give all False.
    """
    is_box = metrics["metric"].isin(BOX_METRICS).to_numpy()
    keys = [c for c in ("cube", "model", "param_set", "target", "origin", "target_period")
            if c in metrics.columns]
    box = metrics.loc[metrics["metric"] == "box_hit_rate", [*keys, "coverage"]]
    if box.empty or not keys:
        return is_box
    oracle = metrics.loc[metrics["metric"] == "oracle_hit_rate", [*keys, "coverage"]]
    oracle = oracle.assign(_position=np.flatnonzero(metrics["metric"] == "oracle_hit_rate"))
    joined = oracle.merge(box.rename(columns={"coverage": "box_coverage"}), on=keys,
                          how="inner")
    same = joined[np.isclose(joined["coverage"].astype(float),
                             joined["box_coverage"].astype(float), rtol=1e-9, atol=0.0)]
    last = same.sort_values("_position").groupby(keys, sort=False, dropna=False).tail(1)
    mask = is_box.copy()
    mask[last["_position"].to_numpy(dtype=int)] = True
    return mask
