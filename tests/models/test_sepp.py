"""``sepp``: parameter recovery on a simulated continuous process, cell- and
window-integrated forecasts, the EM trace, options and month-resolution input.

The recovery scenario: a 9 km × 9 km square on 150 m cells, background 20 events/day (40 %
uniform, the rest three Gaussian bumps), θ = 0.5, ω = 0.2/day, Gaussian trigger σ = 100 m,
609 days: about 24,000 events.
"""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from scipy import special
from shapely.geometry import box

from hotspot.core.area import StudyArea
from hotspot.core.errors import ConfigError, DataError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.models import _pairs
from hotspot.models._pairs import find_pairs
from hotspot.models.registry import make_model
from hotspot.models.simulate import simulate_sepp

H = 150.0
N_SIDE = 60
X0, Y0 = 3500 * H, 1200 * H
SIDE = N_SIDE * H
BOUNDS = (X0, Y0, X0 + SIDE, Y0 + SIDE)
BUMPS = [(X0 + 0.3 * SIDE, Y0 + 0.3 * SIDE, 0.08 * SIDE, 1.0),
         (X0 + 0.7 * SIDE, Y0 + 0.6 * SIDE, 0.05 * SIDE, 1.0),
         (X0 + 0.5 * SIDE, Y0 + 0.8 * SIDE, 0.12 * SIDE, 1.0)]
TRUTH = {"mu_total": 20.0, "theta": 0.5, "omega": 0.2, "sigma_m": 100.0}
START = pd.Timestamp("2020-01-01")
DAYS = 609
LAST_DAY = (START + pd.Timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")


@pytest.fixture(scope="module")
def grid():
    area = StudyArea(parts=gpd.GeoDataFrame({"name": ["square"]}, geometry=[box(*BOUNDS)],
                                            crs="EPSG:27700"), crs="EPSG:27700")
    return build_grid(area, H)


@pytest.fixture(scope="module")
def scenario(grid):
    events = simulate_sepp(BOUNDS, TRUTH["mu_total"], TRUTH["theta"], TRUTH["omega"],
                           TRUTH["sigma_m"], DAYS, bumps=BUMPS, uniform_share=0.4,
                           start=START, seed=1)
    return build_cube(events, grid, "D", source="sim"), events


@pytest.fixture(scope="module")
def fitted(scenario):
    cube, events = scenario
    return make_model("sepp").fit(cube, LAST_DAY, events=events)


def test_recovers_the_parameters(scenario, fitted):
    assert len(scenario[1]) >= 20_000
    params = fitted.fitted_params()
    assert params["theta"] == pytest.approx(TRUTH["theta"], rel=0.10)
    assert params["omega_per_day"] == pytest.approx(TRUTH["omega"], rel=0.10)
    assert params["mu_total_per_day"] == pytest.approx(TRUTH["mu_total"], rel=0.15)
    assert params["sigma_m"] == pytest.approx(TRUTH["sigma_m"], rel=0.15)
    assert params["converged"]


def test_fitted_params_have_a_monotone_loglik_trace(fitted):
    params = fitted.fitted_params()
    for key in ("mu_total_per_day", "theta", "omega_per_day", "sigma_m", "bandwidth_m",
                "background_per_cell", "trace", "rounds", "n_pairs"):
        assert key in params
    trace = np.array(params["loglik_trace"])
    assert trace.size >= 3
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[1:]))
    for number in {row["round"] for row in params["trace"]}:
        rows = [row["loglik"] for row in params["trace"] if row["round"] == number]
        assert np.all(np.diff(rows) >= -1e-9 * np.abs(rows[1:]))
    json.dumps(params, default=lambda v: v.tolist() if hasattr(v, "tolist") else str(v))


def test_one_day_forecast_is_the_stationary_rate(fitted):
    stationary = TRUTH["mu_total"] / (1 - TRUTH["theta"])
    assert fitted.predict(1).values.sum() == pytest.approx(stationary, rel=0.10)


def test_forecast_windows_add_up(fitted):
    one_by_one = fitted.expected_counts(np.array([0.0, 1.0, 2.0]))
    two_days = fitted.expected_counts(np.array([0.0, 2.0]))[0]
    np.testing.assert_allclose(one_by_one.sum(axis=0), two_days, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fitted.predict(2).values, one_by_one, rtol=1e-9)


def test_background_mass_is_conserved_over_the_cells(scenario, fitted):
    base, _, kernel = fitted._forecast_parts()
    assert base.sum() == pytest.approx(fitted.fitted_params()["mu_total_per_day"], rel=1e-9)
    columns = np.asarray(kernel.sum(axis=0)).ravel()
    assert columns.max() <= 1 + 1e-9
    ix, iy = (scenario[0][axis].values - scenario[0][axis].values.min() for axis in ("ix", "iy"))
    interior = (np.minimum(ix, iy) >= 5) & (np.maximum(ix, iy) <= N_SIDE - 6)
    np.testing.assert_allclose(columns[interior], 1.0, atol=1e-4)
    # a parent uniform in the corner cell keeps per axis (1/h) ∫_0^h Φ(u/σ) du of its
    # offspring: (σ/h) [z Φ(z) + φ(z) − φ(0)] at z = h/σ
    sigma = fitted.fitted_params()["sigma_m"]
    z = H / sigma
    keep = (sigma / H) * (z * special.ndtr(z) + np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
                                  - 1 / np.sqrt(2 * np.pi))
    corner = (ix == 0) & (iy == 0)
    assert columns[corner][0] == pytest.approx(keep**2, rel=2e-3)


