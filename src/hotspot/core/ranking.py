"""The two definitions that forecasting, publishing and scoring must share exactly: the
rank order of cells and the floor under a predicted count (``hotspot.evaluation.metrics``
says why each rule is what it is)."""

from __future__ import annotations

import numpy as np

#: Predictions are floored here before a log is taken (deviance, stacking weights).
DEVIANCE_FLOOR = 1e-6


def rank_cells(expected: np.ndarray, area_m2: np.ndarray, cell_ids: np.ndarray) -> np.ndarray:
    """Cell positions in rank order: highest expected density first, ties by cell id."""
    density = np.asarray(expected, dtype=float) / np.asarray(area_m2, dtype=float)
    return np.lexsort((np.asarray(cell_ids).astype(str), -density))
