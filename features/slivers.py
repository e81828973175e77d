"""Which boundary slivers of a clipped grid merge into which neighbouring cell.

A square cut down to a few percent of a cell by the study area's boundary makes a poor
unit: its density (count / area) is noise, so a ranking by density puts slivers with one
event at the top, and a patrol cannot be sent to a 10 m strip. :func:`merge_slivers`
decides, for the clipped pieces of a grid, which piece ends up in which cell; the grid
module turns that into cells and a lookup (no event is lost: a point in an absorbed
square counts for its host).
"""

from __future__ import annotations

import heapq

import numpy as np
import shapely

# Relative to the cell size: how far apart two pieces' boundaries may lie and still be
# the same line. Pieces clipped from neighbouring squares put their shared vertices a
# few ulps apart, so an exact boundary intersection sometimes finds no shared edge.
_EDGE_TOLERANCE = 1e-6
# Shared edges shorter than this (relative to the cell size) are a corner contact, and
# edge lengths this close are a tie: measuring with the tolerance adds up to two
# tolerances to a length.
_EDGE_SLACK = 4 * _EDGE_TOLERANCE


def merge_slivers(
    ix: np.ndarray,
    iy: np.ndarray,
    pieces: np.ndarray,
    cell_ids: np.ndarray,
    cell_size_m: float,
    min_area_m2: float,
) -> np.ndarray:
    """For each piece, the index of the piece whose cell it ends up in (itself if kept).

    Pieces below ``min_area_m2`` are merged, smallest first (ties: smaller cell id), into
    the neighbouring cell they share the longest edge with (the length of the
    intersection of their boundaries; ties: smaller cell id); a piece sharing no edge
    goes to the cell with the nearest centroid. A merged cell's area is the sum of its
    pieces, so a host that is still below ``min_area_m2`` is merged in its turn and
    takes its pieces along. One cell is always left, whatever its area.
    """
    n = len(pieces)
    area = shapely.area(pieces).astype(float)
    centroids = shapely.centroid(pieces)
    # area-weighted centroid sums, so a merged cell's centroid is its pieces' centroid
    mx = shapely.get_x(centroids) * area
    my = shapely.get_y(centroids) * area
    small = np.flatnonzero(area < min_area_m2)
    if small.size == 0 or n < 2:
        return np.arange(n)
    edges = _shared_edges(ix, iy, pieces, small, cell_size_m)
    ids = np.asarray(cell_ids).astype(str)
    owner = np.arange(n)
    members: dict[int, list[int]] = {}
    alive = np.ones(n, dtype=bool)
    heap = [(area[i], ids[i], int(i)) for i in small]
    heapq.heapify(heap)
    slack = _EDGE_SLACK * cell_size_m
    n_alive = n
    while heap and n_alive > 1:
        a, _, i = heapq.heappop(heap)
        if not alive[i] or a != area[i]:
            continue  # absorbed since, or pushed again with its grown area
        shared: dict[int, float] = {}
        for p in members.get(i, [i]):
            for q, length in edges.get(p, ()):
                o = int(owner[q])
                if o != i:
                    shared[o] = shared.get(o, 0.0) + length
        longest = max(shared.values(), default=0.0)
        if longest > slack:
            host = min((o for o, s in shared.items() if s >= longest - slack), key=ids.__getitem__)
        else:
            host = _nearest(i, alive, mx, my, area, ids, slack)
        absorbed = members.pop(i, [i])
        owner[absorbed] = host
        members.setdefault(host, [host]).extend(absorbed)
        area[host] += area[i]
        mx[host] += mx[i]
        my[host] += my[i]
        alive[i] = False
        n_alive -= 1
        if area[host] < min_area_m2:
            heapq.heappush(heap, (area[host], ids[host], host))
    return owner


def _shared_edges(
    ix: np.ndarray, iy: np.ndarray, pieces: np.ndarray, small: np.ndarray, cell_size_m: float
) -> dict[int, list[tuple[int, float]]]:
    """Edge length each small piece shares with each of its four neighbouring pieces.

    Only small pieces are ever merged, and a cell being merged holds small pieces only
    (a cell that absorbed a piece is merged only while it is itself still small), so
    these are the only edges the merge looks at.
    """
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    ix0, iy0 = int(ix.min()) - 1, int(iy.min()) - 1  # one square of margin all round
    width, height = int(ix.max()) - ix0 + 2, int(iy.max()) - iy0 + 2
    table = np.full(width * height, -1, dtype=np.int64)
    table[(iy - iy0) * width + (ix - ix0)] = np.arange(len(ix))
    p = np.repeat(small, 4)
    dx = np.tile([1, -1, 0, 0], small.size)
    dy = np.tile([0, 0, 1, -1], small.size)
    q = table[(iy[p] + dy - iy0) * width + (ix[p] + dx - ix0)]
    p, q = p[q >= 0], q[q >= 0]
    tolerance = _EDGE_TOLERANCE * cell_size_m
    near_q = shapely.buffer(shapely.boundary(pieces[q]), tolerance, quad_segs=1)
    lengths = shapely.length(shapely.intersection(shapely.boundary(pieces[p]), near_q))
    edges: dict[int, list[tuple[int, float]]] = {}
    for a, b, length in zip(p.tolist(), q.tolist(), lengths.tolist(), strict=True):
        edges.setdefault(a, []).append((b, length))
    return edges


def _nearest(i: int, alive: np.ndarray, mx: np.ndarray, my: np.ndarray, area: np.ndarray,
             ids: np.ndarray, slack: float) -> int:
    """The live cell (not ``i``) whose centroid is nearest ``i``'s; ties: smaller id."""
    others = np.flatnonzero(alive)
    others = others[others != i]
    distance = np.hypot(mx[others] / area[others] - mx[i] / area[i],
                        my[others] / area[others] - my[i] / area[i])
    close = others[distance <= distance.min() + slack]
    return int(min(close.tolist(), key=ids.__getitem__))
