"""Models under a target: type-specific hot cells, harm rankings, event models fitted on
the target's events and scaled to harm, and untargeted cubes left exactly as they were."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import DataError
from hotspot.core.ranking import rank_cells
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.features.harm import load_harm_weights
from hotspot.features.targets import apply_target, resolve_target
from hotspot.models._events import event_window
from hotspot.models.base import BaseForecaster
from hotspot.models.registry import make_model

# centres of three cells of the 4 x 3 grid of ``square_area`` (150 m cells)
BURGLARY_XY = (530_175.0, 181_125.0)   # cell 3534_1207: 10 burglaries a month
ASB_XY = (530_625.0, 181_425.0)        # cell 3537_1209: 30 anti-social behaviour a month
ROBBERY_XY = (530_475.0, 181_125.0)    # cell 3536_1207: 3 robberies a month, second year only
MONTHS = pd.date_range("2019-01-01", periods=24, freq="MS")


def _planted(months, xy, n, category):
    times = np.repeat(months.to_numpy(), n)
    return pd.DataFrame({"time": times, "x": xy[0], "y": xy[1], "category": category})


@pytest.fixture
def typed_events(square_area):
    """Planted type-specific hot cells over a thin seeded background of every category."""
    rng = np.random.default_rng(3)
    minx, miny, maxx, maxy = square_area.geometry.bounds
    n = 24 * 12
    background = pd.DataFrame({
        "time": np.repeat(MONTHS.to_numpy(), 12),
        "x": rng.uniform(minx + 1, maxx - 1, n), "y": rng.uniform(miny + 1, maxy - 1, n),
        "category": rng.choice(["Anti-social behaviour", "Burglary", "Drugs", "Robbery"], n),
    })
    events = pd.concat([
        background,
        _planted(MONTHS, BURGLARY_XY, 10, "Burglary"),
        _planted(MONTHS, ASB_XY, 30, "Anti-social behaviour"),
        _planted(MONTHS[12:], ROBBERY_XY, 3, "Robbery"),
    ], ignore_index=True)
    # event models see timestamps: spread each month's events over its days
    events["time"] = events["time"] + pd.to_timedelta(rng.integers(0, 28, len(events)), "D")
    return events


@pytest.fixture
def typed_cube(square_area, typed_events):
    return build_cube(typed_events, build_grid(square_area, 150), "M", source="synthetic")


def _targeted(cube, name):
    return apply_target(cube, resolve_target(name, cube["category"].values))


def _top_cell(cube, expected):
    values = np.asarray(expected).reshape(-1)
    return cube["cell"].values[rank_cells(values, cube["area_m2"].values,
                                          cube["cell"].values)[0]]


# ------------------------------------------------------------------------ count models


@pytest.mark.parametrize("name, top", [("burglary", "3534_1207"), ("robbery", "3536_1207"),
                                       ("anti-social-behaviour", "3537_1209"),
                                       ("all", "3537_1209"), ("crime", "3534_1207")])
def test_a_type_specific_hot_cell_tops_its_own_type_only(typed_cube, name, top):
    model = make_model("naive-mean", k=12).fit(_targeted(typed_cube, name), "2020-12")
    assert _top_cell(typed_cube, model.predict(1)) == top


def test_harm_ranks_three_robberies_above_thirty_anti_social_incidents(typed_cube):
    harm = _targeted(typed_cube, "harm")
    forecast = make_model("naive-mean", k=12).fit(harm, "2020-12").predict(1)
    order = typed_cube["cell"].values[rank_cells(forecast.values[0], typed_cube["area_m2"].values,
                                                 typed_cube["cell"].values)]
    assert list(order).index("3536_1207") < list(order).index("3537_1209")
    assert order[0] == "3536_1207"
    assert forecast.attrs["target"] == "harm"
    counts = make_model("naive-mean", k=12).fit(typed_cube, "2020-12").predict(1)
    assert _top_cell(typed_cube, counts) == "3537_1209"


@pytest.mark.parametrize("name", ["naive-last", "naive-mean", "naive-longrun", "kde",
                                  "prospective-hotspot", "rfg-harm", "self-exciting-counts",
                                  "glm", "gbm"])
def test_count_models_take_float_harm_counts(typed_cube, name):
    harm = _targeted(typed_cube, "harm")
    forecast = make_model(name).fit(harm, "2020-12").predict(1).values[0]
    assert np.all(np.isfinite(forecast)) and forecast.min() >= 0
    # on the harm scale: about the recent mean harm per period, not a count's size
    recent = harm["counts"].values[-12:].sum(axis=1).mean()
    assert 0.3 * recent < forecast.sum() < 3 * recent


# ------------------------------------------------------------------------ event models


class _EventSpy(BaseForecaster):
    """An event model in miniature: each cell's mean number of events per period, from
    the events it is given (never the cube's counts)."""

    name = "test-event-spy"
    _tags = {"needs_events": True}

    def _fit(self, history, events, covariates):
        self.seen_ = events
        window = event_window(history, events, self.cutoff_)
        self.level_ = np.bincount(window.cell, minlength=history.sizes["cell"]) / float(
            history.sizes["time"])

    def _predict(self, periods, covariates):
        return np.tile(self.level_, (periods, 1))


def test_events_reaching_an_event_model_are_cut_to_the_target(typed_cube, typed_events):
    burglary = _EventSpy().fit(_targeted(typed_cube, "burglary"), "2020-12", typed_events)
    assert set(burglary.seen_["category"]) == {"Burglary"}
    assert len(burglary.seen_) == (typed_events["category"] == "Burglary").sum()
    crime = _EventSpy().fit(_targeted(typed_cube, "crime"), "2020-12", typed_events)
    assert set(crime.seen_["category"]) == {"Burglary", "Drugs", "Robbery"}
    np.testing.assert_allclose(  # the spy's forecast is the burglary cube's mean count
        burglary.predict(1).values[0],
        _targeted(typed_cube, "burglary")["counts"].values.mean(axis=0))


def test_sepp_under_a_target_fits_only_that_type(typed_cube, typed_events):
    robbery = make_model("sepp", max_iter=30).fit(_targeted(typed_cube, "robbery"), "2020-12",
                                                  typed_events)
    assert robbery.fitted_params()["n_events"] == (typed_events["category"] == "Robbery").sum()
    assert _top_cell(typed_cube, robbery.predict(1)) == "3536_1207"


def test_event_model_under_harm_fits_crimes_and_forecasts_harm(typed_cube, typed_events):
    harm = _targeted(typed_cube, "harm")
    spy = _EventSpy().fit(harm, "2020-12", typed_events)
    crimes = typed_cube["counts"].values.mean(axis=0)
    np.testing.assert_allclose(spy.level_, crimes)  # fitted on the crimes, a count process
    # harm per crime over the last 12 periods, shrunk with the weight of 5 crimes
    recent = typed_cube["category_counts"].values[-12:].astype(float)
    weights = load_harm_weights().vector(list(typed_cube["category"].values))
    cell_harm = np.einsum("tkc,k->c", recent, weights)
    cell_crimes = recent.sum(axis=(0, 1))
    ratio = cell_harm.sum() / cell_crimes.sum()
    per_crime = (cell_harm + 5 * ratio) / (cell_crimes + 5)
    forecast = spy.predict(2)
    np.testing.assert_allclose(forecast.values, np.tile(crimes * per_crime, (2, 1)))
    assert _top_cell(typed_cube, forecast.values[0]) == "3536_1207"
    assert _top_cell(typed_cube, crimes) == "3537_1209"


def test_events_without_categories_cannot_be_cut_to_a_target(typed_cube, typed_events):
    with pytest.raises(DataError, match="events have no 'category' column"):
        _EventSpy().fit(_targeted(typed_cube, "burglary"), "2020-12",
                        typed_events.drop(columns="category"))


def test_count_targets_do_not_scale_event_models(typed_cube, typed_events):
    spy = _EventSpy().fit(_targeted(typed_cube, "crime"), "2020-12", typed_events)
    np.testing.assert_array_equal(spy.predict(1).values[0], spy.level_)


# ------------------------------------------------------------------------ untargeted


def test_an_untargeted_cube_behaves_as_before(typed_cube, typed_events):
    spy = _EventSpy().fit(typed_cube, "2020-12", typed_events)
    pd.testing.assert_frame_equal(spy.seen_, typed_events.loc[typed_events["time"]
                                                              < pd.Timestamp("2021-01-01")])
    forecast = spy.predict(1)
    np.testing.assert_array_equal(forecast.values[0], spy.level_)
    assert forecast.attrs == {"model": "test-event-spy", "cutoff": "2020-12", "freq": "M"}
    assert not hasattr(spy, "target_") and not hasattr(spy, "harm_per_crime_")


@pytest.mark.parametrize("name", ["naive-mean", "kde", "self-exciting-counts", "sepp"])
def test_target_all_forecasts_bit_for_bit_what_the_untargeted_cube_does(
        typed_cube, typed_events, name):
    params = {"max_iter": 30} if name == "sepp" else {}
    plain = make_model(name, **params).fit(typed_cube, "2020-12", typed_events).predict(1)
    every = make_model(name, **params).fit(_targeted(typed_cube, "all"), "2020-12",
                                           typed_events).predict(1)
    np.testing.assert_array_equal(plain.values, every.values)
    assert "target" not in plain.attrs and every.attrs["target"] == "all"


def test_rfg_harm_under_a_count_target_weighs_only_that_type(typed_cube):
    # the robbery cell carries the most harm overall, the burglary cell the most burglary
    plain = make_model("rfg-harm").fit(typed_cube, "2020-12").predict(1)
    assert _top_cell(typed_cube, plain) == "3536_1207"
    burglary = make_model("rfg-harm").fit(_targeted(typed_cube, "burglary"), "2020-12")
    assert _top_cell(typed_cube, burglary.predict(1)) == "3534_1207"
