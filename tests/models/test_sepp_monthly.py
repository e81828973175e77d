"""``sepp`` on month-resolution events (police.uk: every time on the 1st of its month).

Regression for a crash (``ValueError: cannot convert float NaN to integer`` in
``_raster.Kernel``): an event whose raster pixel lay outside the region's mask (the grid
moves a point on the area's top or right edge into the cell below or left of it; the
raster placed it by its coordinates) had background density exactly 0, and with no
earlier event near it (same-month events never pair) zero intensity: ``p_j = 0/0`` in the
M-step, NaN in every parameter. The L-shaped area below has such an edge inside the
raster's bounding box, and one event on it in the first month.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box
from shapely.ops import unary_union

from hotspot.core.area import StudyArea
from hotspot.features.cube import build_cube, grid_of
from hotspot.features.grid import build_grid
from hotspot.models import _em
from hotspot.models._raster import Kernel
from hotspot.models._trigger import THETA_MAX, update_theta_omega
from hotspot.models.registry import make_model

H = 150.0
X0, Y0 = 530_100.0, 181_050.0
#: a point on the top edge of the L's lower arm, below a square that is not a cell
EDGE_XY = (X0 + 3.4 * H, Y0 + 2.0 * H)


@pytest.fixture(scope="module")
def l_area() -> StudyArea:
    """4 x 2 cells with a 2 x 2 block on the left half above: an L of 12 cells."""
    shape = unary_union([box(X0, Y0, X0 + 4 * H, Y0 + 2 * H),
                         box(X0, Y0 + 2 * H, X0 + 2 * H, Y0 + 4 * H)])
    parts = gpd.GeoDataFrame({"name": ["l"]}, geometry=[shape], crs="EPSG:27700")
    return StudyArea(parts=parts, crs="EPSG:27700")


def monthly_events(area: StudyArea, months: int, per_month: int, seed: int,
                   edge_first: bool = True) -> pd.DataFrame:
    """Unclustered events uniform over the L, all at their month's start; the very first
    one on the edge point ``EDGE_XY``."""
    rng = np.random.default_rng(seed)
    starts = pd.date_range("2019-01-01", periods=months, freq="MS")
    n = months * per_month
    x, y = rng.uniform(X0 + 1, X0 + 4 * H - 1, 3 * n), rng.uniform(Y0 + 1, Y0 + 4 * H - 1, 3 * n)
    inside = (y < Y0 + 2 * H) | (x < X0 + 2 * H)
    x, y = x[inside][:n], y[inside][:n]
    if edge_first:
        x[0], y[0] = EDGE_XY
    return pd.DataFrame({"event_id": [f"e{i}" for i in range(n)],
                         "time": np.repeat(starts.to_numpy(), per_month), "x": x, "y": y,
                         "category": "Burglary", "source": "synthetic"})


@pytest.fixture(scope="module")
def l_data(l_area):
    events = monthly_events(l_area, 24, 40, seed=2)
    return build_cube(events, build_grid(l_area, H), "M", source="synthetic"), events


def test_the_edge_event_is_in_a_cell_but_its_square_is_not(l_data):
    """The scenario is the one that crashed: the grid keeps the edge point (in the cell
    below it), the square its coordinates fall in is not a cell."""
    cube, events = l_data
    grid = grid_of(cube)
    assert grid.assign(np.array([EDGE_XY[0]]), np.array([EDGE_XY[1]]))[0] >= 0
    assert grid.assign(np.array([EDGE_XY[0]]), np.array([EDGE_XY[1] + 1.0]))[0] == -1


def test_month_resolution_fit_runs_and_degrades_to_background(l_data):
    cube, events = l_data
    model = make_model("sepp").fit(cube, "2020-12", events=events)
    params = model.fitted_params()
    assert np.all(np.isfinite(params["loglik_trace"]))
    assert np.isfinite(params["sigma_m"]) and params["sigma_m"] > 0
    # unclustered events: the trigger explains next to nothing, the background the rest
    assert params["theta"] < 0.05
    assert params["mu_total_per_day"] * params["observed_days"] == pytest.approx(
        len(events), rel=0.05)
    forecast = model.predict(1).values
    assert np.all(np.isfinite(forecast))
    assert forecast.sum() == pytest.approx(40.0, rel=0.1)
    # every event's pixel is inside the region, so its background is positive
    background = model.background_
    assert background.raster.mask.ravel()[background.pix].all()
    assert np.all(background.at_events(model.window_) > 0)


def test_every_cutoff_of_a_backtest_fits(l_data):
    """Early cutoffs (few months, many events with no earlier neighbour) as well."""
    cube, events = l_data
    for cutoff in ("2019-01", "2019-02", "2019-03", "2019-06"):
        model = make_model("sepp").fit(cube, cutoff, events=events)
        params = model.fitted_params()
        assert np.all(np.isfinite(model.predict(1).values)), cutoff
        # two or three months: the one lag seen (a month) is longer than the window can
        # show, so no free (θ, ω) maximises the M-step; the capped one leaves the trigger
        # next to no offspring and the background carries every event
        background_events = params["mu_total_per_day"] * params["observed_days"]
        assert background_events == pytest.approx(params["n_events"], rel=1e-3), cutoff


def test_zero_intensity_is_reported_not_spread_as_nan(l_data, monkeypatch):
    """Should a background ever be 0 at one of its events, EM stops with a clear error
    instead of carrying 0/0 into the parameters."""
    cube, events = l_data
    monkeypatch.setattr(_em._EM, "estep", _zero_first_intensity(_em._EM.estep))
    with pytest.raises(RuntimeError, match="zero or non-finite intensity"):
        make_model("sepp").fit(cube, "2020-12", events=events)


def _zero_first_intensity(estep):
    def wrapped(self, pairs):
        loglik, (rates, lam, mu_at) = estep(self, pairs)
        lam, mu_at = lam.copy(), mu_at.copy()
        lam[0] = mu_at[0] = 0.0
        with np.errstate(divide="ignore"):
            return float(np.sum(np.log(lam))), (rates, lam, mu_at)
    return wrapped


def test_kernel_refuses_a_nan_scale():
    with pytest.raises(ValueError, match="positive and finite"):
        Kernel("gaussian", float("nan"), 10.0)


def test_theta_omega_m_step_without_an_interior_root():
    """Two monthly batches, lag 31 days, window 59 days: ``Q`` rises all the way to
    ω → 0, so the old bracket search failed ("f(a) and f(b) must have different signs");
    the capped M-step returns θ at its cap and the ω that maximises ``Q`` there."""
    remaining = np.repeat([59.0, 28.0], 40)
    mass = np.full(80, 0.9)
    p_total, lag_sum = 1.6, 1.6 * 31.0
    theta, omega = update_theta_omega(p_total, lag_sum, remaining, mass, 0.1)
    assert theta == THETA_MAX and 0 < omega < p_total / lag_sum

    def q(t, w):
        return (p_total * np.log(t) + p_total * np.log(w) - w * lag_sum
                - t * np.sum(mass * -np.expm1(-w * remaining)))

    # a maximum on the cap: no nearby ω (at the cap) or θ below it does better
    best = q(theta, omega)
    for w in (omega * 0.9, omega * 1.1):
        assert q(THETA_MAX, w) < best
    assert q(0.9 * THETA_MAX, omega) < best
