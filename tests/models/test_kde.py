"""kde: bandwidth and decay chosen on the training history's own last periods."""

import numpy as np
import pytest

from hotspot.core.errors import ConfigError
from hotspot.features.cube import cube_from_counts
from hotspot.models.registry import make_model

WIDTH = 10
N = WIDTH * WIDTH


def _fit(counts, width=WIDTH):
    cube = cube_from_counts(counts, width)
    return make_model("kde").fit(cube, cube["time"].values[-1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_hot_cell_gets_a_small_bandwidth_and_a_diffuse_pattern_a_large_one(seed):
    rng = np.random.default_rng(seed)
    hot = rng.poisson(0.02, (12, N))
    hot[:, 45] += rng.poisson(20.0, 12)
    small = _fit(hot)
    grid = small.fitted_params()["grid"]["bandwidths_m"]
    assert small.fitted_params()["bandwidth_m"] == min(grid)
    assert small.predict(1).values[0].argmax() == 45
    # crimes scattered at random over a 15 x 15 grid: smoothing is what predicts best
    diffuse = rng.poisson(0.5, (12, 15 * 15))
    assert _fit(diffuse, width=15).fitted_params()["bandwidth_m"] >= 2 * 150.0


def test_a_moving_hotspot_gets_a_short_half_life():
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.05, (24, N))
    counts[:12, 11] += 20  # the hotspot was here for a year ...
    counts[12:, 88] += 20  # ... then moved
    model = _fit(counts)
    p = model.fitted_params()
    assert p["half_life_periods"] < 12
    assert model.predict(1).values[0].argmax() == 88
    assert np.asarray(p["holdout_loglik"]).shape == (5, 4)


def test_held_out_periods_are_inside_the_history():
    rng = np.random.default_rng(2)
    counts = rng.poisson(1.0, (24, N))
    cube = cube_from_counts(counts, WIDTH)
    planted = cube.copy(deep=True)
    planted["counts"].values[-4:, 0] += 500  # after the cutoff below
    cutoff = cube["time"].values[-5]
    a = make_model("kde").fit(cube, cutoff).fitted_params()
    b = make_model("kde").fit(planted, cutoff).fitted_params()
    assert a == b
    assert a["total"] == pytest.approx(counts[8:20].sum(axis=1).mean())


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError):
        make_model("kde", bandwidths_m=[0.0])
    with pytest.raises(ConfigError):
        make_model("kde", n_holdout=0)
