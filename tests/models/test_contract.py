"""Every registered model through one contract (the sktime/scikit-learn common-test idea).

Models that need event-level data (``needs_events``) get the events behind
``hot_cell_cube`` (the ``hot_cell_events`` fixture); models that take covariates
(``takes_covariates``) get a seeded monthly table (``covariates``); the others get neither.
"""

import copy
import inspect
import json
import subprocess
import sys
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from hotspot import models
from hotspot.core.errors import ConfigError, DataError, NotFittedError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.models.base import BaseForecaster, clone
from hotspot.models.registry import MODELS, make_model, model_class, model_tag
from tests.conftest import make_events

ALL_MODELS = models.available_models()
#: Every model with its defaults, plus the variants whose code paths differ.
VARIANTS = [(name, {}) for name in ALL_MODELS] + [
    ("etas-grid", {"background_time": "seasonal"}),
    ("sepp", {"background_time": "seasonal"}),
]
VARIANT_IDS = [name + "".join(f"[{k}={v}]" for k, v in params.items())
               for name, params in VARIANTS]
each_model = pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)
COVARIATE_MODELS = [name for name in ALL_MODELS if model_tag(name, "takes_covariates")]


#: A value each model refuses (models without parameters have none).
BAD_PARAMS = {
    "ensemble": {"members": ["naive-last", "naive-last"]},
    "etas-grid": {"spatial": "nowhere"},
    "gbm": {"max_iter": 0},
    "glm": {"family": "gamma"},
    "hotspot-map": {"holdout": 0},
    "kde": {"n_holdout": 0},
    "naive-mean": {"k": 0},
    "prospective-hotspot": {"radius_m": -1.0},
    "rfg-harm": {"tau": 0.0},
    "self-exciting-counts": {"max_periods": 1},
    "sepp": {"trigger": "nowhere"},
}


#: Valid values of other types than a model computes with (lists for tuples, ints for
#: floats): a fit that converts or rewrites its parameters in place shows up.
GIVEN_PARAMS = {
    "ensemble": {"members": ["naive-last", "naive-longrun"], "member_params": {
        "naive-last": {}}, "n_weight_origins": 3},
    "gbm": {"lags": [1, 2], "max_iter": 10, "learning_rate": 1},
    "glm": {"lags": [1, 2], "max_periods": 12, "interactions": 0},
    "hotspot-map": {"bandwidths_m": [0, 150], "holdout": 3, "total_periods": 6},
    "kde": {"bandwidths_m": [100, 200], "half_lives": [1, 3], "n_holdout": 3},
    "naive-mean": {"k": 3},
    "prospective-hotspot": {"radius_m": 300, "window_weeks": 6, "total_periods": 6},
    "rfg-harm": {"tau": 2, "k": 6, "missing_weight": 1},
    "self-exciting-counts": {"feedback": 1, "max_periods": 12},
}
GIVEN = [(name, params) for name, params in GIVEN_PARAMS.items()]
with_given_params = pytest.mark.parametrize(
    ("name", "params"), VARIANTS + GIVEN,
    ids=VARIANT_IDS + [f"{name}[given]" for name, _ in GIVEN])


@pytest.fixture
def covariates():
    """A seeded monthly table from the cube's first month to well past its last."""
    months = pd.date_range("2019-01-01", "2021-12-01", freq="MS")
    temp = np.random.default_rng(3).normal(10.0, 5.0, len(months))
    return {"weather": pd.DataFrame({"temp": temp}, index=pd.Index(months, name="time"))}


@pytest.fixture
def other_cube(square_area):
    """A different cube on the same grid: fewer events, another hot cell, other seed; with
    its events in ``attrs`` for the models that need them."""
    months = pd.date_range("2019-01-01", periods=24, freq="MS")
    events = make_events(square_area, months, 25, hot_xy=(530_625.0, 181_425.0), seed=7)
    cube = build_cube(events, build_grid(square_area, 150), "M", source="synthetic")
    return cube, events


def _inputs(model, events, covariates):
    """The keyword inputs ``model``'s tags ask for."""
    return {"events": events if model.get_tag("needs_events") else None,
            "covariates": covariates if model.get_tag("takes_covariates") else None}


def _fit(name, params, cube, until, events, covariates=None):
    """``make_model(name, **params).fit(cube, until)``, with the events and covariates
    when the model takes them."""
    model = make_model(name, **params)
    return model.fit(cube, until, **_inputs(model, events, covariates))


def _forecast(model, periods, covariates=None):
    return model.predict(periods, covariates=_inputs(model, None, covariates)["covariates"])


