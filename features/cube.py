"""The cube: counts per period and cell, the one input every model reads.

An ``xarray.Dataset`` with

- ``counts (time, cell)``: events per period and cell;
- ``category_counts (time, category, cell)``: the same split by crime category;
- coordinates ``time`` (period starts), ``cell`` (stable cell ids), per-cell ``ix, iy, x, y,
  area_m2`` and ``category``;
- attributes ``crs, cell_size_m, origin, freq, source, built_at, area_wkt, provenance``
  and the grid's ``grid_offset_m`` (``[ox, oy]``) and ``merged_squares`` (JSON list of
  ``[ix, iy, host_cell_id]``, the boundary slivers merged into a neighbour); a cube
  without them is read as offset 0, no merges.

``build_cube`` makes one, ``save_cube``/``open_cube`` store it as zarr, ``check_cube``
runs wherever a cube comes in, ``grid_of`` restores its grid.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import xarray as xr

from hotspot.core.area import same_crs
from hotspot.core.atomic import atomic_path
from hotspot.core.errors import DataError, GridError
from hotspot.core.periods import PANDAS_FREQ, check_freq, period_range, period_starts, to_period
from hotspot.features.grid import Grid, grid_from_cells

REQUIRED_ATTRS = ("crs", "cell_size_m", "freq", "area_wkt")

# Peak memory of a build, measured (benchmarks in the issue 13 report): per count
# (period x category x cell) bincount's int64 result plus its int32 copy; per (period,
# cell) the int64 total and its int32 copy; per bounding-box square and per cell what
# shapely and the cell table hold while the grid is built.
_BYTES_PER_COUNT = 12
_BYTES_PER_PERIOD_CELL = 12
_BYTES_PER_SQUARE = 300
_BYTES_PER_CELL = 600


def estimate_cube_bytes(n_periods: int, n_categories: int, n_cells: int,
                        n_squares: int = 0) -> int:
    """Estimated peak memory (bytes) of building a cube of this shape with
    :func:`build_cube` on a grid with ``n_squares`` squares in its bounding box."""
    return int(n_periods * n_cells * (n_categories * _BYTES_PER_COUNT + _BYTES_PER_PERIOD_CELL)
               + n_squares * _BYTES_PER_SQUARE + n_cells * _BYTES_PER_CELL)


def build_cube(
    events: pd.DataFrame,
    grid: Grid,
    freq: str = "M",
    *,
    first: pd.Period | str | None = None,
    last: pd.Period | str | None = None,
    source: str = "",
    provenance: dict | None = None,
) -> xr.Dataset:
    """Count ``events`` (canonical table, ``x``/``y`` in ``grid.crs``) per period and cell.

    Periods run from ``first`` to ``last`` (default: the events' own span) with no gaps;
    periods without events are zeros. Events outside the grid's area or time span are
    not counted; their number is recorded in ``provenance``.
    """
    freq = check_freq(freq)
    if events.empty and (first is None or last is None):
        raise DataError("no events to build a cube from: ingest some first")
    pandas_freq = PANDAS_FREQ[freq]
    event_periods = pd.PeriodIndex(pd.DatetimeIndex(events["time"]).to_period(pandas_freq))
    first_p = to_period(first, freq) if first is not None else event_periods.min()
    last_p = to_period(last, freq) if last is not None else event_periods.max()
    if first_p > last_p:
        raise DataError(f"cube span is empty: first period {first_p} is after last {last_p}")
    periods = period_range(first_p, last_p)

    cell_pos = grid.assign(events["x"].to_numpy(), events["y"].to_numpy())
    time_pos = event_periods.asi8 - first_p.ordinal
    in_span = (time_pos >= 0) & (time_pos < len(periods))
    counted = (cell_pos >= 0) & in_span

    categories = np.array(sorted(events["category"].dropna().unique()), dtype=object)
    category_pos = np.searchsorted(categories, events["category"].to_numpy(dtype=object))
    n_t, n_k, n_c = len(periods), len(categories), grid.n_cells
    flat = (time_pos[counted] * n_k + category_pos[counted]) * n_c + cell_pos[counted]
    category_counts = np.bincount(flat, minlength=n_t * n_k * n_c).reshape(n_t, n_k, n_c)

    record = {
        "n_events_in": int(len(events)),
        "n_events_counted": int(counted.sum()),
        "n_events_outside_area": int(((cell_pos < 0) & in_span).sum()),
        "n_events_outside_span": int((~in_span).sum()),
        **(provenance or {}),
    }
    cube = xr.Dataset(
        {
            "counts": (("time", "cell"), category_counts.sum(axis=1).astype(np.int32)),
            "category_counts": (("time", "category", "cell"), category_counts.astype(np.int32)),
        },
        coords=cube_coords(grid, periods, categories),
        attrs={
            **grid_attrs(grid),
            "freq": freq,
            "source": source,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "provenance": json.dumps(record, sort_keys=True, default=str),
        },
    )
    return check_cube(cube)


def grid_attrs(grid: Grid) -> dict:
    """The cube attributes that describe its grid, so :func:`grid_of` can restore it:
    ``crs, cell_size_m, origin`` (lower-left corner of the cells' squares),
    ``area_wkt``, ``grid_offset_m`` and ``merged_squares``."""
    cells = grid.cells
    ox, oy = grid.offset_m
    return {
        "crs": grid.crs,
        "cell_size_m": float(grid.cell_size_m),
        "origin": [float(cells["ix"].min() * grid.cell_size_m + ox),
                   float(cells["iy"].min() * grid.cell_size_m + oy)],
        "area_wkt": shapely.to_wkt(grid.area, rounding_precision=3),
        "grid_offset_m": [float(ox), float(oy)],
        "merged_squares": json.dumps([[int(a), int(b), str(h)] for a, b, h in grid.merged]),
    }


def cube_coords(grid: Grid, periods: pd.PeriodIndex, categories: np.ndarray) -> dict:
    """The coordinates every cube carries: period starts, cell ids with their
    ``ix, iy, x, y, area_m2``, and categories."""
    cells = grid.cells
    return {
        "time": period_starts(periods),
        "cell": cells["cell_id"].to_numpy(dtype=object),
        "category": categories,
        "ix": ("cell", cells["ix"].to_numpy(np.int64)),
        "iy": ("cell", cells["iy"].to_numpy(np.int64)),
        "x": ("cell", cells["x"].to_numpy(float)),
        "y": ("cell", cells["y"].to_numpy(float)),
        "area_m2": ("cell", cells["area_m2"].to_numpy(float)),
    }


def check_cube(cube: xr.Dataset) -> xr.Dataset:
    """Return ``cube`` if it is well formed, else raise ``DataError`` saying what is wrong."""
    if not isinstance(cube, xr.Dataset) or "counts" not in cube:
        raise DataError("not a cube: expected an xarray Dataset with a 'counts' variable")
    if cube["counts"].dims != ("time", "cell"):
        raise DataError(f"cube counts have dims {cube['counts'].dims}, expected ('time', 'cell')")
    missing = [a for a in REQUIRED_ATTRS if a not in cube.attrs]
    if missing:
        raise DataError(f"cube lacks attributes {missing}: rebuild it with 'hotspot cube'")
    if cube.sizes["time"] == 0 or cube.sizes["cell"] == 0:
        raise DataError("cube is empty (no periods or no cells)")
    check_freq(cube.attrs["freq"])
    return cube


def cube_periods(cube: xr.Dataset) -> pd.PeriodIndex:
    """The cube's time coordinate as periods."""
    freq = PANDAS_FREQ[cube.attrs["freq"]]
    return pd.PeriodIndex(pd.DatetimeIndex(cube["time"].values).to_period(freq))


def same_grid(a: xr.Dataset, b: xr.Dataset) -> None:
    """Raise ``GridError`` unless ``a`` and ``b`` share CRS, cell size, offset and cells
    (grids shifted by half a cell reuse cell ids for other squares)."""
    if (
        not same_crs(a.attrs["crs"], b.attrs["crs"])
        or a.attrs["cell_size_m"] != b.attrs["cell_size_m"]
        or grid_offset(a) != grid_offset(b)
        or not np.array_equal(a["cell"].values, b["cell"].values)
    ):
        raise GridError("cubes are on different grids: rebuild them with the same area and --cell")


def grid_offset(cube: xr.Dataset) -> tuple[float, float]:
    """The cube's grid offset ``(ox, oy)`` in metres; ``(0, 0)`` for cubes from before
    offsets were recorded."""
    ox, oy = cube.attrs.get("grid_offset_m", (0.0, 0.0))
    return float(ox), float(oy)


def merged_squares(cube: xr.Dataset) -> tuple[tuple[int, int, str], ...]:
    """The squares merged into a neighbouring cell, ``(ix, iy, host_cell_id)``; none for
    cubes from before slivers were merged."""
    text = cube.attrs.get("merged_squares", "[]")
    try:
        rows = json.loads(text) if isinstance(text, str) else text
        return tuple((int(a), int(b), str(h)) for a, b, h in rows)
    except (TypeError, ValueError):
        raise DataError(f"cube attribute merged_squares is not a JSON list of [ix, iy, "
                        f"host_cell_id]: {str(text)[:80]!r}; rebuild the cube") from None


def merged_positions(cube: xr.Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(ix, iy, host position in the cube)`` arrays of the merged squares whose host is
    among the cube's cells (for models that work on the squares themselves); ``None``
    when there are none."""
    position = {cell_id: i for i, cell_id in enumerate(cube["cell"].values.tolist())}
    rows = [(a, b, position[h]) for a, b, h in merged_squares(cube) if h in position]
    if not rows:
        return None
    ix, iy, host = (np.array(column, dtype=np.int64) for column in zip(*rows, strict=True))
    return ix, iy, host


def grid_of(cube: xr.Dataset) -> Grid:
    """The grid a cube was built on (cells in cube order, clipped geometry, offset and
    merged slivers restored, so its ``assign`` is the build's)."""
    area = shapely.from_wkt(cube.attrs["area_wkt"])
    return grid_from_cells(
        cube.attrs["crs"],
        cube.attrs["cell_size_m"],
        area,
        cube["ix"].values.astype(np.int64),
        cube["iy"].values.astype(np.int64),
        offset_m=grid_offset(cube),
        merged=merged_squares(cube),
    )


def save_cube(cube: xr.Dataset, path: Path | str) -> Path:
    """Write ``cube`` as zarr at ``path``, replacing any previous cube atomically."""
    check_cube(cube)
    path = Path(path)
    with atomic_path(path) as tmp:
        cube.to_zarr(tmp, mode="w", consolidated=False)
    return path


def open_cube(path: Path | str) -> xr.Dataset:
    """Open a cube saved by ``save_cube`` (loaded into memory) and check it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"cube {path} not found: build it with 'hotspot cube --store STORE'")
    try:
        cube = xr.open_zarr(path, consolidated=False).load()
    except Exception as exc:
        raise DataError(f"cube {path} cannot be read as zarr: {exc}") from None
    # zarr 3 gives variable-length strings back as numpy StringDType; keep plain objects.
    cube = cube.assign_coords(
        cell=cube["cell"].values.astype(object), category=cube["category"].values.astype(object)
    )
    return check_cube(cube)


def cube_from_counts(
    counts: np.ndarray,
    width: int,
    *,
    freq: str = "M",
    start: str = "2019-01-01",
    cell_size_m: float = 150.0,
    crs: str = "EPSG:27700",
    origin: tuple[int, int] = (3500, 1200),
) -> xr.Dataset:
    """A cube holding ``counts (time, cell)`` on a full ``width``-column rectangular grid.

    For simulation studies and tests: cells are ordered row by row (``iy`` then ``ix``,
    as ``build_grid`` orders them), every cell is a whole square (no offset, no merged
    slivers), one crime category.
    """
    counts = np.asarray(counts)
    n_t, n_c = counts.shape
    if n_c % width:
        raise DataError(f"{n_c} cells do not fill rows of {width}")
    ix = origin[0] + np.arange(n_c) % width
    iy = origin[1] + np.arange(n_c) // width
    periods = pd.period_range(pd.Timestamp(start), periods=n_t, freq=PANDAS_FREQ[freq])
    area = shapely.box(ix.min() * cell_size_m, iy.min() * cell_size_m,
                       (ix.max() + 1) * cell_size_m, (iy.max() + 1) * cell_size_m)
    return check_cube(xr.Dataset(
        {"counts": (("time", "cell"), counts.astype(np.int32)),
         "category_counts": (("time", "category", "cell"), counts[:, None, :].astype(np.int32))},
        coords={
            "time": period_starts(periods),
            "cell": np.array([f"{a}_{b}" for a, b in zip(ix, iy, strict=True)], dtype=object),
            "category": np.array(["All"], dtype=object),
            "ix": ("cell", ix.astype(np.int64)), "iy": ("cell", iy.astype(np.int64)),
            "x": ("cell", (ix + 0.5) * cell_size_m), "y": ("cell", (iy + 0.5) * cell_size_m),
            "area_m2": ("cell", np.full(n_c, cell_size_m**2)),
        },
        attrs={"crs": crs, "cell_size_m": float(cell_size_m), "freq": freq,
               "area_wkt": shapely.to_wkt(area), "source": "synthetic", "provenance": "{}",
               "grid_offset_m": [0.0, 0.0], "merged_squares": "[]"},
    ))
