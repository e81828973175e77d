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

On disk the cube is Zarr v3 with consolidated metadata (plain ``xr.open_zarr(path)`` opens
it without a warning; every array keeps its own ``zarr.json`` too, which is what GDAL's
Zarr driver and other implementations read) and CF-1.8
attributes (:func:`cf_encode`): ``units`` and ``long_name`` on every numeric variable,
``standard_name`` on the cell centres and areas, and a ``spatial_ref`` grid-mapping
variable holding the CRS as WKT, named by each count variable's ``grid_mapping``. The
grid is a 1-D ``cell`` dimension, not an x/y raster: ``x``/``y`` are the cell centres.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import xarray as xr
from pyproj import CRS
from pyproj.exceptions import CRSError

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


#: The grid-mapping variable of a saved cube (the name GDAL and rioxarray use).
GRID_MAPPING = "spatial_ref"
#: CF attributes of the variables every cube has (``time`` gets its units from the
#: encoding; the string ids ``cell`` and ``category`` carry no units).
CF_VARIABLES: dict[str, dict[str, str]] = {
    "time": {"standard_name": "time", "long_name": "start of the period", "axis": "T"},
    "cell": {"long_name": "cell id: column_row of the cell's lower-left square on the "
                          "grid (ix_iy)"},
    "category": {"long_name": "crime category (as the source names it)"},
    "ix": {"long_name": "grid column of the cell's square (x // cell_size_m)", "units": "1"},
    "iy": {"long_name": "grid row of the cell's square (y // cell_size_m)", "units": "1"},
    "x": {"standard_name": "projection_x_coordinate", "long_name": "x of the cell centre "
          "(easting)", "units": "m"},
    "y": {"standard_name": "projection_y_coordinate", "long_name": "y of the cell centre "
          "(northing)", "units": "m"},
    "area_m2": {"standard_name": "cell_area", "long_name": "area of the cell inside the "
                "study area", "units": "m2"},
}


def _count_attrs(cube: xr.Dataset, name: str) -> dict[str, str]:
    weighted = cube[name].dtype.kind == "f"
    what = "harm-weighted events" if weighted else "events"
    split = " and crime category" if name == "category_counts" else ""
    target = f" (target {cube.attrs['target']})" if "target" in cube.attrs else ""
    return {"long_name": f"{what} per period{split} and cell{target}",
            "units": "1", "grid_mapping": GRID_MAPPING, "cell_methods": "time: sum"}


def cf_encode(cube: xr.Dataset) -> xr.Dataset:
    """The cube as it is written: CF-1.8 attributes on it and its variables and a
    ``spatial_ref`` grid-mapping variable with the CRS (``crs_wkt``, and pyproj's CF
    parameters); the counts are left as they are."""
    try:
        crs = CRS.from_user_input(cube.attrs["crs"])
    except CRSError as exc:
        raise DataError(f"cube crs {cube.attrs['crs']!r} is not a CRS: {exc}") from None
    mapping = {**crs.to_cf(), "spatial_ref": crs.to_wkt(),  # GDAL's and rioxarray's name
               "long_name": "coordinate reference system of x and y"}
    out = cube.assign({GRID_MAPPING: xr.DataArray(np.int32(0), attrs=mapping)})
    for name, attrs in CF_VARIABLES.items():
        if name in out.variables:
            out[name].attrs.update(attrs)
    for name in ("counts", "category_counts"):
        if name in out:
            out[name].attrs.update(_count_attrs(out, name))
            out[name].attrs["_CRS"] = {"wkt": crs.to_wkt()}  # GDAL's own CRS attribute
    out.attrs.update({"Conventions": "CF-1.8",
                      "title": "hotspot counts cube: events per period and grid cell"})
    return out


def cf_decode(cube: xr.Dataset) -> xr.Dataset:
    """A saved cube as the project holds it in memory: without the grid-mapping variable
    and the CF attributes (the CRS stays in ``attrs['crs']``), so a cube derived from it
    (another target) never carries a description of the one it came from."""
    cube = cube.drop_vars(GRID_MAPPING, errors="ignore")
    cf_keys = {"standard_name", "long_name", "units", "axis", "grid_mapping", "cell_methods",
               "_CRS"}
    for name in cube.variables:
        cube[name].attrs = {k: v for k, v in cube[name].attrs.items() if k not in cf_keys}
    cube.attrs = {k: v for k, v in cube.attrs.items() if k not in ("Conventions", "title")}
    return cube


#: What zarr-python says when it writes consolidated metadata into a v3 store: they are
#: its extension of the format (readers that lack it read each array's ``zarr.json``).
#: Said at every write, it tells a user nothing; v2 would avoid it, but v2 stores keep
#: their metadata in dot files, which the store's copy and clean-up code treats as
#: temporaries.
_V3_CONSOLIDATED = "Consolidated metadata is currently not part"


@contextmanager
def _quiet_consolidation() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_V3_CONSOLIDATED)
        yield


def consolidate(path: Path | str) -> None:
    """Write the consolidated metadata of the zarr store at ``path`` (after attributes
    were changed in place)."""
    import zarr

    with _quiet_consolidation():
        zarr.consolidate_metadata(str(path))


def save_cube(cube: xr.Dataset, path: Path | str) -> Path:
    """Write ``cube`` as zarr at ``path`` (consolidated, CF attributes), replacing any
    previous cube atomically."""
    check_cube(cube)
    path = Path(path)
    with atomic_path(path) as tmp, _quiet_consolidation():
        # chunks and codecs of the cube it was read from do not carry over
        cf_encode(cube).drop_encoding().to_zarr(tmp, mode="w", consolidated=True)
    return path


def open_zarr_cube(path: Path, **kwargs: object) -> xr.Dataset:
    """``xr.open_zarr`` on a cube of any age: consolidated (this version) or not (cubes
    written before), without the warning a missing consolidation gives."""
    try:
        return xr.open_zarr(path, consolidated=True, **kwargs)
    except (KeyError, ValueError, FileNotFoundError):
        return xr.open_zarr(path, consolidated=False, **kwargs)


def open_cube(path: Path | str) -> xr.Dataset:
    """Open a cube saved by ``save_cube`` (loaded into memory) and check it."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"cube {path} not found: build it with 'hotspot cube --store STORE'")
    try:
        cube = cf_decode(open_zarr_cube(path).load())
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