def _typed(value):
    """``value`` with the type of every part spelled out, so ``==`` compares deeply and a
    list that became a tuple (or an int a float) counts as a change."""
    if isinstance(value, Mapping):
        return ("mapping", {k: _typed(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_typed(v) for v in value])
    return (type(value).__name__, value)


def _learned(model):
    return sorted(a for a in vars(model) if a.endswith("_"))


def test_registry_has_the_baselines():
    assert {"naive-last", "naive-mean", "naive-longrun"} <= set(ALL_MODELS)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        make_model("nope")


@each_model
def test_fit_returns_self_and_predict_has_right_shape(name, params, hot_cell_cube,
                                                      hot_cell_events):
    model = make_model(name, **params)
    events = hot_cell_events if model.get_tag("needs_events") else None
    assert model.fit(hot_cell_cube, "2020-06", events=events) is model
    forecast = model.predict(2)
    assert forecast.dims == ("time", "cell")
    assert forecast.shape == (2, hot_cell_cube.sizes["cell"])
    assert pd.DatetimeIndex(forecast["time"].values).strftime("%Y-%m").tolist() == [
        "2020-07", "2020-08"]
    assert forecast.attrs["model"] == name and forecast.attrs["cutoff"] == "2020-06"
    assert (forecast["cell"].values == hot_cell_cube["cell"].values).all()
    assert np.all(forecast.values >= 0)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_predict_before_fit_raises(name):
    with pytest.raises(NotFittedError):
        make_model(name).predict()


@each_model
def test_data_after_cutoff_cannot_change_the_forecast(name, params, hot_cell_cube,
                                                      hot_cell_events):
    """The leakage guard: plant a huge spike after the cutoff, in the cube's counts and in
    the events (from the first minute after the cutoff period on), and the forecast must
    not move."""
    cutoff = pd.Timestamp("2020-06-01")
    planted = hot_cell_cube.copy(deep=True)
    after = planted["time"].values > np.datetime64(cutoff)
    planted["counts"].values[after] += 1000
    planted["counts"].values[after, 0] = 10**6
    x0, y0 = float(hot_cell_cube["x"].values[0]), float(hot_cell_cube["y"].values[0])
    n = 3000
    spike = pd.DataFrame({
        "event_id": [f"planted{i}" for i in range(n)],
        "time": pd.Timestamp("2020-07-01") + pd.to_timedelta(np.arange(n) * 7, unit="min"),
        "x": x0 + np.linspace(-40, 40, n), "y": y0 + np.linspace(-40, 40, n),
        "category": "Burglary", "source": "planted",
    })
    planted_events = pd.concat([hot_cell_events, spike], ignore_index=True)
    clean = _fit(name, params, hot_cell_cube, "2020-06", hot_cell_events).predict(1)
    leaked = _fit(name, params, planted, "2020-06", planted_events).predict(1)
    np.testing.assert_array_equal(clean.values, leaked.values)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_cutoff_before_the_cube_is_refused(name, hot_cell_cube):
    with pytest.raises(DataError, match="before the cube's first period"):
        make_model(name).fit(hot_cell_cube, "2018-01")


@each_model
def test_hot_cell_is_ranked_first(name, params, hot_cell_cube, hot_cell_events):
    forecast = _fit(name, params, hot_cell_cube, "2020-12", hot_cell_events).predict(1
                                                                               ).to_series()
    assert forecast.idxmax()[1] == "3535_1207"


def _poisoned(covariates, after, value):
    table = covariates["weather"].copy()
    table.loc[table.index > pd.Timestamp(after)] = value
    return {"weather": table}


@pytest.mark.parametrize("name", COVARIATE_MODELS)
@pytest.mark.parametrize("poison", [np.nan, 1e12])
def test_covariates_after_the_forecast_cannot_change_it(name, poison, hot_cell_cube,
                                                        hot_cell_events, covariates):
    """The fit may read covariates up to its cutoff, the forecast up to its last target
    period (known in advance, like holidays); rows after those must not matter."""
    clean = _forecast(_fit(name, {}, hot_cell_cube, "2020-06", hot_cell_events, covariates),
                      2, covariates)
    after_cutoff = _poisoned(covariates, "2020-06-01", poison)
    after_targets = _poisoned(covariates, "2020-08-01", poison)
    model = _fit(name, {}, hot_cell_cube, "2020-06", hot_cell_events, after_cutoff)
    np.testing.assert_array_equal(_forecast(model, 2, after_targets).values, clean.values)


# -- parameters: constructors store, fit validates (scikit-learn's contract) -------------


@pytest.mark.parametrize("name", ALL_MODELS)
def test_registry_entry_is_a_forecaster_named_as_its_key(name):
    cls = model_class(name)
    assert issubclass(cls, BaseForecaster) and cls.name == name
    assert MODELS[name].startswith("hotspot.models.")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_constructor_only_stores_its_parameters(name):
    """Any object at all goes in unchanged under its own name: no conversion, no check."""
    cls = model_class(name)
    parameters = [p for p in inspect.signature(cls.__init__).parameters.values()
                  if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    assert all(p.default is not p.empty for p in parameters)  # every parameter has a default
    names = [p.name for p in parameters]
    given = {p: object() for p in names}
    model = cls(**given)
    assert model.get_params().keys() == given.keys()
    assert all(model.get_params()[p] is given[p] for p in names)
    assert _learned(model) == []


@pytest.mark.parametrize("name", sorted(BAD_PARAMS))
def test_bad_parameters_fail_in_make_model_and_fit_not_the_constructor(name, hot_cell_cube):
    bad = BAD_PARAMS[name]
    model = model_class(name)(**bad)  # stores, does not judge
    assert model.get_params().items() >= bad.items()
    with pytest.raises(ConfigError, match=name):
        make_model(name, **bad)
    with pytest.raises(ConfigError, match=name):
        model.fit(hot_cell_cube, "2020-06")
    assert not model.is_fitted


def test_every_model_with_parameters_has_a_bad_value_to_test():
    with_params = {n for n in ALL_MODELS if model_class(n)().get_params()}
    assert with_params == set(BAD_PARAMS)


def test_a_wrongly_typed_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match="naive-mean: a parameter has an unusable value"):
        make_model("naive-mean", k="twelve")


@with_given_params
def test_fit_leaves_params_unchanged(name, params, hot_cell_cube, hot_cell_events,
                                     covariates):
    model = make_model(name, **params)
    before = copy.deepcopy(model.get_params())
    model.fit(hot_cell_cube, "2020-06", **_inputs(model, hot_cell_events, covariates))
    _forecast(model, 2, covariates)
    assert _typed(model.get_params()) == _typed(before)


@with_given_params
def test_clone_from_get_params_gives_the_same_forecast(name, params, hot_cell_cube,
                                                       hot_cell_events, covariates):
    model = _fit(name, params, hot_cell_cube, "2020-06", hot_cell_events, covariates)
    twin = clone(model)
    assert twin is not model and not twin.is_fitted
    assert _typed(twin.get_params()) == _typed(model.get_params())
    with pytest.raises(NotFittedError):
        twin.predict()
    twin.fit(hot_cell_cube, "2020-06", **_inputs(twin, hot_cell_events, covariates))
    np.testing.assert_array_equal(_forecast(twin, 2, covariates).values,
                                  _forecast(model, 2, covariates).values)


@each_model
def test_refit_equals_a_fresh_fit(name, params, hot_cell_cube, hot_cell_events, other_cube,
                                  covariates):
    """Nothing of fit A survives into fit B: another cutoff, then another cube."""
    cube_b, events_b = other_cube
    model = _fit(name, params, hot_cell_cube, "2020-12", hot_cell_events, covariates)
    for cube, until, events in ((hot_cell_cube, "2020-06", hot_cell_events),
                                (cube_b, "2020-09", events_b)):
        model.fit(cube, until, **_inputs(model, events, covariates))
        fresh = _fit(name, params, cube, until, events, covariates)
        np.testing.assert_array_equal(_forecast(model, 2, covariates).values,
                                      _forecast(fresh, 2, covariates).values)
        assert _learned(model) == _learned(fresh)
        assert (json.dumps(model.fitted_params(), default=str)
                == json.dumps(fresh.fitted_params(), default=str))


@pytest.mark.parametrize("name", ALL_MODELS)
def test_a_cutoff_before_the_cube_leaves_a_fitted_model_unfitted(name, hot_cell_cube,
                                                                 hot_cell_events, covariates):
    model = _fit(name, {}, hot_cell_cube, "2020-06", hot_cell_events, covariates)
    with pytest.raises(DataError, match="before the cube's first period"):
        model.fit(hot_cell_cube, "2018-01", **_inputs(model, hot_cell_events, covariates))
    assert not model.is_fitted and _learned(model) == []
    with pytest.raises(NotFittedError):
        model.predict()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_a_failing_refit_leaves_the_model_unfitted(name, hot_cell_cube, hot_cell_events,
                                                   covariates, monkeypatch):
    """The bug of issue 12: a refit that fails part-way (after ``_fit`` has set some
    state) must not leave the previous fit's levels behind under the new cutoff."""
    model = _fit(name, {}, hot_cell_cube, "2020-06", hot_cell_events, covariates)
    real_fit = type(model)._fit

    def fit_then_fail(self, *args):
        real_fit(self, *args)
        raise DataError("the refit failed")

    monkeypatch.setattr(type(model), "_fit", fit_then_fail)
    with pytest.raises(DataError, match="the refit failed"):
        model.fit(hot_cell_cube, "2020-09", **_inputs(model, hot_cell_events, covariates))
    assert not model.is_fitted and _learned(model) == []
    with pytest.raises(NotFittedError):
        model.predict()
    monkeypatch.undo()
    model.fit(hot_cell_cube, "2020-09", **_inputs(model, hot_cell_events, covariates))
    assert _forecast(model, 1, covariates).attrs["cutoff"] == "2020-09"


def test_importing_the_models_imports_no_model_library():
    code = ("import sys, hotspot.models; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('statsmodels', 'sklearn') or m.startswith('hotspot.models.') and "
            "m not in ('hotspot.models.registry', 'hotspot.models.params')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
