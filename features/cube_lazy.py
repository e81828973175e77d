"""Cubes too big to build or hold at once: open lazily, build month by month.

- :func:`open_cube_lazy` opens a saved cube as dask-backed arrays (nothing is read until a
  value is needed), in the zarr store's own chunks.
- :func:`build_cube_chunked` counts a store's events one month partition at a time and
  writes each block of periods straight into a chunked zarr cube, so memory holds one
  month of events and one block of counts, never the whole event table or cube. The
  result equals :func:`features.cube.build_cube` on all events (same values, coordinates
  and attributes, ``built_at`` aside).
- :func:`hotspot.store_cube.cube_from_store_chunked` is ``cube_from_store`` on top of it,
  for national-scale stores.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import xarray as xr
import zarr

from hotspot.core.atomic import atomic_path
from hotspot.core.errors import DataError
from hotspot.core.periods import PANDAS_FREQ, check_freq, period_range, to_period
from hotspot.features.cube import (
    cf_decode,
    cf_encode,
    check_cube,
    consolidate,
    cube_coords,
    grid_attrs,
    open_zarr_cube,
)
from hotspot.features.grid import Grid
from hotspot.ingest.store import EVENTS_DIR, list_months

#: Periods per chunk along time and cells per chunk along cells.
TIME_CHUNK = 12
CELL_CHUNK = 65_536


def open_cube_lazy(path: Path | str) -> xr.Dataset:
    """Open a saved cube without reading its counts (dask arrays in the zarr chunks)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"cube {path} not found: build it with 'hotspot cube --store STORE'")
    try:
        cube = cf_decode(open_zarr_cube(path, chunks={}))
    except Exception as exc:
        raise DataError(f"cube {path} cannot be read as zarr: {exc}") from None
    # zarr 3 gives variable-length strings back as numpy StringDType; keep plain objects.
    cube = cube.assign_coords(
        cell=cube["cell"].values.astype(object), category=cube["category"].values.astype(object)
    )
    return check_cube(cube)


def _month_files(store: Path, month: str) -> list[str]:
    return sorted(str(f) for f in (Path(store) / EVENTS_DIR / f"month={month}").glob("*.parquet"))


def _read_month(store: Path, month: str, columns: list[str]) -> pa.Table:
    files = _month_files(store, month)
    return ds.dataset(files, format="parquet").to_table(columns=columns)


def _template(grid: Grid, periods: pd.PeriodIndex, categories: np.ndarray, freq: str,
              time_chunk: int, cell_chunk: int) -> xr.Dataset:
    """The cube's coordinates and lazily zero data variables, chunked."""
    n_t, n_k, n_c = len(periods), len(categories), grid.n_cells
    t_chunk, c_chunk = min(time_chunk, n_t), min(cell_chunk, n_c)
    return xr.Dataset(
        {
            "counts": (("time", "cell"),
                       da.zeros((n_t, n_c), chunks=(t_chunk, c_chunk), dtype=np.int32)),
            "category_counts": (("time", "category", "cell"),
                                da.zeros((n_t, n_k, n_c), chunks=(t_chunk, max(n_k, 1), c_chunk),
                                         dtype=np.int32)),
        },
        coords=cube_coords(grid, periods, categories),
    )


