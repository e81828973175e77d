"""Neighbour search for the self-exciting models: parent–child pairs and cell neighbours.

Hand-written. :func:`find_pairs` finds every (parent, child) pair with
``0 < t_child − t_parent ≤ W`` and spatial distance ``≤ R`` by grid hashing and
``searchsorted`` on time, so memory and time grow with the number of pairs (about
linearly in the number of events), never ``N²``. :func:`cell_neighbours` lists the
ordered pairs of cells of a lattice within a radius.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hotspot.core.errors import DataError

#: A pair search that would look at more candidate pairs than this stops with advice.
MAX_PAIR_CANDIDATES = 100_000_000


@dataclass(frozen=True)
class Pairs:
    """Sparse (parent, child) pairs with time lag ``dt > 0`` and squared distance ``d2``."""

    parent: np.ndarray
    child: np.ndarray
    dt: np.ndarray
    d2: np.ndarray
    radius: float
    window: float

    @property
    def size(self) -> int:
        return int(self.parent.size)

    def within(self, radius: float, window: float) -> Pairs:
        """The pairs inside a smaller radius and window (no new search)."""
        keep = (self.dt <= window) & (self.d2 <= radius**2 * (1 + 1e-12))
        return Pairs(self.parent[keep], self.child[keep], self.dt[keep], self.d2[keep],
                     radius, window)


def find_pairs(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, radius: float, window: float
) -> Pairs:
    """All pairs ``i → j`` with ``0 < t_j − t_i ≤ window`` and ``|s_j − s_i| ≤ radius``.

    Grid hashing: events are binned into squares of side ``radius`` (1 m when
    ``radius = 0``: then only events at the very same point pair up) and sorted by
    ``(square, time)`` under one float key ``square · span + t``. For each of the nine
    neighbouring squares, two ``searchsorted`` calls find every child's candidate parents
    in ``[t_j − window, t_j)``; candidates are expanded with ``repeat``/``arange`` and cut to
    the disc. Work and memory grow with the number of candidates (about 2.9 × the pairs),
    one neighbour square at a time; ties in time (``dt = 0``) are never pairs. A search
    that would examine more than ``MAX_PAIR_CANDIDATES`` candidates stops with a
    ``DataError`` saying how to narrow it.
    """
    if t.size == 0:
        empty = np.empty(0, np.int32)
        return Pairs(empty, empty, np.empty(0), np.empty(0), float(radius), float(window))
    size = radius if radius > 0 else 1.0
    steps = (-1, 0, 1) if radius > 0 else (0,)
    bx = np.floor((x - x.min()) / size).astype(np.int64)
    by = np.floor((y - y.min()) / size).astype(np.int64) + 1
    stride = int(by.max()) + 2
    code = bx * stride + by
    squares, square = np.unique(code, return_inverse=True)
    t0 = t - t.min()
    span = float(t0.max()) + window + 1.0
    order = np.lexsort((t0, square))
    key = square[order] * span + t0[order]
    r2 = radius**2 * (1 + 1e-12)
    parents, children = [], []
    for dx in steps:
        for dy in steps:
            target = code + dx * stride + dy
            where = np.minimum(np.searchsorted(squares, target), squares.size - 1)
            child = np.flatnonzero(squares[where] == target)
            base = where[child] * span
            lo = np.searchsorted(key, base + t0[child] - window, side="left")
            count = np.searchsorted(key, base + t0[child], side="left") - lo
            total = int(count.sum())
            if total * len(steps) ** 2 > MAX_PAIR_CANDIDATES:
                raise DataError(
                    f"the parent search ({radius:.0f} m, {window:.0f} days) would examine "
                    f"about {total * len(steps) ** 2:,} candidate pairs: set a smaller "
                    "radius_m / max_radius_m or max_lag_days, or fit fewer events")
            if total == 0:
                continue
            child = np.repeat(child, count)
            parent = order[np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(total)]
            near = (x[child] - x[parent]) ** 2 + (y[child] - y[parent]) ** 2 <= r2
            parents.append(parent[near])
            children.append(child[near])
    parent = np.concatenate(parents) if parents else np.empty(0, np.int64)
    child = np.concatenate(children) if children else np.empty(0, np.int64)
    dt = t[child] - t[parent]
    keep = (dt > 0) & (dt <= window)
    parent, child = parent[keep], child[keep]
    d2 = (x[child] - x[parent]) ** 2 + (y[child] - y[parent]) ** 2
    return Pairs(parent.astype(np.int32), child.astype(np.int32), dt[keep], d2,
                 float(radius), float(window))


def cell_neighbours(
    ix: np.ndarray, iy: np.ndarray, radius_cells: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(src, dst, dx, dy)`` for every ordered pair of existing cells at most
    ``radius_cells`` apart (centre to centre, in cell units), each cell with itself too.

    A lookup table over the cells' bounding box is probed once per lattice offset (a loop
    over offsets, never over cells).
    """
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    ix0, iy0 = ix.min(), iy.min()
    width, height = int(ix.max() - ix0 + 1), int(iy.max() - iy0 + 1)
    lookup = np.full((height, width), -1, dtype=np.int64)
    lookup[iy - iy0, ix - ix0] = np.arange(ix.size)
    k = int(np.floor(radius_cells + 1e-9))
    src, dst, ddx, ddy = [], [], [], []
    for dx in range(-k, k + 1):
        for dy in range(-k, k + 1):
            if dx * dx + dy * dy > radius_cells**2 + 1e-9:
                continue
            col, row = ix - ix0 + dx, iy - iy0 + dy
            ok = (col >= 0) & (col < width) & (row >= 0) & (row < height)
            target = np.full(ix.size, -1, dtype=np.int64)
            target[ok] = lookup[row[ok], col[ok]]
            hit = np.flatnonzero(target >= 0)
            src.append(hit)
            dst.append(target[hit])
            ddx.append(np.full(hit.size, dx))
            ddy.append(np.full(hit.size, dy))
    return (np.concatenate(src), np.concatenate(dst), np.concatenate(ddx),
            np.concatenate(ddy))
