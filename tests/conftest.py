"""Fixtures shared by every test package: tiny seeded synthetic data with known answers,
and the path to the real shared data (tests using it skip when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from hotspot.core.area import StudyArea
from hotspot.core.resources import embedded_path
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: ``../shared/data`` beside the checkout; ``HOTSPOT_SHARED_DATA`` points elsewhere (CI runs
#: the suite from a copy outside the checkout against the installed wheel).
SHARED_DATA = Path(os.environ.get("HOTSPOT_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
#: The package data as installed, never the source tree's copy.
EMBEDDED_DATA = embedded_path()


def require_shared(*parts: str) -> Path:
    """Path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data {path} is absent (../shared/data not beside the project)")
    return path


@pytest.fixture
def square_area() -> StudyArea:
    """A 600 m x 450 m rectangle on the British National Grid: 4 x 3 cells of 150 m."""
    parts = gpd.GeoDataFrame({"name": ["box"]}, geometry=[box(530_100, 181_050, 530_700, 181_500)],
                             crs="EPSG:27700")
    return StudyArea(parts=parts, crs="EPSG:27700")


def make_events(
    area: StudyArea, months: pd.DatetimeIndex, n_per_month: int, hot_xy: tuple[float, float] | None,
    hot_share: float = 0.5, seed: int = 0,
) -> pd.DataFrame:
    """Seeded events spread over ``area``'s bounding box; ``hot_share`` of them at ``hot_xy``."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.geometry.bounds
    n = n_per_month * len(months)
    x = rng.uniform(minx + 1, maxx - 1, n)
    y = rng.uniform(miny + 1, maxy - 1, n)
    if hot_xy is not None:
        hot = rng.random(n) < hot_share
        x[hot], y[hot] = hot_xy
    return pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n)],
        "time": np.repeat(months.to_numpy(), n_per_month),
        "x": x, "y": y,
        "category": rng.choice(["Burglary", "Robbery"], n),
        "source": "synthetic",
    })


@pytest.fixture
def hot_cell_events(square_area: StudyArea) -> pd.DataFrame:
    """The events behind ``hot_cell_cube``: 40 a month for 24 months (month-resolution
    times, all on the 1st), half of them at the centre of the cell ``3535_1207``."""
    months = pd.date_range("2019-01-01", periods=24, freq="MS")
    return make_events(square_area, months, 40, hot_xy=(530_325.0, 181_125.0), seed=1)


@pytest.fixture
def hot_cell_cube(square_area: StudyArea, hot_cell_events: pd.DataFrame):
    """24 months on the 4 x 3 grid; half of all events fall in the cell ``3535_1207``."""
    grid = build_grid(square_area, 150)
    return build_cube(hot_cell_events, grid, "M", source="synthetic")
