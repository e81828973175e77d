"""A store's cube: its study area, grid and counts, built under the store's lock, saved as
``STORE/cube.zarr`` and refused when the store's events changed since (``cube_guard``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from hotspot.core.area import StudyArea, load_area, same_crs
from hotspot.core.errors import DataError
from hotspot.core.locking import store_lock
from hotspot.core.progress import ProgressCallback
from hotspot.cube_guard import check_cube_current, check_cube_size, cube_file_hashes
from hotspot.features.cube import build_cube, open_cube, save_cube
from hotspot.features.cube_lazy import build_cube_chunked
from hotspot.features.grid import Grid, build_grid
from hotspot.ingest.store import (
    AREA_FILE,
    EVENTS_DIR,
    ensure_committed,
    list_months,
    read_events,
    read_store_meta,
)

CUBE_FILE = "cube.zarr"


def store_area(store: Path, area: StudyArea | None = None) -> StudyArea:
    """The given study area, else the one saved in the store at ingest."""
    if area is not None:
        return area
    saved = Path(store) / AREA_FILE
    if not saved.exists():
        raise DataError(
            f"store {store} has no study area: pass --area FILE (and --area-filter) "
            "or ingest with --area"
        )
    return load_area(saved)


def _check_contiguous(months: list[str], store: Path) -> None:
    if not months:
        raise DataError(f"store {store} has no events: run 'hotspot ingest' first")
    expected = pd.period_range(months[0], months[-1], freq="M").strftime("%Y-%m").tolist()
    missing = sorted(set(expected) - set(months))
    if missing:
        raise DataError(
            f"store {store} has no events for month(s) {', '.join(missing)} between "
            f"{months[0]} and {months[-1]}: ingest them, or the cube would read them as zero crime"
        )


def cube_from_store(
    store: Path,
    cell_size_m: float = 150.0,
    freq: str = "M",
    area: StudyArea | None = None,
    *,
    max_cube_gb: float | None = None,
    offset_m: tuple[float, float] = (0.0, 0.0),
) -> xr.Dataset:
    """Build the cube of a store's events on a grid over its study area.

    Refuses (``DataError``) a cube whose estimated build memory is over ``max_cube_gb``
    and one in which no event falls inside the area: saved, it would replace a good cube
    with zeros.
    """
    store = Path(store)
    ensure_committed(store)  # before the lock: under our own lock it cannot tell
    with store_lock(store):
        grid, provenance = store_grid(store, cell_size_m, freq, area, max_cube_gb=max_cube_gb,
                                      offset_m=offset_m)
        cube = build_cube(read_events(store), grid, freq,
                          source=",".join(provenance["sources"]), provenance=provenance)
    _check_counted(json.loads(cube.attrs["provenance"]), store, grid)
    return cube


def _check_counted(record: Mapping[str, Any], store: Path, grid: Grid) -> None:
    if record["n_events_counted"] == 0:
        raise DataError(
            f"none of the {record['n_events_in']:,} events of store {store} falls inside the "
            f"study area ({grid.n_cells:,} cells of {grid.cell_size_m:g} m): check --area, "
            "--area-filter and the area's CRS; no cube was written and any previous one is kept")


def store_grid(
    store: Path, cell_size_m: float, freq: str, area: StudyArea | None, *,
    max_cube_gb: float | None = None, offset_m: tuple[float, float] = (0.0, 0.0),
) -> tuple[Grid, dict]:
    """The grid a store's cube is built on, and the cube's provenance.

    Checks the store can give ``freq`` periods and has no missing month, and that the
    cube's estimated build memory is within ``max_cube_gb`` before the grid is built;
    the area is the given one or the store's, in the store's CRS; squares are aligned to
    ``offset_m + k * cell_size_m``.
    """
    meta = read_store_meta(store)
    if meta["time_resolution"] == "month" and freq != "M":
        raise DataError(
            f"store {store} has monthly events (police.uk has no day or time): use --freq M"
        )
    months = list_months(store)
    _check_contiguous(months, store)
    study_area = store_area(store, area)
    if not same_crs(study_area.crs, meta["crs"]):
        study_area = StudyArea(parts=study_area.parts.to_crs(meta["crs"]), crs=meta["crs"])
    check_cube_size(store, study_area, cell_size_m, freq, months, max_cube_gb)
    provenance = {
        "store": str(store.resolve()),
        "first_month": months[0],
        "last_month": months[-1],
        "sources": sorted({f.stem for f in (store / EVENTS_DIR).glob("month=*/*.parquet")}),
        "event_files_sha256": cube_file_hashes(store),
        # the reports say what the area includes: a land clip (--clip-water) is recorded
        **({"area_clipped_to": study_area.clipped_to} if study_area.clipped_to else {}),
    }
    return build_grid(study_area, cell_size_m, offset_m), provenance


def cube_from_store_chunked(
    store: Path | str,
    cell_size_m: float = 150.0,
    freq: str = "M",
    area: StudyArea | None = None,
    path: Path | str | None = None,
    *,
    progress: ProgressCallback | None = None,
    max_cube_gb: float | None = None,
    offset_m: tuple[float, float] = (0.0, 0.0),
) -> Path:
    """``cube_from_store`` with bounded memory: the same checks and provenance, the cube
    built month by month and written chunked to ``path`` (default ``STORE/cube.zarr``);
    a cube with no event in the area is refused before it replaces the one at ``path``."""
    store = Path(store)
    ensure_committed(store)
    with store_lock(store):
        grid, provenance = store_grid(store, cell_size_m, freq, area, max_cube_gb=max_cube_gb,
                                      offset_m=offset_m)
        return build_cube_chunked(store, grid, freq, path, source=",".join(provenance["sources"]),
                                  provenance=provenance, progress=progress,
                                  check=lambda record: _check_counted(record, store, grid))


def save_store_cube(cube: xr.Dataset, store: Path) -> Path:
    with store_lock(store):
        return save_cube(cube, Path(store) / CUBE_FILE)


def open_store_cube(store: Path, cube_path: Path | None = None) -> xr.Dataset:
    """The store's cube (``STORE/cube.zarr``) or the one at ``cube_path``, refused
    (``DataError``) if the store's events changed since it was built."""
    path = Path(cube_path) if cube_path else Path(store) / CUBE_FILE
    if not path.exists():
        raise DataError(f"no cube at {path}: build it with 'hotspot cube --store {store}'")
    return check_cube_current(open_cube(path), Path(store), path)
