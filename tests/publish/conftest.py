"""Shared fixtures: a seeded synthetic City of London cube, a forecast and a backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

import hotspot.models  # noqa: F401  (registers the models)
from hotspot.core.area import load_area
from hotspot.evaluation.backtest import backtest
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.models.registry import make_model
from hotspot.publish import publish_forecast
from tests.conftest import EMBEDDED_DATA

AREA_FILE = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"
CATEGORIES = ["burglary", "shoplifting", "theft-from-the-person", "violent-crime"]
# hotspot centres (EPSG:27700 metres) inside the City, and their share of events
OGL = "Contains public sector information licensed under the Open Government Licence v3.0."
HOTSPOTS = [((532300.0, 181200.0), 0.30), ((533300.0, 181100.0), 0.20),
            ((531700.0, 181500.0), 0.10)]


@pytest.fixture(scope="session")
def area():
    return load_area(AREA_FILE)


@pytest.fixture(scope="session")
def grid(area):
    return build_grid(area, 150)


def synthetic_events(area, months: pd.PeriodIndex, per_month: int = 120,
                     seed: int = 7) -> pd.DataFrame:
    """Events inside ``area``: most near a few hotspots, the rest uniform."""
    rng = np.random.default_rng(seed)
    geometry = area.geometry
    minx, miny, maxx, maxy = geometry.bounds
    frames = []
    for month in months:
        n = int(rng.poisson(per_month))
        centre = rng.choice(len(HOTSPOTS) + 1, size=n,
                            p=[s for _, s in HOTSPOTS] + [1 - sum(s for _, s in HOTSPOTS)])
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        for k, ((cx, cy), _) in enumerate(HOTSPOTS):
            near = centre == k
            x[near] = rng.normal(cx, 80.0, near.sum())
            y[near] = rng.normal(cy, 80.0, near.sum())
        day = rng.integers(0, month.days_in_month, n)
        frames.append(pd.DataFrame({
            "time": month.start_time + pd.to_timedelta(day, unit="D"),
            "x": x, "y": y, "category": rng.choice(CATEGORIES, n),
        }))
    events = pd.concat(frames, ignore_index=True)
    inside = shapely.contains_xy(geometry, events["x"].to_numpy(), events["y"].to_numpy())
    return events.loc[inside].reset_index(drop=True)


@pytest.fixture(scope="session")
def cube(area, grid):
    events = synthetic_events(area, pd.period_range("2019-01", "2020-12", freq="M"))
    return build_cube(events, grid, "M", source="synthetic",
                      provenance={"generator": "tests/publish/conftest.py", "seed": 7})


@pytest.fixture(scope="session")
def forecast(cube):
    return make_model("naive-mean").fit(cube, "2020-12").predict(1)


@pytest.fixture(scope="session")
def backtest_result(cube):
    return backtest(cube, ["naive-last", "naive-mean", "naive-longrun"], "2020-07", "2020-12",
                    n_bootstrap=200)


@pytest.fixture(scope="session")
def published(tmp_path_factory, forecast, cube, backtest_result, area):
    out = tmp_path_factory.mktemp("with-backtest") / "out"
    return publish_forecast(forecast, cube, out, backtest=backtest_result,
                            area_parts=area.parts.to_crs("EPSG:4326"), attribution=OGL)


@pytest.fixture(scope="session")
def published_plain(tmp_path_factory, forecast, cube):
    out = tmp_path_factory.mktemp("plain")
    return publish_forecast(forecast.squeeze("time"), cube, out)
