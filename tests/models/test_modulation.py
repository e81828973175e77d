"""Seasonal background modulation (``background_time="seasonal"``): the design, the exact
M-step, parameter recovery inside ``etas-grid`` on simulated data with a weekly rhythm, and
forecasts that follow the rhythm.

Recovery scenario: 15 × 15 cells of 150 m, background 5 events/day multiplied by a weekly
pattern (Saturday 1.75× Monday), θ = 0.4, ω = 0.2/day, σ = 1 cell, 2,400 days: about
20,000 events, ~90 per cell (at 1,400 days, ~50 per cell, the per-cell background biases
ω up by ~15 % with or without the modulation; see ``models/etas_grid.py``). Simulation and
fit take about 3 s.
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
from hotspot.models._forecast import integrate_forecast
from hotspot.models._lattice import discrete_gaussian_kernel
from hotspot.models._modulation import SeasonalModulation
from hotspot.models.registry import make_model
from hotspot.models.simulate import simulate_grid_etas

H = 150.0
DAYS = 2400
START = pd.Timestamp("2015-01-01")
LAST_DAY = (START + pd.Timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")
#: background multiplier by day of week, Monday first
WEEKLY = np.array([0.8, 0.85, 0.9, 0.95, 1.1, 1.4, 1.0])
TRUTH = {"theta": 0.4, "omega": 0.2}


def _days(n: int, start: str = "2015-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D")


@pytest.fixture(scope="module")
def scenario():
    x0, y0 = 3500 * H, 1200 * H
    area = StudyArea(parts=gpd.GeoDataFrame(
        {"name": ["square"]}, geometry=[box(x0, y0, x0 + 15 * H, y0 + 15 * H)],
        crs="EPSG:27700"), crs="EPSG:27700")
    grid = build_grid(area, H)
    mu = np.random.default_rng(3).gamma(2.0, 1.0, grid.n_cells)
    mu *= 5.0 / mu.sum()
    factors = WEEKLY[_days(DAYS).day_of_week]
    events = simulate_grid_etas(grid.cells["ix"].to_numpy(), grid.cells["iy"].to_numpy(), H,
                                mu, TRUTH["theta"], TRUTH["omega"], H, DAYS, start=START,
                                seed=4, day_factors=factors)
    return build_cube(events, grid, "D", source="sim"), events


@pytest.fixture(scope="module")
def fitted(scenario):
    cube, events = scenario
    return make_model("etas-grid", background_time="seasonal").fit(cube, LAST_DAY,
                                                                   events=events)


def test_design_depends_on_frequency_and_span():
    none = np.empty(0)
    short = SeasonalModulation(_days(10), _days(11)[-1], "D", none)
    assert short.terms() == []  # under two weeks: nothing to estimate
    daily = SeasonalModulation(_days(800), _days(801)[-1], "D", none)
    assert daily.terms()[:6] == ["dow_mon", "dow_tue", "dow_wed", "dow_thu", "dow_fri",
                                 "dow_sat"]
    assert "year_sin1" in daily.terms() and "level_minus_1y" in daily.terms()
    months = pd.date_range("2018-01-01", periods=36, freq="MS")
    monthly = SeasonalModulation(months, pd.Timestamp("2021-01-01"), "M", none)
    assert not any(t.startswith("dow") for t in monthly.terms())
    assert monthly.terms()[-2:] == ["level_minus_1y", "level_minus_2y"]


def test_exact_m_step_recovers_a_known_modulation():
    """Feed the expected background counts of a known ``m`` and the M-step returns it,
    normalised to a time average of 1."""
    starts = _days(1100)
    modulation = SeasonalModulation(starts, _days(1101)[-1], "D",
                                    np.arange(1100.0))  # one pseudo-event per day
    truth = np.random.default_rng(0).normal(0.0, 0.2, len(modulation.terms()))
    raw = np.exp(modulation.history_design @ truth)
    counts = 7.0 * raw / raw.mean()
    modulation.update(counts)
    np.testing.assert_allclose(modulation.beta, truth, atol=1e-6)
    np.testing.assert_allclose(modulation.history_values.mean(), 1.0)
    np.testing.assert_allclose(modulation.history_values, raw / raw.mean(), rtol=1e-6)


def test_recovers_the_weekly_rhythm_and_the_triggering(scenario, fitted):
    assert len(scenario[1]) > 10_000
    params = fitted.fitted_params()
    assert params["theta"] == pytest.approx(TRUTH["theta"], rel=0.10)
    assert params["omega_per_day"] == pytest.approx(TRUTH["omega"], rel=0.10)
    terms = params["background_time"]["terms"]
    ratios = np.exp([terms[f"dow_{d}"] for d in ("mon", "tue", "wed", "thu", "fri", "sat")])
    np.testing.assert_allclose(ratios, WEEKLY[:6] / WEEKLY[6], rtol=0.10)
    # no season and no change of level in the truth: the fit finds none to speak of
    for name, value in terms.items():
        if not name.startswith("dow"):
            assert abs(value) < 0.1, name


def test_constant_background_is_biased_by_the_rhythm(scenario, fitted):
    """A constant background forecasts the all-days average on every day; the modulated
    one forecasts more on Saturdays than on Mondays, by the true difference of background
    (the weekly factors average 1; the triggered part, smoothed over days, barely moves)."""
    cube, events = scenario
    constant = make_model("etas-grid").fit(cube, LAST_DAY, events=events)
    far = np.arange(200.0, 208.0)  # a week far enough ahead to forget the present
    weekday = (pd.Timestamp(LAST_DAY) + pd.to_timedelta(far + 1, unit="D")).day_of_week
    seasonal_days = fitted.expected_counts(far).sum(axis=1)
    constant_days = constant.expected_counts(far).sum(axis=1)
    assert np.ptp(constant_days) < 1e-9 * constant_days.max()
    saturday, monday = seasonal_days[weekday[:-1] == 5][0], seasonal_days[weekday[:-1] == 0][0]
    mu_total = fitted.fitted_params()["mu_total_per_day"]
    assert saturday - monday == pytest.approx((WEEKLY[5] - WEEKLY[0]) * mu_total, rel=0.10)


def test_modulated_forecast_windows_add_up(fitted):
    one_by_one = fitted.expected_counts(np.array([0.0, 1.0, 2.0, 3.0]))
    three_days = fitted.expected_counts(np.array([0.0, 3.0]))[0]
    np.testing.assert_allclose(one_by_one.sum(axis=0), three_days, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fitted.predict(3).values, one_by_one, rtol=1e-9)
    later = fitted.expected_counts(np.array([1.5, 2.5]))[0]
    assert np.all(later > 0)


def test_a_background_per_window_integrates_piece_by_piece():
    """Windows with different backgrounds chain the triggered rate exactly: the same
    background in every row equals the one-row call."""
    ix, iy = np.meshgrid(np.arange(4), np.arange(3))
    kernel = discrete_gaussian_kernel(ix.ravel(), iy.ravel(), 1.0, 2.0)
    base = np.random.default_rng(1).uniform(0.1, 1.0, 12)
    excite0 = np.full(12, 3.0)
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    one = integrate_forecast(base, excite0, kernel, 0.5, 1.0, edges)
    rows = integrate_forecast(np.tile(base, (3, 1)), excite0, kernel, 0.5, 1.0, edges)
    np.testing.assert_allclose(rows, one, rtol=1e-12)
    doubled = integrate_forecast(np.stack([base, 2 * base, base]), excite0, kernel, 0.5,
                                 1.0, edges)
    np.testing.assert_allclose(doubled[0], one[0], rtol=1e-12)
    assert np.all(doubled[1] > one[1]) and np.all(doubled[2] > one[2])  # carried over
    with pytest.raises(ValueError, match="from the origin"):
        integrate_forecast(np.tile(base, (2, 1)), excite0, kernel, 0.5, 1.0, edges[1:])


def test_unknown_background_time_is_refused():
    with pytest.raises(ConfigError, match="background_time must be one of"):
        make_model("etas-grid", background_time="weekly")
    with pytest.raises(ConfigError, match="background_time must be one of"):
        make_model("sepp", background_time="weekly")


def test_simulator_checks_day_factors():
    with pytest.raises(ConfigError, match="one non-negative factor per day"):
        simulate_grid_etas(np.array([0]), np.array([0]), H, 1.0, 0.2, 1.0, 0.0, 10,
                           day_factors=np.ones(9))
