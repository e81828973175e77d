"""Square grids in a metric CRS, clipped to a study area.

Cells are aligned to multiples of the cell size in the CRS, shifted by the grid's offset
(the origin is snapped, not taken from the area's corner), so the same area, size and
offset always give the same cells, and a cell's id ``"{ix}_{iy}"`` (its column and row
counted from the offset CRS origin) never changes between runs.

Boundary slivers (below :data:`MIN_CELL_SHARE` of a full cell after clipping) are merged
into a neighbouring cell: the host keeps its id, position and square centre, gains the
sliver's area and geometry, and :meth:`Grid.assign` sends points in the absorbed square
to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from hotspot.core.area import StudyArea
from hotspot.core.errors import ConfigError, GridError
from hotspot.features.slivers import merge_slivers

#: No published or scored unit is smaller than this share of a full cell: a clipped
#: square below it is merged into the neighbouring cell it shares the longest edge with
#: (ties: smaller cell id; one sharing no edge goes to the cell with the nearest
#: centroid), smallest first, so that a host still below it is merged in its turn. A
#: sliver's density is noise (one event in a 10 m strip would top every ranking) and no
#: patrol can be sent to it; merging keeps its events, in the host.
MIN_CELL_SHARE = 0.25

# Slivers below this share of a full cell come from floating-point noise along the
# boundary, not from the area itself: they are dropped, not merged.
_MIN_CELL_SHARE = 1e-6
# Cut cells left with under MIN_CELL_SHARE of a cell, per cell length of a random
# straight boundary (simulated; the City of London's wards give 0.36-0.45).
_SLIVERS_PER_CELL_LENGTH = 0.41


@dataclass(frozen=True)
class Grid:
    """Cells of ``cell_size_m`` metres clipped to ``area``, in ``crs``.

    ``cells`` has one row per cell in cube order: ``cell_id, ix, iy, x, y`` (square
    centre, offset included), ``area_m2`` (clipped area, absorbed slivers included) and
    the clipped ``geometry``. Squares are aligned to ``offset_m + k * cell_size_m``;
    ``merged`` lists the absorbed squares as ``(ix, iy, host_cell_id)``.
    """

    crs: str
    cell_size_m: float
    area: BaseGeometry
    cells: gpd.GeoDataFrame
    offset_m: tuple[float, float] = (0.0, 0.0)
    merged: tuple[tuple[int, int, str], ...] = field(default=(), repr=False)

    @property
    def n_cells(self) -> int:
        return len(self.cells)

    @property
    def cell_ids(self) -> np.ndarray:
        return self.cells["cell_id"].to_numpy(dtype=object)

    def assign(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Position (0..n_cells-1) of the cell holding each point; -1 outside the area.

        A point on a shared edge goes to the cell above/right of it (floor rule); a point
        on the area's own top or right boundary, whose floor-rule square lies outside
        the area, goes to the cell left of and/or below it. So every point inside the
        area (boundary included) lands in exactly one cell; one in an absorbed sliver
        lands in its host.
        """
        px = np.asarray(x, dtype=float)
        py = np.asarray(y, dtype=float)
        x, y = px - self.offset_m[0], py - self.offset_m[1]  # in square units from here
        ix = np.floor(x / self.cell_size_m)
        iy = np.floor(y / self.cell_size_m)
        position = self._lookup(ix, iy)
        candidates = np.isfinite(px) & np.isfinite(py)
        inside_area = np.zeros(px.shape, dtype=bool)
        inside_area[candidates] = shapely.contains_xy(self.area, px[candidates], py[candidates]) | (
            shapely.intersects_xy(shapely.boundary(self.area), px[candidates], py[candidates])
        )
        for dx, dy in ((1, 0), (0, 1), (1, 1)):  # only boundary points reach these
            stray = inside_area & (position < 0)
            if not stray.any():
                break
            on_line_x = (x[stray] / self.cell_size_m == ix[stray]) | (dx == 0)
            on_line_y = (y[stray] / self.cell_size_m == iy[stray]) | (dy == 0)
            moved = self._lookup(ix[stray] - dx, iy[stray] - dy)
            position[stray] = np.where(on_line_x & on_line_y, moved, -1)
        position[~inside_area] = -1
        return position

    @cached_property
    def _table(self) -> tuple[int, int, int, int, np.ndarray]:
        """``(ix0, iy0, width, height, table)``: the cell position of every square of the
        bounding box of cells and absorbed squares, -1 where none."""
        cell_ix = self.cells["ix"].to_numpy(np.int64)
        cell_iy = self.cells["iy"].to_numpy(np.int64)
        positions = np.arange(self.n_cells)
        if self.merged:
            host_of = {cell_id: i for i, cell_id in enumerate(self.cells["cell_id"])}
            cell_ix = np.r_[cell_ix, [m[0] for m in self.merged]]
            cell_iy = np.r_[cell_iy, [m[1] for m in self.merged]]
            positions = np.r_[positions, [host_of[m[2]] for m in self.merged]]
        ix0, iy0 = int(cell_ix.min()), int(cell_iy.min())
        width, height = int(cell_ix.max()) - ix0 + 1, int(cell_iy.max()) - iy0 + 1
        table = np.full(width * height, -1, dtype=np.int64)
        table[(cell_iy - iy0) * width + (cell_ix - ix0)] = positions
        return ix0, iy0, width, height, table

    def _lookup(self, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
        """Cell position of square ``(ix, iy)`` (its host's if absorbed), -1 where none."""
        ix0, iy0, width, height, table = self._table
        col, row = ix - ix0, iy - iy0
        inside_box = np.isfinite(col) & (col >= 0) & (col < width) & (row >= 0) & (row < height)
        position = np.full(np.shape(ix), -1, dtype=np.int64)
        position[inside_box] = table[(row[inside_box] * width + col[inside_box]).astype(np.int64)]
        return position


def check_offset(offset_m: Sequence[float]) -> tuple[float, float]:
    """``offset_m`` as two finite floats, else ``ConfigError``."""
    try:
        ox, oy = (float(v) for v in offset_m)
    except (TypeError, ValueError):
        raise ConfigError(f"grid offset must be two numbers of metres (x, y), got {offset_m!r}"
                          ) from None
    if not (math.isfinite(ox) and math.isfinite(oy)):
        raise ConfigError(f"grid offset must be two finite numbers of metres, got {offset_m!r}")
    return ox, oy


def grid_offsets(n: int, cell_size_m: float) -> list[tuple[float, float]]:
    """The ``n`` grid offsets a backtest scores over: the grid itself, then grids shifted
    by half a cell in x and y (2: both at once; 4: x, y and both), so a result that
    holds only for one placement of the squares shows as spread across offsets."""
    if not cell_size_m > 0:
        raise GridError(f"--cell must be a positive number of metres, got {cell_size_m}")
    h = float(cell_size_m) / 2.0
    offsets = {1: [(0.0, 0.0)], 2: [(0.0, 0.0), (h, h)],
               4: [(0.0, 0.0), (h, 0.0), (0.0, h), (h, h)]}
    if n not in offsets:
        raise ConfigError(f"--offsets must be 1, 2 or 4 (grids shifted by half a cell), got {n!r}")
    return offsets[n]


def _squares(ix: np.ndarray, iy: np.ndarray, cell_size_m: float,
             offset_m: tuple[float, float]) -> np.ndarray:
    """The squares ``(ix, iy)``, aligned to ``offset_m + k * cell_size_m``."""
    x0 = ix * cell_size_m + offset_m[0]
    y0 = iy * cell_size_m + offset_m[1]
    # (ix + 1) * size, not x0 + size: both neighbours then compute the shared edge alike
    return shapely.box(x0, y0, (ix + 1) * cell_size_m + offset_m[0],
                       (iy + 1) * cell_size_m + offset_m[1])


def _cells_frame(
    crs: str, cell_size_m: float, offset_m: tuple[float, float], area: BaseGeometry,
    ix: np.ndarray, iy: np.ndarray, clipped: np.ndarray,
    merged: tuple[tuple[int, int, str], ...],
) -> gpd.GeoDataFrame:
    """The cell table; a host's geometry is the area inside its and its absorbed squares."""
    ix, iy = np.asarray(ix, dtype=np.int64), np.asarray(iy, dtype=np.int64)
    ids = np.array([f"{a}_{b}" for a, b in zip(ix.tolist(), iy.tolist(), strict=True)],
                   dtype=object)
    geometry = np.array(clipped, dtype=object)
    if merged:
        position = {cell_id: i for i, cell_id in enumerate(ids)}
        squares: dict[int, list[tuple[int, int]]] = {}
        for a, b, host in merged:
            squares.setdefault(position[host], [(int(ix[position[host]]),
                                                 int(iy[position[host]]))]).append((a, b))
        for i, own in squares.items():
            sx, sy = np.array(own, dtype=np.int64).T
            joined = shapely.union_all(_squares(sx, sy, cell_size_m, offset_m))
            geometry[i] = shapely.intersection(joined, area)
    return gpd.GeoDataFrame(
        {
            "cell_id": ids,
            "ix": ix,
            "iy": iy,
            "x": (ix + 0.5) * cell_size_m + offset_m[0],
            "y": (iy + 0.5) * cell_size_m + offset_m[1],
            "area_m2": shapely.area(geometry),
        },
        geometry=geometry,
        crs=crs,
    )


def build_grid(area: StudyArea, cell_size_m: float = 150.0,
               offset_m: Sequence[float] = (0.0, 0.0)) -> Grid:
    """Square cells of ``cell_size_m`` covering ``area``, each clipped to it, squares
    aligned to ``offset_m + k * cell_size_m``; slivers below :data:`MIN_CELL_SHARE` of a
    cell merged into a neighbour."""
    if not cell_size_m > 0:
        raise GridError(f"--cell must be a positive number of metres, got {cell_size_m}")
    ox, oy = check_offset(offset_m)
    geometry = area.geometry
    shapely.prepare(geometry)
    minx, miny, maxx, maxy = geometry.bounds
    ix = np.arange(np.floor((minx - ox) / cell_size_m), np.ceil((maxx - ox) / cell_size_m),
                   dtype=np.int64)
    iy = np.arange(np.floor((miny - oy) / cell_size_m), np.ceil((maxy - oy) / cell_size_m),
                   dtype=np.int64)
    if ix.size * iy.size > 20_000_000:
        raise GridError(
            f"a {cell_size_m:g} m grid over this area needs {ix.size * iy.size:,} squares: "
            "use a larger --cell or a smaller area"
        )
    gx, gy = np.meshgrid(ix, iy)  # rows of constant iy: cells ordered by (iy, ix)
    gx, gy = gx.ravel(), gy.ravel()
    squares = _squares(gx, gy, cell_size_m, (ox, oy))
    hit = shapely.intersects(geometry, squares)
    clipped = shapely.intersection(squares[hit], geometry)
    keep = shapely.area(clipped) > _MIN_CELL_SHARE * cell_size_m**2
    gx, gy, clipped = gx[hit][keep], gy[hit][keep], clipped[keep]
    if gx.size == 0:
        raise GridError("the study area is smaller than one cell: use a smaller --cell")
    ids = np.array([f"{a}_{b}" for a, b in zip(gx.tolist(), gy.tolist(), strict=True)])
    owner = merge_slivers(gx, gy, clipped, ids, cell_size_m, MIN_CELL_SHARE * cell_size_m**2)
    absorbed = np.flatnonzero(owner != np.arange(owner.size))
    merged = tuple((int(gx[i]), int(gy[i]), str(ids[owner[i]])) for i in absorbed)
    kept = owner == np.arange(owner.size)
    cells = _cells_frame(area.crs, cell_size_m, (ox, oy), geometry, gx[kept], gy[kept],
                         clipped[kept], merged)
    return Grid(crs=area.crs, cell_size_m=float(cell_size_m), area=geometry, cells=cells,
                offset_m=(ox, oy), merged=merged)


def grid_from_cells(
    crs: str, cell_size_m: float, area: BaseGeometry, ix: np.ndarray, iy: np.ndarray, *,
    offset_m: Sequence[float] = (0.0, 0.0),
    merged: Sequence[Sequence] = (),
) -> Grid:
    """Rebuild a grid from its cell indices, offset, absorbed squares and area (how a
    saved cube restores its grid); absorbed squares whose host is not among the cells
    are left out."""
    ox, oy = check_offset(offset_m)
    ix, iy = np.asarray(ix, dtype=np.int64), np.asarray(iy, dtype=np.int64)
    ids = {f"{a}_{b}" for a, b in zip(ix.tolist(), iy.tolist(), strict=True)}
    kept = tuple((int(a), int(b), str(host)) for a, b, host in merged if str(host) in ids)
    clipped = shapely.intersection(_squares(ix, iy, cell_size_m, (ox, oy)), area)
    cells = _cells_frame(crs, cell_size_m, (ox, oy), area, ix, iy, clipped, kept)
    return Grid(crs=crs, cell_size_m=float(cell_size_m), area=area, cells=cells,
                offset_m=(ox, oy), merged=kept)


def estimate_grid(area: BaseGeometry, cell_size_m: float,
                  offset_m: Sequence[float] = (0.0, 0.0)) -> tuple[int, int]:
    """``(squares, cells)`` a grid of ``cell_size_m`` over ``area`` would have, without
    building it: the squares of the bounding box, and the cells the area's size and
    boundary length give (area / cell², plus the about half of each boundary-cut cell
    the area share misses: 1.27 cut cells per cell length of boundary for a random
    line, so 0.64; minus the slivers merged into a neighbour: 0.41 per cell length for a
    random line, the cut cells left with under :data:`MIN_CELL_SHARE` of a cell), at
    most the squares. Cheap, so size guards can run before the minutes a huge grid
    takes."""
    if not cell_size_m > 0:
        raise GridError(f"--cell must be a positive number of metres, got {cell_size_m}")
    ox, oy = check_offset(offset_m)
    minx, miny, maxx, maxy = area.bounds
    n_squares = (int(np.ceil((maxx - ox) / cell_size_m) - np.floor((minx - ox) / cell_size_m))
                 * int(np.ceil((maxy - oy) / cell_size_m) - np.floor((miny - oy) / cell_size_m)))
    boundary = shapely.length(shapely.boundary(area))
    per_length = 0.64 - _SLIVERS_PER_CELL_LENGTH
    n_cells = area.area / cell_size_m**2 + per_length * boundary / cell_size_m
    return n_squares, int(min(n_squares, np.ceil(n_cells)))
