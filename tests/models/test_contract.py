"""Every registered model through one contract (the sktime/scikit-learn common-test idea)."""

import numpy as np
import pandas as pd
import pytest

import models
from hotspot.errors import ConfigError, DataError, NotFittedError
from models.registry import make_model

ALL_MODELS = models.available_models()


def test_registry_has_the_baselines():
    assert {"naive-last", "naive-mean", "naive-longrun"} <= set(ALL_MODELS)
    with pytest.raises(ConfigError, match="unknown model 'nope'"):
        make_model("nope")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_fit_returns_self_and_predict_has_right_shape(name, hot_cell_cube):
    model = make_model(name)
    assert model.fit(hot_cell_cube, "2020-06") is model
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


@pytest.mark.parametrize("name", ALL_MODELS)
def test_data_after_cutoff_cannot_change_the_forecast(name, hot_cell_cube):
    """The leakage guard: plant a huge spike after the cutoff, the forecast must not move."""
    cutoff = pd.Timestamp("2020-06-01")
    planted = hot_cell_cube.copy(deep=True)
    after = planted["time"].values > np.datetime64(cutoff)
    planted["counts"].values[after] += 1000
    planted["counts"].values[after, 0] = 10**6
    clean = make_model(name).fit(hot_cell_cube, "2020-06").predict(1)
    leaked = make_model(name).fit(planted, "2020-06").predict(1)
    np.testing.assert_array_equal(clean.values, leaked.values)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_cutoff_before_the_cube_is_refused(name, hot_cell_cube):
    with pytest.raises(DataError, match="before the cube's first period"):
        make_model(name).fit(hot_cell_cube, "2018-01")


@pytest.mark.parametrize("name", ALL_MODELS)
def test_hot_cell_is_ranked_first(name, hot_cell_cube):
    forecast = make_model(name).fit(hot_cell_cube, "2020-12").predict(1).to_series()
    assert forecast.idxmax()[1] == "3535_1207"
