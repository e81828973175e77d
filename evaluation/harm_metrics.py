"""Harm-weighted hit rate: the share of the next period's *harm* the top cells capture.

Same ranking and coverage rule as ``evaluation.metrics`` (cells ranked by expected count
per m², ties by cell id; whole cells taken while they fit in the area budget, the next one
in part): only what is captured changes, from crimes to harm (each crime weighted, e.g. by
days of imprisonment, see ``hotspot.features.harm``). A model can have a high count hit rate and a
low harm hit rate if its hotspots are shoplifting and anti-social behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hotspot.evaluation.metrics import captured_share, rank_cells


def harm_hit_rate(
    expected: np.ndarray,
    observed_harm: np.ndarray,
    area_m2: np.ndarray,
    cell_ids: np.ndarray,
    coverages: Sequence[float],
) -> np.ndarray:
    """Share of all observed harm inside the top cells (ranked by ``expected``) covering
    each share of the area; NaN where the period had no harm."""
    order = rank_cells(expected, area_m2, cell_ids)
    return captured_share(order, observed_harm, area_m2, coverages)


def backtest_harm_hit_rates(
    predictions: pd.DataFrame,
    observed_harm: Mapping[str, np.ndarray],
    area_m2: np.ndarray,
    cell_ids: np.ndarray,
    coverages: Sequence[float],
) -> pd.DataFrame:
    """Harm hit rate of every (model, target, target period) of a backtest's predictions
    table: how much harm each ranking captures, whatever target it forecast.

    ``observed_harm`` maps a target period label to the harm per cell in ``cell_ids``
    order. Returns long ``model, target, target_period, coverage, value`` (``target`` only
    when the predictions carry one).
    """
    position = pd.Index(np.asarray(cell_ids).astype(str))
    by = ["model", "target", "target_period"] if "target" in predictions else ["model",
                                                                               "target_period"]
    rows = []
    for key, group in predictions.groupby(by, sort=False):
        period = key[-1]
        if period not in observed_harm:
            continue
        expected = np.zeros(len(position))
        expected[position.get_indexer(group["cell_id"].astype(str))] = group["expected"]
        values = harm_hit_rate(expected, observed_harm[period], area_m2, cell_ids, coverages)
        labels = dict(zip(by, key, strict=True))
        rows += [{**labels, "coverage": float(c), "value": float(v)}
                 for c, v in zip(coverages, values, strict=True)]
    return pd.DataFrame(rows, columns=[*by, "coverage", "value"])
