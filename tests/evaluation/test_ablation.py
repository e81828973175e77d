import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import ConfigError
from hotspot.evaluation.ablation import covariate_ablation
from hotspot.features.covariates import parse_variants
from hotspot.features.cube import cube_from_counts
from hotspot.models.registry import available_models, model_tag

WIDTH, N_CELLS, N_T = 6, 36, 48


@pytest.fixture(scope="module")
def weather_driven():
    """Counts whose monthly total follows a 'temperature' covariate strongly."""
    rng = np.random.default_rng(11)
    base = rng.gamma(2.0, 1.5, N_CELLS)
    temperature = rng.normal(0.0, 1.0, N_T + 1)
    counts = rng.poisson(base[None, :] * np.exp(0.6 * temperature[:N_T, None]))
    cube = cube_from_counts(counts, WIDTH)
    times = pd.date_range(pd.Timestamp(cube["time"].values[0]), periods=N_T + 1, freq="MS")
    table = pd.DataFrame({"temp": temperature}, index=pd.Index(times, name="time"))
    return cube, table


def test_only_feature_table_models_take_covariates():
    assert {m for m in available_models() if model_tag(m, "takes_covariates")} == {"glm", "gbm"}


def test_ablation_finds_a_covariate_that_drives_counts(weather_driven):
    cube, table = weather_driven
    result = covariate_ablation(cube, ["naive-mean", "glm"], "2021-07", "2022-12",
                                {"none": None, "weather": {"weather": table}}, n_bootstrap=500)
    models = set(result.backtest.metrics["model"])
    assert models == {"naive-mean", "glm[none]", "glm[weather]"}
    deviance = result.differences.query("metric == 'poisson_deviance'").iloc[0]
    assert deviance["model"] == "glm[weather]" and deviance["reference"] == "glm[none]"
    assert deviance["mean_diff"] < 0 and deviance["better"]
    glm_params = [p["params"] for p in result.backtest.fitted_params if p["model"] == "glm[none]"]
    assert glm_params and all("covariates" not in p for p in glm_params)


def test_parse_variants_always_includes_none():
    assert parse_variants("weather") == ["none", "weather"]
    assert parse_variants("all,none") == ["none", "all"]
    with pytest.raises(ConfigError, match="choose from"):
        parse_variants("rain")
