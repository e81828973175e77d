"""What the store's cube must satisfy before it is built or used.

- :func:`store_fingerprint`: SHA-256 of each event file; a cube records the one it was
  built from, and :func:`check_cube_current` refuses a cube the store has moved past
  (months ingested or re-ingested since), which would otherwise forecast a month the
  store already holds.
- :func:`check_cube_size`: cells, periods and categories are known before anything is
  built, so a 1 m grid of a city is refused with its estimate in a second instead of
  taking minutes and tens of GB.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import xarray as xr

from hotspot.core.area import StudyArea
from hotspot.core.errors import DataError
from hotspot.core.periods import PANDAS_FREQ
from hotspot.features.cube import estimate_cube_bytes
from hotspot.features.grid import estimate_grid
from hotspot.ingest.store import EVENTS_DIR

#: The largest cube (estimated peak memory of the build, GB) built without asking.
DEFAULT_MAX_CUBE_GB = 4.0
#: Hex digits of each file hash kept in the cube's attributes: plenty to tell files apart.
_HASH_DIGITS = 16


def _event_files(store: Path) -> list[Path]:
    return sorted((Path(store) / EVENTS_DIR).glob("month=*/*.parquet"))


def store_fingerprint(store: Path) -> dict[str, Any]:
    """SHA-256 of each of the store's event files (``files``) and one over them all
    (``sha256``): what the cube's provenance and the nightly state record."""
    hashes = {str(f.relative_to(store)): hashlib.sha256(f.read_bytes()).hexdigest()
              for f in _event_files(store)}
    overall = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return {"sha256": overall, "files": hashes}


def cube_file_hashes(store: Path) -> dict[str, str]:
    """The per-file hashes as a cube's provenance keeps them (shortened)."""
    return {k: v[:_HASH_DIGITS] for k, v in store_fingerprint(store)["files"].items()}


def _month_of(name: str) -> str:
    return Path(name).parent.name.removeprefix("month=")


def check_cube_current(cube: xr.Dataset, store: Path, path: Path) -> xr.Dataset:
    """Return ``cube`` if it was built from the store's events as they are now, else raise
    ``DataError`` naming the months that changed and the command that rebuilds it.

    A cube without a record of its event files (a synthetic cube saved by hand) cannot
    be checked and is returned as it is: every cube built from a store has the record.
    """
    try:
        recorded = json.loads(cube.attrs.get("provenance") or "{}").get("event_files_sha256")
    except (ValueError, AttributeError, TypeError):
        recorded = None
    if not isinstance(recorded, dict):
        return cube
    rebuild = f"rebuild it with 'hotspot cube --store {store}'"
    current = cube_file_hashes(store)
    if recorded == current:
        return cube
    changed = sorted({_month_of(name) for name in set(recorded) | set(current)
                      if recorded.get(name) != current.get(name)})
    shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    raise DataError(f"cube {path} is out of date: the store's events for {shown} were "
                    f"ingested or changed after it was built; {rebuild}")


def store_categories(store: Path) -> int:
    """How many crime categories the store's events have (reads only that column)."""
    files = [str(f) for f in _event_files(store)]
    if not files:
        return 0
    column = ds.dataset(files, format="parquet").to_table(columns=["category"]).column(
        "category")
    return len(pc.unique(column.drop_null()))


def n_periods_between(first_month: str, last_month: str, freq: str) -> int:
    """Periods of ``freq`` from the start of ``first_month`` to the end of ``last_month``."""
    start = pd.Period(first_month, "M").start_time
    end = pd.Period(last_month, "M").end_time
    pandas_freq = PANDAS_FREQ[freq]
    return int(pd.Period(end, pandas_freq).ordinal - pd.Period(start, pandas_freq).ordinal + 1)


def check_cube_size(store: Path, area: StudyArea, cell_size_m: float, freq: str,
                    months: list[str], max_cube_gb: float | None) -> dict[str, float]:
    """The estimated cells and peak memory of building the store's cube; ``DataError``
    with the estimate when it is over ``max_cube_gb`` (default :data:`DEFAULT_MAX_CUBE_GB`)."""
    limit = DEFAULT_MAX_CUBE_GB if max_cube_gb is None else float(max_cube_gb)
    n_squares, n_cells = estimate_grid(area.geometry, cell_size_m)
    n_periods = n_periods_between(months[0], months[-1], freq)
    n_categories = max(store_categories(store), 1)
    n_bytes = estimate_cube_bytes(n_periods, n_categories, n_cells, n_squares)
    estimate = {"n_squares": n_squares, "n_cells": n_cells, "n_periods": n_periods,
                "n_categories": n_categories, "gb": n_bytes / 1e9}
    if n_bytes / 1e9 > limit:
        raise DataError(
            f"a {cell_size_m:g} m cube of this area would need about {n_cells:,} cells x "
            f"{n_periods} periods x {n_categories} categories, about {n_bytes / 1e9:,.1f} GB "
            f"of memory to build, over the limit of {limit:g} GB: use a larger --cell, or "
            f"raise the limit with --max-cube-gb {max(n_bytes / 1e9 * 1.2, limit):.0f}")
    return estimate
