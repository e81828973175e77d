"""Square grids in a metric CRS, clipped to a study area.

Cells are aligned to multiples of the cell size in the CRS (the grid origin is snapped,
not taken from the area's corner), so the same area and size always give the same cells
and a cell's id ``"{ix}_{iy}"`` (its column and row counted from the CRS origin) never
changes between runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from hotspot.core.area import StudyArea
from hotspot.core.errors import GridError

# Slivers below this share of a full cell come from floating-point noise along the
# boundary, not from the area itself.
_MIN_CELL_SHARE = 1e-6


@dataclass(frozen=True)
class Grid:
    """Cells of ``cell_size_m`` metres clipped to ``area``, in ``crs``.

    ``cells`` has one row per cell in cube order: ``cell_id, ix, iy, x, y`` (square
    centre), ``area_m2`` (clipped area) and the clipped ``geometry``.
    """

    crs: str
    cell_size_m: float
    area: BaseGeometry
    cells: gpd.GeoDataFrame

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
        area (boundary included) lands in exactly one cell.
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        ix = np.floor(x / self.cell_size_m)
        iy = np.floor(y / self.cell_size_m)
        position = self._lookup(ix, iy)
        candidates = np.isfinite(x) & np.isfinite(y)
        inside_area = np.zeros(x.shape, dtype=bool)
        inside_area[candidates] = shapely.contains_xy(self.area, x[candidates], y[candidates]) | (
            shapely.intersects_xy(shapely.boundary(self.area), x[candidates], y[candidates])
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

    def _lookup(self, ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
        """Cell position of square ``(ix, iy)``, -1 where no cell exists."""
        ix0, iy0 = int(self.cells["ix"].min()), int(self.cells["iy"].min())
        width = int(self.cells["ix"].max()) - ix0 + 1
        height = int(self.cells["iy"].max()) - iy0 + 1
        table = np.full(width * height, -1, dtype=np.int64)
        table[
            (self.cells["iy"].to_numpy() - iy0) * width + (self.cells["ix"].to_numpy() - ix0)
        ] = np.arange(self.n_cells)
        col, row = ix - ix0, iy - iy0
        inside_box = np.isfinite(col) & (col >= 0) & (col < width) & (row >= 0) & (row < height)
        position = np.full(np.shape(ix), -1, dtype=np.int64)
        position[inside_box] = table[(row[inside_box] * width + col[inside_box]).astype(np.int64)]
        return position

def build_grid(area: StudyArea, cell_size_m: float = 150.0) -> Grid:
    """Square cells of ``cell_size_m`` covering ``area``, each clipped to it."""
    if not cell_size_m > 0:
        raise GridError(f"--cell must be a positive number of metres, got {cell_size_m}")
    geometry = area.geometry
    shapely.prepare(geometry)
    minx, miny, maxx, maxy = geometry.bounds
    ix = np.arange(np.floor(minx / cell_size_m), np.ceil(maxx / cell_size_m), dtype=np.int64)
    iy = np.arange(np.floor(miny / cell_size_m), np.ceil(maxy / cell_size_m), dtype=np.int64)
    if ix.size * iy.size > 20_000_000:
        raise GridError(
            f"a {cell_size_m:g} m grid over this area needs {ix.size * iy.size:,} squares: "
            "use a larger --cell or a smaller area"
        )
    gx, gy = np.meshgrid(ix, iy)  # rows of constant iy: cells ordered by (iy, ix)
    gx, gy = gx.ravel(), gy.ravel()
    squares = shapely.box(
        gx * cell_size_m, gy * cell_size_m, (gx + 1) * cell_size_m, (gy + 1) * cell_size_m
    )
    hit = shapely.intersects(geometry, squares)
    clipped = shapely.intersection(squares[hit], geometry)
    clipped_area = shapely.area(clipped)
    keep = clipped_area > _MIN_CELL_SHARE * cell_size_m**2
    gx, gy = gx[hit][keep], gy[hit][keep]
    if gx.size == 0:
        raise GridError("the study area is smaller than one cell: use a smaller --cell")
    cells = gpd.GeoDataFrame(
        {
            "cell_id": [f"{a}_{b}" for a, b in zip(gx, gy, strict=True)],
            "ix": gx,
            "iy": gy,
            "x": (gx + 0.5) * cell_size_m,
            "y": (gy + 0.5) * cell_size_m,
            "area_m2": clipped_area[keep],
        },
        geometry=clipped[keep],
        crs=area.crs,
    )
    return Grid(crs=area.crs, cell_size_m=float(cell_size_m), area=geometry, cells=cells)


def grid_from_cells(
    crs: str, cell_size_m: float, area: BaseGeometry, ix: np.ndarray, iy: np.ndarray
) -> Grid:
    """Rebuild a grid from its cell indices and area (how a saved cube restores its grid)."""
    squares = shapely.box(
        ix * cell_size_m, iy * cell_size_m, (ix + 1) * cell_size_m, (iy + 1) * cell_size_m
    )
    clipped = shapely.intersection(squares, area)
    cells = gpd.GeoDataFrame(
        {
            "cell_id": [f"{a}_{b}" for a, b in zip(ix, iy, strict=True)],
            "ix": np.asarray(ix, dtype=np.int64),
            "iy": np.asarray(iy, dtype=np.int64),
            "x": (np.asarray(ix) + 0.5) * cell_size_m,
            "y": (np.asarray(iy) + 0.5) * cell_size_m,
            "area_m2": shapely.area(clipped),
        },
        geometry=clipped,
        crs=crs,
    )
    return Grid(crs=crs, cell_size_m=float(cell_size_m), area=area, cells=cells)


def estimate_grid(area: BaseGeometry, cell_size_m: float) -> tuple[int, int]:
    """``(squares, cells)`` a grid of ``cell_size_m`` over ``area`` would have, without
    building it: the squares of the bounding box, and the cells the area's size and
    boundary length give (area / cell², plus the about half of each boundary-cut cell
    the area share misses: 1.27 cut cells per cell length of boundary for a random
    line), at most the squares. Cheap, so size guards can run before the minutes a huge
    grid takes."""
    if not cell_size_m > 0:
        raise GridError(f"--cell must be a positive number of metres, got {cell_size_m}")
    minx, miny, maxx, maxy = area.bounds
    n_squares = (int(np.ceil(maxx / cell_size_m) - np.floor(minx / cell_size_m))
                 * int(np.ceil(maxy / cell_size_m) - np.floor(miny / cell_size_m)))
    boundary = shapely.length(shapely.boundary(area))
    n_cells = area.area / cell_size_m**2 + 0.64 * boundary / cell_size_m
    return n_squares, int(min(n_squares, np.ceil(n_cells)))
