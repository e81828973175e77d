import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.backtest import METRIC_COLUMNS, PREDICTION_COLUMNS, backtest
from hotspot.evaluation.bootstrap import bootstrap_mean_ci
from hotspot.models.base import LevelForecaster
from hotspot.models.registry import MODELS

BASELINES = ["naive-last", "naive-mean", "naive-longrun"]


def test_backtest_outputs_have_the_contract_columns(hot_cell_cube, tmp_path):
    result = backtest(hot_cell_cube, BASELINES, "2020-07", "2020-12", n_bootstrap=200)
    assert METRIC_COLUMNS == ["model", "target", "origin", "target_period", "metric",
                              "coverage", "value"]
    assert PREDICTION_COLUMNS == ["model", "target", "origin", "target_period", "cell_id",
                                  "expected", "observed"]
    assert list(result.metrics.columns) == METRIC_COLUMNS
    assert list(result.predictions.columns) == PREDICTION_COLUMNS
    assert set(result.metrics["target"]) == {"all"} and set(result.predictions["target"]) == {
        "all"}
    assert set(result.metrics["metric"]) == {"hit_rate", "pai", "pei", "oracle_hit_rate",
                                             "box_hit_rate", "box_pai", "log_score",
                                             "poisson_deviance"}
    assert result.settings["boxes"] == 20 and result.settings["target"] == "all"
    assert sorted(result.metrics["target_period"].unique()) == [f"2020-{m:02d}" for m in
                                                                range(7, 13)]
    first = result.metrics[result.metrics["target_period"] == "2020-07"]
    assert set(first["origin"]) == {"2020-06"}
    assert len(result.predictions) == 3 * 6 * hot_cell_cube.sizes["cell"]
    paths = result.save(tmp_path)
    written = pd.read_csv(paths["metrics"], keep_default_na=False, dtype=str)
    assert list(written.columns) == METRIC_COLUMNS
    for metric in ("poisson_deviance", "log_score"):
        assert set(written.loc[written["metric"] == metric, "coverage"]) == {""}
    assert set(written.loc[written["metric"] == "pai", "coverage"]) == {
        "0.005", "0.01", "0.02", "0.05", "0.1", "0.2"}
    summary = pd.read_csv(paths["summary"])
    assert {"model", "metric", "coverage", "mean", "ci_low", "ci_high"} <= set(summary.columns)
    assert pd.read_parquet(paths["predictions"]).shape[0] == len(result.predictions)


def test_backtest_observed_matches_the_cube(hot_cell_cube):
    result = backtest(hot_cell_cube, ["naive-last"], "2020-12", "2020-12", n_bootstrap=100)
    observed = result.predictions["observed"].to_numpy()
    np.testing.assert_array_equal(observed, hot_cell_cube["counts"].values[-1])


class _Spy(LevelForecaster):
    """Records the last period, the newest event and the newest covariate row each fit saw,
    and the newest covariate row each forecast saw."""

    name = "test-spy"
    _tags = {"takes_covariates": True}
    seen: list = []
    predicted: list = []

    def _fit(self, history, events, covariates):
        _Spy.seen.append((str(history["time"].values[-1])[:7], events["time"].max(),
                          covariates["weather"].index.max()))
        self.level_ = history["counts"].values[-1].astype(float)

    def _predict(self, periods, covariates):
        _Spy.predicted.append(covariates["weather"].index.max())
        return super()._predict(periods, covariates)


def test_backtest_never_shows_a_fit_its_future(hot_cell_cube, monkeypatch):
    """Plant events and covariate rows after every origin: no fit may see a period, event
    or covariate past its origin, and no forecast a covariate past its target."""
    monkeypatch.setitem(MODELS, "test-spy", f"{__name__}:_Spy")
    times = pd.date_range("2019-01-01", "2020-12-31 23:00", freq="7D")
    events = pd.DataFrame({"time": times, "x": 0.0, "y": 0.0})
    months = pd.date_range("2019-01-01", "2021-06-01", freq="MS")
    weather = pd.DataFrame({"temp": np.arange(len(months), dtype=float)},
                           index=pd.Index(months, name="time"))
    _Spy.seen.clear()
    _Spy.predicted.clear()
    backtest(hot_cell_cube, ["test-spy"], "2020-07", "2020-12", events=events,
             covariates={"weather": weather}, n_bootstrap=100)
    origins = [f"2020-{m:02d}" for m in range(6, 12)]
    assert [last for last, _, _ in _Spy.seen] == origins
    for origin, (_, newest_event, newest_row) in zip(origins, _Spy.seen, strict=True):
        assert newest_event < pd.Period(origin, "M").end_time
        assert newest_row == pd.Period(origin, "M").start_time
    assert _Spy.predicted == [(pd.Period(o, "M") + 1).start_time for o in origins]


def test_backtest_refuses_bad_ranges(hot_cell_cube):
    with pytest.raises(ConfigError, match="--from 2020-09 is after --to 2020-07"):
        backtest(hot_cell_cube, ["naive-last"], "2020-09", "2020-07")
    with pytest.raises(DataError, match="need history"):
        backtest(hot_cell_cube, ["naive-last"], "2019-01", "2019-03")
    with pytest.raises(DataError, match="within the cube"):
        backtest(hot_cell_cube, ["naive-last"], "2020-12", "2021-02")
    with pytest.raises(ConfigError, match="unknown model"):
        backtest(hot_cell_cube, ["naive-last", "magic"], "2020-07", "2020-08")


def test_summary_is_reproducible_and_brackets_the_mean(hot_cell_cube):
    a = backtest(hot_cell_cube, BASELINES, "2020-01", "2020-12", n_bootstrap=500, seed=7)
    b = backtest(hot_cell_cube, BASELINES, "2020-01", "2020-12", n_bootstrap=500, seed=7)
    pd.testing.assert_frame_equal(a.summary_table, b.summary_table)
    table = a.summary_table.dropna(subset=["ci_low"])
    assert (table["ci_low"] <= table["mean"]).all() and (table["mean"] <= table["ci_high"]).all()
    assert "naive-mean" in a.summary()


def test_bootstrap_ci_covers_known_mean():
    rng = np.random.default_rng(0)
    mean, low, high = bootstrap_mean_ci(rng.normal(10, 1, 200), seed=1)
    assert low < 10 < high and high - low < 0.5
    assert np.isnan(bootstrap_mean_ci(np.array([1.0]))[1])
