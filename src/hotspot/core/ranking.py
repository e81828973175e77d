"""The definitions that forecasting, publishing, settings and scoring must share exactly:
the rank order of cells, the floor under a predicted count and the default area coverages
(``hotspot.evaluation.metrics`` says why each rule is what it is)."""

from __future__ import annotations

import numpy as np

#: Area coverages at which hit rate, PAI and PEI are reported.
DEFAULT_COVERAGES = (0.01, 0.02, 0.05, 0.10, 0.20)
#: Predictions are floored here before a log is taken (deviance, stacking weights).
DEVIANCE_FLOOR = 1e-6


def rank_cells(expected: np.ndarray, area_m2: np.ndarray, cell_ids: np.ndarray) -> np.ndarray:
    """Cell positions in rank order: highest expected density first, ties by cell id."""
    density = np.asarray(expected, dtype=float) / np.asarray(area_m2, dtype=float)
    return np.lexsort((np.asarray(cell_ids).astype(str), -density))
