import numpy as np
import pytest

from hotspot.core.errors import ConfigError
from hotspot.models.registry import make_model


def _history(cube, until_index):
    return cube["counts"].values[: until_index + 1].astype(float)


def test_naive_last_is_the_last_period(hot_cell_cube):
    forecast = make_model("naive-last").fit(hot_cell_cube, "2020-03").predict(1).values[0]
    np.testing.assert_array_equal(forecast, _history(hot_cell_cube, 14)[-1])


@pytest.mark.parametrize("k", [1, 3, 12, 50])
def test_naive_mean_is_the_mean_of_last_k(hot_cell_cube, k):
    forecast = make_model("naive-mean", k=k).fit(hot_cell_cube, "2020-03").predict(1).values[0]
    np.testing.assert_allclose(forecast, _history(hot_cell_cube, 14)[-k:].mean(axis=0))


def test_naive_mean_default_k_is_12(hot_cell_cube):
    assert make_model("naive-mean").k == 12
    with pytest.raises(ConfigError, match="at least 1"):
        make_model("naive-mean", k=0)
    with pytest.raises(ConfigError, match="bad parameter"):
        make_model("naive-last", k=3)


def test_naive_longrun_is_the_mean_of_all_history(hot_cell_cube):
    forecast = make_model("naive-longrun").fit(hot_cell_cube, "2020-03").predict(1).values[0]
    np.testing.assert_allclose(forecast, _history(hot_cell_cube, 14).mean(axis=0))
