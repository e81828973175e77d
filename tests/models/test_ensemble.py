"""ensemble: simplex weights learned on earlier origins only, blend of refitted members."""

import numpy as np
import pytest

from hotspot.core.errors import ConfigError
from hotspot.features.cube import cube_from_counts
from hotspot.models.ensemble import blend_deviance, simplex_weights
from hotspot.models.registry import make_model

WIDTH, N = 6, 36
CHEAP = ("naive-last", "naive-longrun", "prospective-hotspot")


def _stationary_cube(seed: int = 0, n_t: int = 30):
    rng = np.random.default_rng(seed)
    return cube_from_counts(rng.poisson(np.exp(rng.normal(0.5, 0.8, N)), (n_t, N)), WIDTH)


def _drifting_cube(seed: int = 0, n_t: int = 30):
    """Cell levels that wander (a random walk in logs): last month is the best guide."""
    rng = np.random.default_rng(seed)
    log_level = np.cumsum(rng.normal(0.0, 0.5, (n_t, N)), axis=0) + 1.5
    return cube_from_counts(rng.poisson(np.exp(log_level)), WIDTH)


def test_weights_are_a_simplex_over_the_origins_before_the_cutoff():
    cube = _stationary_cube()
    model = make_model("ensemble", members=CHEAP).fit(cube, "2020-12")
    fitted = model.fitted_params()
    weights = np.array(list(fitted["weights"].values()))
    assert (weights >= 0).all() and weights.sum() == pytest.approx(1.0)
    assert fitted["weight_origins"] == ["2020-06", "2020-07", "2020-08", "2020-09", "2020-10",
                                        "2020-11"]
    assert fitted["blend_deviance"] <= min(fitted["member_deviance"].values()) + 1e-9
    blend = sum(w * make_model(name).fit(cube, "2020-12").predict(2).values
                for name, w in fitted["weights"].items())
    np.testing.assert_allclose(model.predict(2).values, blend)


def test_weights_follow_the_member_that_forecast_best():
    steady = make_model("ensemble", members=CHEAP).fit(_stationary_cube(1), "2021-06")
    assert steady.fitted_params()["weights"]["naive-longrun"] > 0.6
    drifting = make_model("ensemble", members=CHEAP).fit(_drifting_cube(1), "2021-06")
    weights = drifting.fitted_params()["weights"]
    assert weights["naive-last"] > weights["naive-longrun"]


def test_weights_ignore_everything_after_the_cutoff():
    members = ("naive-mean", "naive-longrun", "glm", "prospective-hotspot")
    cube = _stationary_cube(2)
    planted = cube.copy(deep=True)
    after = planted["time"].values > np.datetime64("2020-12-01")
    planted["counts"].values[after] += 50
    planted["counts"].values[after, 0] = 10**5
    clean = make_model("ensemble", members=members).fit(cube, "2020-12")
    leaked = make_model("ensemble", members=members).fit(planted, "2020-12")
    assert clean.fitted_params()["weights"] == leaked.fitted_params()["weights"]
    np.testing.assert_array_equal(clean.predict(1).values, leaked.predict(1).values)


def test_simplex_solver_finds_the_best_mixture():
    rng = np.random.default_rng(5)
    truth = rng.uniform(1, 5, (4, 50))
    observed = rng.poisson(truth).astype(float)
    forecasts = np.stack([truth * 0.5, truth * 1.5, np.full_like(truth, truth.mean())])
    weights, result = simplex_weights(forecasts, observed)
    assert result.success and weights[:2] == pytest.approx([0.5, 0.5], abs=0.15)
    assert blend_deviance(weights, forecasts, observed)[0] <= blend_deviance(
        np.array([0.5, 0.5, 0.0]), forecasts, observed)[0] + 1e-9


def test_short_history_falls_back_to_equal_weights():
    cube = _stationary_cube(n_t=3)
    model = make_model("ensemble", members=("naive-last", "glm")).fit(cube, "2019-02")
    fitted = model.fitted_params()
    assert fitted["weights"] == {"naive-last": 0.5, "glm": 0.5}
    assert [s["origin"] for s in fitted["skipped_origins"]] == ["2019-01"]  # glm: 1 period


def test_bad_members_are_refused():
    with pytest.raises(ConfigError):
        make_model("ensemble", members=("naive-last", "nope"))
    with pytest.raises(ConfigError):
        make_model("ensemble", members=("ensemble",))
    with pytest.raises(ConfigError):
        make_model("ensemble", n_weight_origins=0)
