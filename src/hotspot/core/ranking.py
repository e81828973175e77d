"""The definitions that forecasting, publishing and scoring must share exactly: the rank
order of cells, the top-N boxes, and the floor under a predicted count
(``hotspot.evaluation.metrics`` says why each rule is what it is)."""

from __future__ import annotations

import numpy as np

#: Predictions are floored here before a log is taken (deviance, log score, stacking weights).
DEVIANCE_FLOOR = 1e-6


def rank_cells(expected: np.ndarray, area_m2: np.ndarray, cell_ids: np.ndarray) -> np.ndarray:
    """Cell positions in rank order: highest expected density first, ties by cell id."""
    density = np.asarray(expected, dtype=float) / np.asarray(area_m2, dtype=float)
    return np.lexsort((np.asarray(cell_ids).astype(str), -density))


def top_boxes(expected: np.ndarray, area_m2: np.ndarray, cell_ids: np.ndarray,
              boxes: int) -> np.ndarray:
    """Positions of the ``boxes`` top-ranked whole cells (all cells when there are fewer),
    in rank order: the patrol list a forecast publishes and is scored on."""
    return rank_cells(expected, area_m2, cell_ids)[:max(int(boxes), 0)]
