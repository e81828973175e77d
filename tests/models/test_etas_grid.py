"""``etas-grid``: parameter recovery on simulated data, cross-cell triggering, forecasts
integrated over their windows, the EM trace, and month-resolution input.

The recovery scenario: 25 × 25 cells of 150 m, background 5 events/day spread unevenly
over the cells, θ = 0.5, ω = 0.2/day (mean lag 5 days), σ = 1 cell, 2,400 days: about
24,000 events, ~38 per cell. (The per-cell background μ_c is one parameter per cell;
with few events per cell it soaks up clustering and θ comes out low — about −16 % at
~10 events per cell, −4 % at ~40 — so the scenario keeps ~40 per cell at a rate that keeps
the number of parent–child candidate pairs, and the test's time, small.)
"""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.integrate import solve_ivp
from shapely.geometry import box

from hotspot.core.area import StudyArea
from hotspot.core.errors import ConfigError, DataError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.models._forecast import integrate_forecast
from hotspot.models._lattice import discrete_gaussian_kernel
from hotspot.models.etas_grid import EtasGrid
from hotspot.models.registry import make_model
from hotspot.models.simulate import simulate_grid_etas

H = 150.0
N_SIDE = 25
DAYS = 2400
TRUTH = {"mu_total": 5.0, "theta": 0.5, "omega": 0.2, "sigma_m": H}
START = pd.Timestamp("2015-01-01")
LAST_DAY = (START + pd.Timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")


@pytest.fixture(scope="module")
def scenario():
    x0, y0 = 3500 * H, 1200 * H
    area = StudyArea(parts=gpd.GeoDataFrame(
        {"name": ["square"]}, geometry=[box(x0, y0, x0 + N_SIDE * H, y0 + N_SIDE * H)],
        crs="EPSG:27700"), crs="EPSG:27700")
    grid = build_grid(area, H)
    mu = np.random.default_rng(5).gamma(2.0, 1.0, grid.n_cells)
    mu *= TRUTH["mu_total"] / mu.sum()
    events = simulate_grid_etas(grid.cells["ix"].to_numpy(), grid.cells["iy"].to_numpy(), H,
                                mu, TRUTH["theta"], TRUTH["omega"], TRUTH["sigma_m"], DAYS,
                                start=START, seed=2)
    return build_cube(events, grid, "D", source="sim"), events, mu


@pytest.fixture(scope="module")
def fitted(scenario):
    cube, events, _ = scenario
    return make_model("etas-grid").fit(cube, LAST_DAY, events=events)


@pytest.fixture(scope="module")
def fitted_in_cell(scenario):
    cube, events, _ = scenario
    return make_model("etas-grid", spatial="in-cell").fit(cube, LAST_DAY, events=events)


def test_recovers_the_parameters(scenario, fitted):
    assert len(scenario[1]) >= 20_000
    params = fitted.fitted_params()
    assert params["theta"] == pytest.approx(TRUTH["theta"], rel=0.10)
    assert params["omega_per_day"] == pytest.approx(TRUTH["omega"], rel=0.10)
    assert params["mu_total_per_day"] == pytest.approx(TRUTH["mu_total"], rel=0.15)
    assert params["sigma_m"] == pytest.approx(TRUTH["sigma_m"], rel=0.20)
    assert params["converged"]


def test_cross_cell_triggering_matters(fitted, fitted_in_cell):
    """With σ = 1 cell most offspring land next door: triggering confined to the event's
    own cell (the published implementation) takes them for background."""
    in_cell = fitted_in_cell.fitted_params()
    assert in_cell["theta"] < 0.6 * TRUTH["theta"]
    assert in_cell["mu_total_per_day"] > 1.3 * TRUTH["mu_total"]
    assert fitted.fitted_params()["theta"] == pytest.approx(TRUTH["theta"], rel=0.10)


def test_fitted_params_have_a_monotone_loglik_trace(fitted):
    params = fitted.fitted_params()
    for key in ("mu_total_per_day", "theta", "omega_per_day", "sigma_m", "mu_per_cell",
                "trace", "rounds", "n_pairs"):
        assert key in params
    trace = np.array(params["loglik_trace"])
    assert trace.size >= 3
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:]))
    for number in {row["round"] for row in params["trace"]}:
        rows = [row["loglik"] for row in params["trace"] if row["round"] == number]
        assert np.all(np.diff(rows) >= -1e-9 * np.abs(rows[1:]))
    assert {"theta", "omega", "sigma_m", "mu_total"} <= set(params["trace"][-1])
    json.dumps(params, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))


def test_one_day_forecast_is_the_stationary_rate(fitted):
    """On a stationary process the expected count in a day is μ / (1 − θ): the forecast
    for a day far enough ahead to forget the present state is exactly the fitted
    stationary rate, and that is the true one within 10 %."""
    params = fitted.fitted_params()
    far = fitted.expected_counts(np.array([200.0, 201.0])).sum()
    assert far == pytest.approx(params["mu_total_per_day"] / (1 - params["theta"]), rel=1e-3)
    assert far == pytest.approx(TRUTH["mu_total"] / (1 - TRUTH["theta"]), rel=0.10)


def test_next_day_forecast_matches_the_true_conditional_expectation(scenario, fitted):
    """The next day's forecast depends on the present excitation (at 5 events/day it
    swings by ±15 % around μ / (1 − θ) from one origin to another), so it is checked
    against the expectation the true parameters give for the same history."""
    cube, events, mu = scenario
    window = fitted.window_
    kernel = discrete_gaussian_kernel(cube["ix"].values, cube["iy"].values, 1.0, 4.0)
    recent = np.bincount(window.cell, weights=np.exp(-TRUTH["omega"] * window.remaining),
                         minlength=mu.size)
    excite0 = TRUTH["theta"] * TRUTH["omega"] * (kernel @ recent)
    oracle = integrate_forecast(mu, excite0, kernel, TRUTH["theta"], TRUTH["omega"],
                                np.array([0.0, 1.0]))[0]
    forecast = fitted.predict(1).values[0]
    assert forecast.sum() == pytest.approx(oracle.sum(), rel=0.10)
    assert np.corrcoef(forecast, oracle)[0, 1] > 0.9