def test_trigger_is_integrated_over_each_cell(scenario, fitted):
    """The triggered part of a one-day forecast (no cascade) against the exact integral of
    each recent event's Gaussian over each cell (products of normal CDF differences)."""
    fitted.horizon_cascade = False
    try:
        forecast = fitted.expected_counts(np.array([0.0, 1.0]))[0]
    finally:
        fitted.horizon_cascade = True
    base, _, _ = fitted._forecast_parts()
    triggered = forecast - base
    window = fitted.window_
    theta, omega = fitted.trigger_.theta, fitted.trigger_.omega
    sigma = fitted.trigger_.spatial.sigma
    weight = theta * (np.exp(-omega * window.remaining) - np.exp(-omega * (window.remaining + 1)))
    recent = np.flatnonzero(weight > 1e-9 * weight.max())
    # per event: normal CDF differences over each column and each row of cells
    cols, col_of = np.unique(scenario[0]["ix"].values, return_inverse=True)
    rows, row_of = np.unique(scenario[0]["iy"].values, return_inverse=True)
    edges_x, edges_y = np.append(cols, cols[-1] + 1) * H, np.append(rows, rows[-1] + 1) * H
    px = np.diff(special.ndtr((edges_x[None, :] - window.x[recent, None]) / sigma), axis=1)
    py = np.diff(special.ndtr((edges_y[None, :] - window.y[recent, None]) / sigma), axis=1)
    exact = np.einsum("e,ec,ec->c", weight[recent], px[:, col_of], py[:, row_of])
    assert triggered.sum() == pytest.approx(exact.sum(), rel=1e-3)
    assert np.abs(triggered - exact).sum() < 0.01 * exact.sum()


def test_exponential_trigger_is_recovered(grid):
    events = simulate_sepp(BOUNDS, 20.0, 0.5, 0.2, 50.0, 300, trigger="exponential",
                           start=START, seed=4)
    cube = build_cube(events, grid, "D")
    last = (START + pd.Timedelta(days=299)).strftime("%Y-%m-%d")
    params = make_model("sepp", trigger="exponential").fit(
        cube, last, events=events).fitted_params()
    assert params["trigger"] == "exponential"
    assert params["sigma_m"] == pytest.approx(50.0, rel=0.15)
    assert params["theta"] == pytest.approx(0.5, rel=0.15)


def test_fixed_sigma_stays_fixed(scenario):
    cube, events = scenario
    recent = events[events["time"] >= START + pd.Timedelta(days=DAYS - 120)]
    model = make_model("sepp", sigma_m=80.0, fit_sigma=False).fit(cube, LAST_DAY,
                                                                  events=recent)
    assert model.fitted_params()["sigma_m"] == 80.0


def test_month_resolution_events_still_run(hot_cell_cube, hot_cell_events):
    model = make_model("sepp").fit(hot_cell_cube, "2020-12", events=hot_cell_events)
    forecast = model.predict(2).values
    assert np.all(np.isfinite(forecast)) and forecast.sum() > 0


def test_needs_events_and_checks_parameters(hot_cell_cube):
    with pytest.raises(DataError, match="needs event-level data"):
        make_model("sepp").fit(hot_cell_cube, "2020-06")
    with pytest.raises(ConfigError):
        make_model("sepp", trigger="cauchy")
    with pytest.raises(ConfigError):
        make_model("sepp", bandwidth_m=-1)


def test_pair_search_matches_brute_force():
    rng = np.random.default_rng(3)
    n = 1500
    x, y = rng.uniform(0, 2000, n), rng.uniform(0, 1000, n)
    t = np.sort(np.round(rng.uniform(0, 100, n), 1))  # rounded: ties in time occur
    pairs = find_pairs(x, y, t, 150.0, 7.5)
    dt = t[None, :] - t[:, None]
    d2 = (x[None, :] - x[:, None]) ** 2 + (y[None, :] - y[:, None]) ** 2
    parent, child = np.nonzero((dt > 0) & (dt <= 7.5) & (d2 <= 150.0**2))
    assert set(zip(pairs.parent.tolist(), pairs.child.tolist(), strict=True)) == set(
        zip(parent.tolist(), child.tolist(), strict=True))
    np.testing.assert_allclose(pairs.dt, t[pairs.child] - t[pairs.parent])
    assert np.all(pairs.dt > 0)


def test_a_runaway_pair_search_stops_with_advice(scenario, monkeypatch):
    cube, events = scenario
    monkeypatch.setattr(_pairs, "MAX_PAIR_CANDIDATES", 1000)
    with pytest.raises(DataError, match="candidate pairs"):
        make_model("sepp").fit(cube, LAST_DAY, events=events)
