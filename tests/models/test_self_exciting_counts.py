"""self-exciting-counts: recovers its own parameters and forecasts by iterating the mean."""

import numpy as np
import pytest

from hotspot.core.errors import ConfigError
from hotspot.features.cube import cube_from_counts
from hotspot.features.spatial import queen_adjacency, spatial_lag
from hotspot.models.registry import make_model

WIDTH = 10


def simulate(alpha: float, gamma: float, beta: float = 0.0, n_t: int = 60, seed: int = 0):
    """Counts from the model itself: λ = ν_c + α y[t−1] + γ N[t−1] + β λ[t−1]."""
    rng = np.random.default_rng(seed)
    n = WIDTH * WIDTH
    adjacency = queen_adjacency(np.arange(n) % WIDTH, np.arange(n) // WIDTH)
    nu = np.exp(rng.normal(0.0, 0.8, n))
    lam = nu / (1 - alpha - 8 * gamma - beta)
    y = np.empty((n_t + 20, n))
    y[0] = rng.poisson(lam)
    for t in range(1, n_t + 20):  # a simulator, not a hot path
        lam = nu + alpha * y[t - 1] + gamma * spatial_lag(y[t - 1], adjacency) + beta * lam
        y[t] = rng.poisson(lam)
    return cube_from_counts(y[20:], WIDTH)


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_alpha_on_its_own_simulated_data(seed):
    cube = simulate(alpha=0.3, gamma=0.03, seed=seed)
    model = make_model("self-exciting-counts").fit(cube, cube["time"].values[-1])
    fitted = model.fitted_params()
    assert fitted["converged"]
    assert fitted["alpha"] == pytest.approx(0.3, rel=0.15)
    assert fitted["gamma"] >= 0 and fitted["beta"] is None
    assert len(fitted["trace_nll"]) == fitted["n_iter"]
    assert fitted["trace_nll"][-1] <= fitted["trace_nll"][0]


def test_feedback_term_is_estimated():
    cube = simulate(alpha=0.3, gamma=0.0, beta=0.3, seed=2)
    fitted = make_model("self-exciting-counts", feedback=True).fit(
        cube, cube["time"].values[-1]).fitted_params()
    assert fitted["alpha"] == pytest.approx(0.3, rel=0.15)
    assert fitted["beta"] == pytest.approx(0.3, abs=0.1)


def test_alpha_is_near_zero_without_self_excitation():
    cube = simulate(alpha=0.0, gamma=0.0, seed=3)
    fitted = make_model("self-exciting-counts").fit(cube, cube["time"].values[-1]).fitted_params()
    assert fitted["alpha"] < 0.05


def test_multi_step_iterates_the_conditional_mean():
    cube = simulate(alpha=0.3, gamma=0.03, seed=4)
    model = make_model("self-exciting-counts").fit(cube, cube["time"].values[-1])
    p = model.fitted_params()
    z = np.log((cube["counts"].values.sum(axis=0) + 0.5) / cube.sizes["time"])
    base = np.exp(p["b0"] + p["b1"] * z)
    adjacency = queen_adjacency(cube["ix"].values, cube["iy"].values)
    last = cube["counts"].values[-1].astype(float)
    step1 = base + p["alpha"] * last + p["gamma"] * spatial_lag(last, adjacency)
    step2 = base + p["alpha"] * step1 + p["gamma"] * spatial_lag(step1, adjacency)
    forecast = model.predict(2).values
    np.testing.assert_allclose(forecast[0], step1, rtol=1e-9)
    np.testing.assert_allclose(forecast[1], step2, rtol=1e-9)


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError):
        make_model("self-exciting-counts", max_periods=1)