def test_forecast_windows_add_up(fitted):
    one_by_one = fitted.expected_counts(np.array([0.0, 1.0, 2.0]))
    two_days = fitted.expected_counts(np.array([0.0, 2.0]))[0]
    np.testing.assert_allclose(one_by_one.sum(axis=0), two_days, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fitted.predict(2).values, one_by_one, rtol=1e-9)


def test_integration_matches_the_expected_intensity_ode():
    """Windows integrate the expected intensity (cascade included), checked against a
    numerical ODE solution, and differ from width × the intensity at the start."""
    rng = np.random.default_rng(0)
    ix, iy = np.meshgrid(np.arange(4), np.arange(3))
    kernel = discrete_gaussian_kernel(ix.ravel(), iy.ravel(), 1.0, 2.0)
    base = rng.uniform(0.1, 1.0, 12)
    excite0 = rng.uniform(0.0, 20.0, 12)  # a burst just before the origin
    theta, omega = 0.6, 2.0
    dense = kernel.toarray()

    def rhs(_t, z):
        x = z[:12]
        return np.concatenate([-omega * x + theta * omega * dense @ (base + x), x])

    ode = solve_ivp(rhs, (0, 2), np.concatenate([excite0, np.zeros(12)]), t_eval=[1, 2],
                    rtol=1e-10, atol=1e-12)
    integral = ode.y[12:].T  # ∫_0^1 x and ∫_0^2 x
    expected = np.stack([base + integral[0], base + integral[1] - integral[0]])
    got = integrate_forecast(base, excite0, kernel, theta, omega, np.array([0.0, 1.0, 2.0]))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    two = integrate_forecast(base, excite0, kernel, theta, omega, np.array([0.0, 2.0]))[0]
    np.testing.assert_allclose(two, got.sum(axis=0), rtol=1e-6)
    assert two.sum() < 0.7 * 2 * (base + excite0).sum()  # not 2 × the starting intensity
    # without the cascade: the closed form ∫ x0 e^{-ω t} dt
    plain = integrate_forecast(base, excite0, kernel, theta, omega, np.array([0.0, 2.0]),
                               cascade=False)[0]
    np.testing.assert_allclose(plain, 2 * base + excite0 * (1 - np.exp(-2 * omega)) / omega)
    assert np.all(plain < two)


def test_kernel_is_normalised_over_existing_cells():
    ix, iy = np.meshgrid(np.arange(6), np.arange(5))
    keep = ~((ix.ravel() == 0) & (iy.ravel() == 0))  # a missing corner cell
    kernel = discrete_gaussian_kernel(ix.ravel()[keep], iy.ravel()[keep], 1.3, 4.0)
    np.testing.assert_allclose(np.asarray(kernel.sum(axis=0)).ravel(), 1.0)
    assert sparse.issparse(kernel)
    identity = discrete_gaussian_kernel(ix.ravel(), iy.ravel(), 0.0, 4.0)
    np.testing.assert_array_equal(identity.toarray(), np.eye(30))


def test_month_resolution_events_still_run(hot_cell_cube, hot_cell_events):
    """police.uk times are all on the 1st of the month: the model runs (events at their
    month's start; same-month events never trigger each other) and forecasts a month."""
    model = make_model("etas-grid").fit(hot_cell_cube, "2020-12", events=hot_cell_events)
    params = model.fitted_params()
    assert 0 <= params["theta"] < 1 and np.isfinite(params["omega_per_day"])
    forecast = model.predict(3)
    assert np.all(np.isfinite(forecast.values))
    # the synthetic events are unclustered: 40 a month, next months ≈ 40 each
    assert forecast.values.sum(axis=1) == pytest.approx([40, 40, 40], rel=0.15)
    assert model._forecast_edges(3).tolist() == [0.0, 31.0, 59.0, 90.0]
    # with nothing to trigger, σ and the search radius stay bounded
    assert params["kernel_radius_m"] <= 2000.0
    assert all(r["radius_m"] <= 2000.0 for r in params["rounds"])


def test_needs_events_and_checks_parameters(hot_cell_cube):
    with pytest.raises(DataError, match="needs event-level data"):
        make_model("etas-grid").fit(hot_cell_cube, "2020-06")
    with pytest.raises(ConfigError):
        make_model("etas-grid", spatial="everywhere")
    with pytest.raises(ConfigError):
        make_model("etas-grid", theta_init=1.5)


def test_constructor_only_stores_and_fit_checks(hot_cell_cube, hot_cell_events):
    """Parameters are kept as given (``get_params`` round-trips) and checked by ``fit``,
    which then leaves the model unfitted."""
    model = EtasGrid(theta_init=1.5, radius_sigmas=3)
    assert model.get_params()["theta_init"] == 1.5
    assert model.get_params()["radius_sigmas"] == 3
    with pytest.raises(ConfigError, match="theta_init in"):
        model.fit(hot_cell_cube, "2020-06", events=hot_cell_events)
    assert not model.is_fitted and model.fitted_params() == {}


def test_no_events_in_the_window_forecasts_zero(hot_cell_cube, hot_cell_events):
    late = hot_cell_events.assign(time=pd.Timestamp("2030-01-01"))
    forecast = make_model("etas-grid").fit(hot_cell_cube, "2020-06", events=late).predict(2)
    assert np.all(forecast.values == 0)
