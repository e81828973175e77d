"""Every registered model through one contract (the sktime/scikit-learn common-test idea).

Models that need event-level data (``needs_events``) get the events behind
``hot_cell_cube`` (the ``hot_cell_events`` fixture); the others get none, as before.
"""

import numpy as np
import pandas as pd
import pytest

from hotspot import models
from hotspot.core.errors import ConfigError, DataError, NotFittedError
from hotspot.models.registry import make_model

ALL_MODELS = models.available_models()
#: Every model with its defaults, plus the variants whose code paths differ.
VARIANTS = [(name, {}) for name in ALL_MODELS] + [
    ("etas-grid", {"background_time": "seasonal"}),
    ("sepp", {"background_time": "seasonal"}),
]
VARIANT_IDS = [name + "".join(f"[{k}={v}]" for k, v in params.items())
               for name, params in VARIANTS]
each_model = pytest.mark.parametrize(("name", "params"), VARIANTS, ids=VARIANT_IDS)


def _fit(name, params, cube, until, events):
    """``make_model(name, **params).fit(cube, until)``, with the events when the model
    needs them."""
    model = make_model(name, **params)
    return model.fit(cube, until, events=events if model.needs_events else None)


def test_registry_has_the_baselines():
    assert {"naive-last", "naive-mean", "naive-longrun"} <= set(ALL_MODELS)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        make_model("nope")


@each_model
def test_fit_returns_self_and_predict_has_right_shape(name, params, hot_cell_cube,
                                                      hot_cell_events):
    model = make_model(name, **params)
    events = hot_cell_events if model.needs_events else None
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
