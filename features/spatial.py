"""Neighbour structures on a cube's cells, shared by the features and the models.

All helpers take the per-cell coordinates a cube carries (``ix, iy`` grid indices,
``x, y`` cell-centre metres) and return ``scipy.sparse`` matrices ``W`` of shape
``(n_cells, n_cells)`` in cube order, so a spatial lag of a ``(time, cell)`` array ``Y``
is ``Y @ W.T`` (row ``c`` of ``W`` holds the weights cell ``c`` gives to the others).
Nothing here loops over cells: neighbours come from vectorised look-ups or a k-d tree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import xarray as xr
from scipy.spatial import cKDTree

#: The eight queen moves (rook moves plus diagonals).
QUEEN_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def cell_coords(cube: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``ix, iy`` (int) and ``x, y`` (float, metres) of every cell, in cube order."""
    return (cube["ix"].values.astype(np.int64), cube["iy"].values.astype(np.int64),
            cube["x"].values.astype(float), cube["y"].values.astype(float))


def queen_adjacency(ix: np.ndarray, iy: np.ndarray) -> sp.csr_matrix:
    """Binary queen-contiguity matrix (1 where two cells touch at an edge or corner).

    Cells missing from the grid (outside the clipped area) simply have no entry, so edge
    cells have fewer than eight neighbours. The diagonal is zero.
    """
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    n = ix.size
    width = int(ix.max() - ix.min()) + 3  # one spare column each side: no wrap-around
    key = (iy - iy.min() + 1) * width + (ix - ix.min() + 1)
    order = np.argsort(key)
    sorted_key = key[order]
    rows, cols = [], []
    for dx, dy in QUEEN_OFFSETS:  # eight vectorised look-ups, not a loop over cells
        target = key + dy * width + dx
        pos = np.clip(np.searchsorted(sorted_key, target), 0, n - 1)
        found = sorted_key[pos] == target
        rows.append(np.flatnonzero(found))
        cols.append(order[pos[found]])
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(r.size), (r, c)), shape=(n, n))


def distance_weights(
    x: np.ndarray,
    y: np.ndarray,
    radius_m: float,
    weight: Callable[[np.ndarray], np.ndarray],
    include_self: bool = True,
) -> sp.csr_matrix:
    """Sparse weights ``weight(d)`` for every pair of cell centres at distance ``d <= radius_m``.

    ``weight`` maps an array of distances (metres) to weights; pairs further apart than
    ``radius_m`` get none. With ``include_self`` the diagonal holds ``weight(0)``.
    """
    points = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    n = len(points)
    tree = cKDTree(points)
    pairs = tree.sparse_distance_matrix(tree, max_distance=float(radius_m),
                                        output_type="coo_matrix")
    r, c, d = pairs.row, pairs.col, pairs.data
    off = r != c  # the distance matrix stores no zeros; the diagonal is added explicitly
    r, c, d = r[off], c[off], d[off]
    if include_self:
        r = np.concatenate([r, np.arange(n)])
        c = np.concatenate([c, np.arange(n)])
        d = np.concatenate([d, np.zeros(n)])
    w = np.asarray(weight(d), dtype=float)
    return sp.csr_matrix((w, (r, c)), shape=(n, n))


def inverse_distance_band_weights(
    x: np.ndarray, y: np.ndarray, radius_m: float, cell_size_m: float
) -> sp.csr_matrix:
    """Bowers-style distance bands: ``1 / (1 + d / cell_size)`` within ``radius_m``, else 0.

    The own cell weighs 1, an edge neighbour 1/2, a diagonal one about 0.41 and so on.
    """
    return distance_weights(x, y, radius_m, lambda d: 1.0 / (1.0 + d / float(cell_size_m)))


def gaussian_weights(
    x: np.ndarray, y: np.ndarray, bandwidth_m: float, truncate: float = 4.0
) -> sp.csr_matrix:
    """Gaussian kernel ``exp(-d² / 2h²)`` between cell centres, cut at ``truncate · h``.

    Unnormalised: models that use it turn scores into shares themselves. The cut keeps the
    matrix sparse on large grids; beyond four bandwidths the weight is below 3.4e-4.
    """
    h = float(bandwidth_m)
    return distance_weights(x, y, truncate * h, lambda d: np.exp(-0.5 * (d / h) ** 2))


def spatial_lag(values: np.ndarray, weights: sp.spmatrix) -> np.ndarray:
    """``values`` (..., cell) mapped through ``weights``: entry ``c`` is Σ_j W[c, j] · v[j]."""
    values = np.asarray(values, dtype=float)
    return np.asarray((weights @ values.reshape(-1, values.shape[-1]).T).T).reshape(values.shape)


def scores_to_counts(
    score: np.ndarray, area_m2: np.ndarray, total: float, floor_share: float
) -> np.ndarray:
    """Turn non-negative cell scores into expected counts summing to ``total``.

    ``expected = total · ((1 − ε) · score / Σ score + ε · area / Σ area)``, ``ε`` =
    ``floor_share``. The area-proportional floor adds the same density to every cell, so
    the ranking by density (what the metrics use) is the score's ranking exactly, while no
    cell is forecast a hard zero. With no score anywhere the forecast is uniform by area.
    """
    score = np.asarray(score, dtype=float)
    area = np.asarray(area_m2, dtype=float)
    area_share = area / area.sum()
    s = score.sum()
    share = area_share if s <= 0 else (1.0 - floor_share) * score / s + floor_share * area_share
    return max(float(total), 0.0) * share


#: Periods over which ``recent_mean_total`` averages by default: a year of months, a
#: quarter of weeks, four weeks of days.
DEFAULT_TOTAL_PERIODS = {"M": 12, "W": 13, "D": 28}


def recent_mean_total(counts: np.ndarray, freq: str, total_periods: int | None = None) -> float:
    """Mean over the last ``total_periods`` periods of the count summed over all cells."""
    k = total_periods or DEFAULT_TOTAL_PERIODS[freq]
    return float(np.asarray(counts, dtype=float)[-k:].sum(axis=1).mean())


def edge_corrected(weights: sp.spmatrix, area_m2: np.ndarray) -> sp.csr_matrix:
    """Kernel ``W[c, j]`` with Diggle's edge correction, for smoothing counts into counts.

    ``W'[c, j] = area[c] · W[c, j] / Σ_j' W[c, j'] · area[j']``: the density at cell ``c`` is
    the kernel-weighted count divided by the kernel's mass inside the study area, times
    the cell's area. A uniform density stays uniform up to the edge (without the
    correction, cells near the edge look safer only because the kernel runs off the map),
    and clipped cells get in proportion to their area.
    """
    area = np.asarray(area_m2, dtype=float)
    weights = sp.csr_matrix(weights)
    mass = np.asarray(weights @ area).ravel()
    scale = area / np.where(mass > 0, mass, 1.0)
    return sp.csr_matrix(sp.diags(scale) @ weights)
