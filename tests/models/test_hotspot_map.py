"""hotspot-map: the bandwidth is chosen on training periods only; the total tracks the level."""

import numpy as np
import pytest

from hotspot.core.errors import ConfigError
from hotspot.features.cube import cube_from_counts
from hotspot.models.registry import make_model, model_tag

WIDTH = 15
N = WIDTH * WIDTH


def _fit(counts, width=WIDTH, **params):
    cube = cube_from_counts(counts, width)
    return make_model("hotspot-map", **params).fit(cube, cube["time"].values[-1])


def _smooth_rate(width=WIDTH):
    """A broad bump: neighbouring cells have nearly the same rate."""
    ix, iy = np.meshgrid(np.arange(width), np.arange(width))
    return (0.05 + 0.6 * np.exp(-((ix - 6) ** 2 + (iy - 8) ** 2) / (2 * 4.0**2))).ravel()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_smooth_data_get_a_larger_bandwidth_than_spiky_data(seed):
    rng = np.random.default_rng(seed)
    smooth = rng.poisson(_smooth_rate(), (36, N))
    spiky = rng.poisson(0.02, (36, N))
    hot = rng.choice(N, 6, replace=False)
    spiky[:, hot] += rng.poisson(8.0, (36, 6))
    h_smooth = _fit(smooth).fitted_params()["bandwidth_m"]
    h_spiky = _fit(spiky).fitted_params()["bandwidth_m"]
    assert h_spiky == 0.0
    assert h_smooth >= 150.0
    assert h_smooth > h_spiky


def test_the_choice_uses_only_training_periods():
    rng = np.random.default_rng(3)
    counts = rng.poisson(_smooth_rate(), (40, N))
    cube = cube_from_counts(counts, WIDTH)
    planted = cube.copy(deep=True)
    # after the cutoff: one cell explodes, which changes the choice when it is seen
    planted["counts"].values[-6:, 7] += 400
    cutoff = cube["time"].values[-7]
    a = make_model("hotspot-map").fit(cube, cutoff)
    b = make_model("hotspot-map").fit(planted, cutoff)
    assert a.fitted_params() == b.fitted_params()
    np.testing.assert_array_equal(a.predict(2).values, b.predict(2).values)
    full = make_model("hotspot-map").fit(planted, planted["time"].values[-1])
    assert full.fitted_params()["bandwidth_m"] != a.fitted_params()["bandwidth_m"]


def test_total_tracks_the_recent_level():
    rng = np.random.default_rng(4)
    rate = _smooth_rate()
    counts = np.concatenate([rng.poisson(rate, (24, N)), rng.poisson(2.0 * rate, (12, N))])
    model = _fit(counts)
    expected = model.predict(1).values[0]
    assert expected.sum() == pytest.approx(counts[-12:].sum(axis=1).mean())
    # the shape still follows all history: the bump's centre is among the top cells
    assert np.argsort(expected)[-5:].tolist().count(8 * WIDTH + 6) == 1
    assert model.fitted_params()["n_holdout"] == 12
    assert len(model.fitted_params()["holdout_loglik"]) == 6


def test_short_history_holds_out_at_most_half_and_one_period_uses_one_cell():
    rng = np.random.default_rng(5)
    model = _fit(rng.poisson(1.0, (6, N)))
    assert model.fitted_params()["n_holdout"] == 3
    one = _fit(rng.poisson(1.0, (1, N)))
    assert one.fitted_params()["n_holdout"] == 0
    assert one.fitted_params()["bandwidth_m"] == 150.0


def test_is_a_baseline_and_refuses_bad_parameters():
    assert model_tag("hotspot-map", "baseline")
    for bad in ({"bandwidths_m": [-1.0]}, {"bandwidths_m": []}, {"holdout": 0},
                {"floor_share": 1.5}, {"total_periods": 0}):
        with pytest.raises(ConfigError):
            make_model("hotspot-map", **bad)