def build_cube_chunked(
    store: Path | str,
    grid: Grid,
    freq: str = "M",
    path: Path | str | None = None,
    *,
    first: pd.Period | str | None = None,
    last: pd.Period | str | None = None,
    source: str = "",
    provenance: dict | None = None,
    time_chunk: int = TIME_CHUNK,
    cell_chunk: int = CELL_CHUNK,
    progress: Callable[[str, int, int], None] | None = None,
    check: Callable[[dict], None] | None = None,
) -> Path:
    """Count a store's events per period and cell, one month partition at a time, into a
    chunked zarr cube at ``path`` (default ``STORE/cube.zarr``); returns the path.

    Two passes over the month partitions: the first reads only ``time`` and ``category``
    (the span and the category list), the second counts. Events outside the grid's area
    or the span are not counted; their numbers go into ``provenance`` as in
    :func:`features.cube.build_cube`. ``check(record)`` sees those numbers before the
    new cube replaces the one at ``path``; raising there keeps the old one.
    """
    store = Path(store)
    freq = check_freq(freq)
    pandas_freq = PANDAS_FREQ[freq]
    path = Path(path) if path is not None else store / "cube.zarr"
    months = list_months(store)
    if not months:
        raise DataError(f"store {store} has no events: run 'hotspot ingest' first")

    # pass 1: span and categories
    t_min = t_max = None
    categories: set[str] = set()
    for month in months:
        table = _read_month(store, month, ["time", "category"])
        if table.num_rows:
            lo, hi = pc.min_max(table.column("time")).values()
            t_min = lo.as_py() if t_min is None else min(t_min, lo.as_py())
            t_max = hi.as_py() if t_max is None else max(t_max, hi.as_py())
        categories.update(v for v in pc.unique(table.column("category")).to_pylist() if v)
    if t_min is None and (first is None or last is None):
        raise DataError("no events to build a cube from: ingest some first")
    first_p = to_period(first, freq) if first is not None else pd.Period(t_min, pandas_freq)
    last_p = to_period(last, freq) if last is not None else pd.Period(t_max, pandas_freq)
    if first_p > last_p:
        raise DataError(f"cube span is empty: first period {first_p} is after last {last_p}")
    periods = period_range(first_p, last_p)
    category_list = np.array(sorted(categories), dtype=object)
    n_t, n_k, n_c = len(periods), len(category_list), grid.n_cells

    record = {"n_events_in": 0, "n_events_counted": 0, "n_events_outside_area": 0,
              "n_events_outside_span": 0}
    with atomic_path(path) as tmp:
        # the same on-disk form as features.cube.save_cube: CF attributes, and the
        # metadata consolidated once the attributes are final (below)
        template = _template(grid, periods, category_list, freq, time_chunk, cell_chunk)
        cf_encode(template.assign_attrs(crs=grid.crs)).to_zarr(
            tmp, mode="w", compute=False, consolidated=False)
        group = zarr.open_group(str(tmp), mode="r+")
        blocks: dict[int, np.ndarray] = {}

        def flush(upto: int) -> None:
            """Write (and drop) every block that ends at or before period ``upto``."""
            for b in sorted(blocks):
                start, stop = b * time_chunk, min((b + 1) * time_chunk, n_t)
                if stop > upto:
                    continue
                block = blocks.pop(b)[: stop - start]
                group["category_counts"][start:stop] = block
                group["counts"][start:stop] = block.sum(axis=1, dtype=np.int32)

        for done, month in enumerate(months):
            if progress is not None:
                progress("cube", done, len(months))
            table = _read_month(store, month, ["x", "y", "time", "category"])
            n = table.num_rows
            record["n_events_in"] += n
            if n:
                x = table.column("x").to_numpy(zero_copy_only=False)
                y = table.column("y").to_numpy(zero_copy_only=False)
                times = pd.DatetimeIndex(table.column("time").to_numpy(zero_copy_only=False))
                time_pos = times.to_period(pandas_freq).asi8 - first_p.ordinal
                cell_pos = grid.assign(x, y)
                in_span = (time_pos >= 0) & (time_pos < n_t)
                counted = (cell_pos >= 0) & in_span
                record["n_events_counted"] += int(counted.sum())
                record["n_events_outside_area"] += int(((cell_pos < 0) & in_span).sum())
                record["n_events_outside_span"] += int((~in_span).sum())
                category = table.column("category").to_numpy(zero_copy_only=False)
                category_pos = np.searchsorted(category_list, category[counted].astype(object))
                t_pos, c_pos = time_pos[counted], cell_pos[counted]
                for p in np.unique(t_pos):
                    here = t_pos == p
                    flat = category_pos[here] * n_c + c_pos[here]
                    counts = np.bincount(flat, minlength=n_k * n_c).reshape(n_k, n_c)
                    b = int(p) // time_chunk
                    if b not in blocks:
                        blocks[b] = np.zeros((time_chunk, n_k, n_c), dtype=np.int32)
                    blocks[b][int(p) % time_chunk] += counts.astype(np.int32)
            if done + 1 < len(months):  # later months start no earlier than their 1st day
                start = pd.Period(months[done + 1], "M").start_time
                flush(pd.Period(start, pandas_freq).ordinal - first_p.ordinal)
        flush(n_t)
        if check is not None:
            check(record)
        if progress is not None:
            progress("cube", len(months), len(months))

        group.attrs.update({
            **grid_attrs(grid),
            "freq": freq,
            "source": source,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "provenance": json.dumps({**record, **(provenance or {})}, sort_keys=True,
                                     default=str),
        })
        consolidate(tmp)
    return path
