"""glm and gbm: learn seasonality and persistent hot cells; covariates; honest defaults."""

import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.backtest import backtest
from hotspot.features.cube import cube_from_counts
from hotspot.models.registry import make_model

WIDTH, HEIGHT, N_T = 8, 6, 48
N = WIDTH * HEIGHT


def seasonal_cube(seed: int = 0, dispersion: float | None = None):
    """48 months; stable cell rates (four hot cells ×8) times a strong annual cycle."""
    rng = np.random.default_rng(seed)
    base = np.exp(rng.normal(-0.3, 0.6, N))
    base[rng.choice(N, 4, replace=False)] *= 8
    season = np.exp(0.5 * np.sin(2 * np.pi * np.arange(N_T) / 12))
    mean = base[None] * season[:, None]
    if dispersion:  # gamma-Poisson: variance μ + α μ²
        mean = rng.gamma(1 / dispersion, mean * dispersion)
    return cube_from_counts(rng.poisson(mean), WIDTH)


def _mean_deviance(result, model):
    metrics = result.metrics
    return metrics[(metrics["model"] == model)
                   & (metrics["metric"] == "poisson_deviance")]["value"].mean()


@pytest.mark.parametrize("name", ["glm", "gbm"])
def test_beats_naive_last_in_a_short_backtest(name):
    result = backtest(seasonal_cube(0), ["naive-last", "naive-mean", name], "2022-10", "2022-12",
                      n_bootstrap=100)
    assert _mean_deviance(result, name) < 0.5 * _mean_deviance(result, "naive-last")
    if name == "glm":  # the annual cycle is in its features: it beats the 12-month mean too
        assert _mean_deviance(result, name) < _mean_deviance(result, "naive-mean")


def test_glm_reports_coefficients_and_convergence():
    cube = seasonal_cube(1)
    model = make_model("glm").fit(cube, "2022-12")
    fitted = model.fitted_params()
    assert fitted["converged"] and fitted["alpha"] is None
    trace = fitted["trace"][0]
    assert trace["method"] == "IRLS" and len(trace["deviance"]) == trace["iterations"] + 1
    assert np.all(np.diff(trace["deviance"][1:]) <= 1e-9)  # IRLS descends after its first step
    assert fitted["n_rows"] == 36 * N  # the last 36 of 48 months (all with lag 12 known)
    # the season is learned: the sine harmonic carries the cycle with the right sign
    assert fitted["coefficients"]["season_sin1"] > 0.2
    two = model.predict(2).values
    np.testing.assert_allclose(two[0], model.predict(1).values[0])
    assert np.isfinite(two).all() and two[1].sum() != two[0].sum()


def test_negbin_estimates_overdispersion():
    over = make_model("glm", family="negbin").fit(seasonal_cube(2, dispersion=0.5), "2022-12")
    assert 0.2 < over.fitted_params()["alpha"] < 1.0
    assert [t["family"] for t in over.fitted_params()["trace"]] == [
        "Poisson", "NegativeBinomial", "NegativeBinomial"]
    plain = make_model("glm", family="negbin").fit(seasonal_cube(2), "2022-12")
    assert plain.fitted_params()["alpha"] < 0.1
    with pytest.raises(ConfigError):
        make_model("glm", family="gamma")


def _covariate_cube(seed: int = 3):
    """Counts doubled in 'event' months; the event flag is known ahead of time."""
    rng = np.random.default_rng(seed)
    flag = (rng.random(N_T + 1) < 0.3).astype(float)
    base = np.exp(rng.normal(-0.3, 0.6, N))
    counts = rng.poisson(base[None] * np.exp(0.9 * flag[:N_T])[:, None])
    cube = cube_from_counts(counts, WIDTH)
    index = pd.date_range(pd.Timestamp(cube["time"].values[0]), periods=N_T + 1, freq="MS")
    return cube, {"event": pd.DataFrame({"flag": flag}, index=index)}, flag


def _fit_predict(name, cube, covariates, predict_with=None):
    cutoff = cube["time"].values[-1]
    return make_model(name).fit(cube, cutoff, covariates=covariates).predict(
        1, covariates=covariates if predict_with is None else predict_with)


@pytest.mark.parametrize("name", ["glm", "gbm"])
def test_covariate_moves_the_forecast(name):
    cube, covariates, flag = _covariate_cube()
    on = {"event": covariates["event"].assign(flag=np.r_[flag[:N_T], 1.0])}
    off = {"event": covariates["event"].assign(flag=np.r_[flag[:N_T], 0.0])}
    high = _fit_predict(name, cube, on)
    low = _fit_predict(name, cube, off)
    assert high.values.sum() > 1.5 * low.values.sum()
    assert high.shape == (1, N)
    # the forecast month's flag is read at predict: the same fit gives both forecasts
    np.testing.assert_array_equal(_fit_predict(name, cube, off, predict_with=on).values,
                                  high.values)
    missing = {"event": covariates["event"].iloc[:N_T]}  # no value for the forecast month
    with pytest.raises(DataError, match="forecast period"):
        _fit_predict(name, cube, missing)


@pytest.mark.parametrize("name", ["glm", "gbm"])
def test_predict_needs_the_covariate_groups_of_the_fit(name):
    cube, covariates, _ = _covariate_cube()
    model = make_model(name).fit(cube, cube["time"].values[-1], covariates=covariates)
    with pytest.raises(DataError, match=r"fitted with covariates \['event'\] but predict "
                                        r"got \[\]"):
        model.predict(1)


def test_gbm_is_seeded_and_records_its_training_loss():
    cube = seasonal_cube(4)
    a = make_model("gbm", random_state=7).fit(cube, "2022-06")
    b = make_model("gbm", random_state=7).fit(cube, "2022-06")
    np.testing.assert_array_equal(a.predict(2).values, b.predict(2).values)
    trace = a.fitted_params()["train_loss_trace"]
    assert len(trace) == a.fitted_params()["n_trees"] + 1 and trace[-1] < trace[0]
