"""How much a backtest's verdict depends on where the grid's squares happen to lie.

A hotspot score is measured on one placement of the squares; the same crimes on a grid
shifted by half a cell can rank models differently. ``backtest --offsets 4`` scores every
model on the grid as built and on grids shifted by half a cell in x, in y and in both
(``features.grid.grid_offsets``); this module turns those runs into two tables:

- ``offsets.csv`` (:data:`OFFSET_COLUMNS`): per model, target, offset, metric and
  coverage, the mean over the held-out periods;
- ``offset_spread.csv`` (:data:`SPREAD_COLUMNS`): per model, target, metric and coverage,
  the lowest and highest of those means, their spread (max − min), and whether the model's
  rank among the models changes from one offset to another — a ranking that flips with
  the grid's placement is not one to act on.

Box scores (top-N box hit rate and PAI, and the oracle at the boxes' share) have no set
coverage: their rows are grouped together, and their ``coverage`` is the boxes' mean area
share at that offset.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from hotspot.evaluation.compare import HIGHER_IS_BETTER, keyed_by_coverage

OFFSET_COLUMNS = ["model", "target", "offset_x", "offset_y", "metric", "coverage", "mean"]
SPREAD_COLUMNS = ["model", "target", "metric", "coverage", "n_offsets", "min", "max",
                  "spread", "rank_changes"]


def offset_tables(metrics_by_offset: Mapping[tuple[float, float], pd.DataFrame]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``offsets.csv`` and ``offset_spread.csv`` tables from each offset's long metrics
    table (``model, target, origin, target_period, metric, coverage, value``).

    Ranks are taken among the models of one target, metric and coverage at each offset
    (1 = best; higher is better except for deviance; NaN means are not ranked), and
    ``rank_changes`` says whether a model's rank is not the same at every offset.
    """
    means = _keyed_means(metrics_by_offset)
    if means.empty:
        return (pd.DataFrame(columns=OFFSET_COLUMNS), pd.DataFrame(columns=SPREAD_COLUMNS))
    sign = means["metric"].map(lambda m: 1.0 if HIGHER_IS_BETTER.get(m, True) else -1.0)
    means["_rank"] = (means.assign(_score=sign * means["mean"])
                      .groupby(["target", "metric", "_key", "offset_x", "offset_y"])["_score"]
                      .rank(ascending=False, method="min"))
    grouped = means.groupby(["model", "target", "metric", "_key"], sort=False)
    spread = grouped.agg(coverage=("coverage", "mean"), n_offsets=("mean", "size"),
                         min=("mean", "min"), max=("mean", "max"),
                         rank_changes=("_rank", lambda r: r.dropna().nunique() > 1))
    spread = spread.reset_index()
    spread["spread"] = spread["max"] - spread["min"]
    spread["rank_changes"] = spread["rank_changes"].astype(bool)
    return means[OFFSET_COLUMNS], spread[SPREAD_COLUMNS]


def _keyed_means(metrics_by_offset: Mapping[tuple[float, float], pd.DataFrame]
                 ) -> pd.DataFrame:
    """Means over periods per offset, model, target, metric and coverage key (the set
    coverage, or one key for the box rows and the scores without a coverage)."""
    frames = []
    for (ox, oy), metrics in metrics_by_offset.items():
        table = keyed_by_coverage(metrics).rename(columns={"_coverage": "_key"})
        keyed = table.assign(value=pd.to_numeric(table["value"], errors="coerce"),
                             coverage=table["coverage"].astype(float))
        means = (keyed.groupby(["model", "target", "metric", "_key"], sort=False)
                 .agg(coverage=("coverage", "mean"), mean=("value", "mean")).reset_index())
        frames.append(means.assign(offset_x=float(ox), offset_y=float(oy)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
