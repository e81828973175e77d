"""etas-grid's smoothed background (Mohler 2014): better background recovery at few events
per cell, its bandwidth chosen on training counts, and the cell background unchanged."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from hotspot.core.area import StudyArea
from hotspot.core.errors import ConfigError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.models.registry import make_model
from hotspot.models.simulate import simulate_grid_etas

H = 150.0
N_SIDE = 20
DAYS = 730


@pytest.fixture(scope="module")
def grid():
    x0, y0 = 3500 * H, 1200 * H
    area = StudyArea(parts=gpd.GeoDataFrame(
        {"name": ["square"]}, geometry=[box(x0, y0, x0 + N_SIDE * H, y0 + N_SIDE * H)],
        crs="EPSG:27700"), crs="EPSG:27700")
    return build_grid(area, H)


def _smooth_mu(grid, total=2.0):
    """A broad bump over a floor: about five events per cell in two years."""
    ix, iy = grid.cells["ix"].to_numpy(), grid.cells["iy"].to_numpy()
    r2 = (ix - ix.mean() - 3) ** 2 + (iy - iy.mean() + 2) ** 2
    mu = 0.2 + np.exp(-r2 / (2 * 4.0**2))
    return mu * total / mu.sum()


def _scenario(grid, seed):
    mu = _smooth_mu(grid)
    events = simulate_grid_etas(grid.cells["ix"].to_numpy(), grid.cells["iy"].to_numpy(), H,
                                mu, 0.3, 0.2, H, DAYS, start=pd.Timestamp("2018-01-01"),
                                seed=seed)
    return build_cube(events, grid, "D", source="sim"), events, mu


@pytest.mark.parametrize("seed", [0, 1])
def test_smoothed_background_recovers_a_smooth_background_better(grid, seed):
    cube, events, mu = _scenario(grid, seed)
    assert len(events) / len(mu) < 7  # few events per cell: where the cell rates are noisy
    last = cube["time"].values[-1]
    errors = {}
    for background in ("cell", "smoothed"):
        model = make_model("etas-grid", background=background).fit(cube, last, events=events)
        estimate = np.asarray(model.fitted_params()["mu_per_cell"])
        errors[background] = np.abs(estimate - mu).sum() / mu.sum()
        assert estimate.sum() == pytest.approx(mu.sum(), rel=0.25)
    assert errors["smoothed"] < 0.6 * errors["cell"]
    params = model.fitted_params()
    assert params["background"] == "smoothed"
    assert params["background_bandwidth_m"] >= H
    assert len(params["background_holdout_loglik"]) == 6


def test_cell_background_is_unchanged_by_the_new_options(grid):
    cube, events, _ = _scenario(grid, 2)
    last = cube["time"].values[-1]
    default = make_model("etas-grid").fit(cube, last, events=events)
    explicit = make_model("etas-grid", background="cell",
                          background_bandwidth_m=None).fit(cube, last, events=events)
    np.testing.assert_array_equal(default.predict(3).values, explicit.predict(3).values)
    a, b = default.fitted_params(), explicit.fitted_params()
    assert "background" not in a
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key], dtype=object),
                                      np.asarray(b[key], dtype=object))
    # a given bandwidth is used as it is, and differs from the cell fit
    fixed = make_model("etas-grid", background="smoothed",
                       background_bandwidth_m=2 * H).fit(cube, last, events=events)
    assert fixed.fitted_params()["background_bandwidth_m"] == 2 * H
    assert not np.array_equal(fixed.predict(1).values, default.predict(1).values)


def test_background_bandwidth_is_chosen_on_training_periods_only(grid):
    cube, events, _ = _scenario(grid, 3)
    cutoff = cube["time"].values[-31]
    planted = cube.copy(deep=True)
    planted["counts"].values[-30:, 5] += 50  # after the cutoff
    a = make_model("etas-grid", background="smoothed").fit(cube, cutoff, events=events)
    b = make_model("etas-grid", background="smoothed").fit(planted, cutoff, events=events)
    assert a.fitted_params()["background_holdout_loglik"] == \
        b.fitted_params()["background_holdout_loglik"]
    np.testing.assert_array_equal(a.predict(1).values, b.predict(1).values)


def test_bad_background_options_are_refused():
    with pytest.raises(ConfigError, match="background"):
        make_model("etas-grid", background="kde")
    with pytest.raises(ConfigError, match="background_bandwidth_m"):
        make_model("etas-grid", background="smoothed", background_bandwidth_m=-1.0)
