"""The seeded simulators reproduce the branching structure they are given.

Each statistic is compared with its known value within about four standard errors, so a
simulator with a wrong rate, lag, branching ratio or spatial kernel fails.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from hotspot.core.area import StudyArea
from hotspot.core.errors import ConfigError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.models.simulate import sample_background, simulate_grid_etas, simulate_sepp

H = 150.0
X0, Y0 = 3500 * H, 1200 * H
CANONICAL = ["event_id", "time", "lon", "lat", "x", "y", "category", "area_code", "source"]


def _grid(n_side: int):
    area = StudyArea(parts=gpd.GeoDataFrame(
        {"name": ["square"]}, geometry=[box(X0, Y0, X0 + n_side * H, Y0 + n_side * H)],
        crs="EPSG:27700"), crs="EPSG:27700")
    return build_grid(area, H)


@pytest.fixture(scope="module")
def grid20():
    return _grid(20)


@pytest.fixture(scope="module")
def grid_events(grid20):
    cells = grid20.cells
    return simulate_grid_etas(cells["ix"].to_numpy(), cells["iy"].to_numpy(), H, 0.05, 0.5,
                              0.2, H, 400, seed=11)


@pytest.fixture(scope="module")
def sepp_events():
    bounds = (X0, Y0, X0 + 9000.0, Y0 + 9000.0)
    return simulate_sepp(bounds, 20.0, 0.5, 0.2, 100.0, 400, seed=12)


def _children(events: pd.DataFrame, days: float, margin: float):
    """Parents early enough that (almost) all their offspring are seen, and the children."""
    start = events["time"].min().normalize()
    t = ((events["time"] - start) / pd.Timedelta(days=1)).to_numpy()
    parent = events["parent"].to_numpy()
    early = np.flatnonzero(t < days - margin)
    kids = np.flatnonzero(parent >= 0)
    return t, parent, early, kids


def test_grid_simulation_is_seeded_and_canonical(grid20, grid_events):
    cells = grid20.cells
    again = simulate_grid_etas(cells["ix"].to_numpy(), cells["iy"].to_numpy(), H, 0.05, 0.5,
                               0.2, H, 400, seed=11)
    pd.testing.assert_frame_equal(grid_events, again)
    other = simulate_grid_etas(cells["ix"].to_numpy(), cells["iy"].to_numpy(), H, 0.05, 0.5,
                               0.2, H, 400, seed=12)
    assert len(other) != len(grid_events) or not np.array_equal(other["x"], grid_events["x"])
    assert list(grid_events.columns[:len(CANONICAL)]) == CANONICAL
    assert grid_events["time"].dtype == "datetime64[ns]"
    assert grid_events["time"].is_monotonic_increasing
    assert grid_events["time"].min() >= pd.Timestamp("2020-01-01")
    assert grid_events["time"].max() < pd.Timestamp("2020-01-01") + pd.Timedelta(days=400)
    assert (grid_events["time"].dt.second == 0).all()  # minute precision
    assert grid_events["event_id"].is_unique
    # the table goes through the cube: every event lands in a cell
    cube = build_cube(grid_events, grid20, "D")
    assert int(cube["counts"].sum()) == len(grid_events)


def test_grid_simulation_has_the_given_branching_structure(grid20, grid_events):
    days, theta, omega = 400, 0.5, 0.2
    t, parent, early, kids = _children(grid_events, days, margin=60)
    n_background = int((parent < 0).sum())
    expected = 0.05 * grid20.n_cells * days
    assert abs(n_background - expected) < 4 * np.sqrt(expected)
    assert (t[kids] >= t[parent[kids]]).all()
    # offspring per event (events early enough that lags past the end are negligible)
    n_kids = np.bincount(parent[kids], minlength=len(t))[early]
    assert abs(n_kids.mean() - theta) < 4 * np.sqrt(theta / early.size)
    # exponential lags with mean 1/ω
    from_early = kids[t[parent[kids]] < days - 60]
    lags = t[from_early] - t[parent[from_early]]
    assert abs(lags.mean() - 1 / omega) < 4 * (1 / omega) / np.sqrt(lags.size)
    # displacement: share of offspring in the parent's own cell, for parents 4+ cells from
    # the edge, is the discrete Gaussian's centre weight 1 / Σ_{|o| <= 4} e^{-|o|²/2}
    ix = np.floor(grid_events["x"].to_numpy() / H).astype(int)
    iy = np.floor(grid_events["y"].to_numpy() / H).astype(int)
    col, row = ix - int(X0 / H), iy - int(Y0 / H)
    inner = kids[(np.minimum(col, row)[parent[kids]] >= 4) &
                 (np.maximum(col, row)[parent[kids]] <= 15)]
    same = (ix[inner] == ix[parent[inner]]) & (iy[inner] == iy[parent[inner]])
    o = np.arange(-4, 5)
    sq = (o[:, None] ** 2 + o[None, :] ** 2).ravel()
    centre = 1.0 / np.exp(-sq[sq <= 16] / 2.0).sum()
    assert abs(same.mean() - centre) < 4 * np.sqrt(centre * (1 - centre) / inner.size)


def test_sepp_simulation_has_the_given_branching_structure(sepp_events):
    days, theta, omega, sigma = 400, 0.5, 0.2, 100.0
    x, y = sepp_events["x"].to_numpy(), sepp_events["y"].to_numpy()
    assert ((x >= X0) & (x < X0 + 9000) & (y >= Y0) & (y < Y0 + 9000)).all()
    t, parent, early, kids = _children(sepp_events, days, margin=60)
    n_background = int((parent < 0).sum())
    assert abs(n_background - 20 * days) < 4 * np.sqrt(20 * days)
    # offspring of interior, early events (few lost outside the square or after the end)
    interior = (np.minimum(x - X0, y - Y0) > 5 * sigma) & \
        (np.maximum(x - X0, y - Y0) < 9000 - 5 * sigma)
    parents = early[interior[early]]
    n_kids = np.bincount(parent[kids], minlength=len(t))[parents]
    assert abs(n_kids.mean() - theta) < 4 * np.sqrt(theta / parents.size)
    inner = kids[interior[parent[kids]]]
    dx, dy = x[inner] - x[parent[inner]], y[inner] - y[parent[inner]]
    assert abs(np.concatenate([dx, dy]).std() - sigma) < 0.05 * sigma
    lags = t[inner] - t[parent[inner]]
    lags = lags[t[parent[inner]] < days - 60]
    assert abs(lags.mean() - 1 / omega) < 4 * (1 / omega) / np.sqrt(lags.size)


def test_sepp_simulation_exponential_trigger_and_bumps():
    bounds = (0.0, 0.0, 10_000.0, 10_000.0)
    events = simulate_sepp(bounds, 10.0, 0.5, 0.5, 50.0, 200, trigger="exponential",
                           bumps=[(2000.0, 2000.0, 300.0, 1.0)], uniform_share=0.5, seed=3)
    x, y, parent = events["x"].to_numpy(), events["y"].to_numpy(), events["parent"].to_numpy()
    kids = np.flatnonzero(parent >= 0)
    inner = kids[(np.minimum(x, y)[parent[kids]] > 1000) &
                 (np.maximum(x, y)[parent[kids]] < 9000)]
    distance = np.hypot(x[inner] - x[parent[inner]], y[inner] - y[parent[inner]])
    assert abs(distance.mean() - 2 * 50.0) < 0.08 * 100  # Gamma(2, σ) has mean 2σ
    background = parent < 0
    near_bump = np.hypot(x - 2000, y - 2000) < 600
    # half the background is the bump (1 - e^-2 of it within 2 sd), half uniform
    expected = 0.5 * (1 - np.exp(-2.0)) + 0.5 * np.pi * 600**2 / 1e8
    share = near_bump[background].mean()
    assert abs(share - expected) < 4 * np.sqrt(expected * (1 - expected) / background.sum())


def test_background_mixture_stays_in_the_rectangle():
    rng = np.random.default_rng(0)
    x, y = sample_background(rng, 5000, (0, 0, 100, 50), [(0.0, 0.0, 80.0, 1.0)], 0.0)
    assert ((x >= 0) & (x < 100) & (y >= 0) & (y < 50)).all()


def test_simulators_refuse_explosive_parameters(grid20):
    cells = grid20.cells
    with pytest.raises(ConfigError, match="theta"):
        simulate_grid_etas(cells["ix"], cells["iy"], H, 0.1, 1.2, 0.2, H, 10)
    with pytest.raises(ConfigError, match="trigger"):
        simulate_sepp((0, 0, 1, 1), 1.0, 0.5, 0.2, 1.0, 10, trigger="cauchy")
