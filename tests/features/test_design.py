"""The feature table: right columns, right values, and nothing from the period itself or later."""

import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import ConfigError, DataError
from hotspot.features.cube import cube_from_counts
from hotspot.features.design import (
    build_design,
    design_for_next,
    feature_columns,
    usable_lags,
)
from hotspot.features.spatial import queen_adjacency

WIDTH, HEIGHT, N_T = 5, 4, 30


@pytest.fixture
def cube():
    counts = np.random.default_rng(3).poisson(2.0, (N_T, WIDTH * HEIGHT))
    return cube_from_counts(counts, WIDTH, start="2019-01-01")


def _rows_at(table: pd.DataFrame, t: int) -> pd.DataFrame:
    times = np.sort(table["time"].unique())
    return table[table["time"] == times[t]].reset_index(drop=True)


def test_columns_and_shape(cube):
    table = build_design(cube)
    assert len(table) == N_T * WIDTH * HEIGHT
    expected = {"time", "cell", "y", "lag_1", "lag_2", "lag_3", "lag_12", "nb_lag_1",
                "nb_mean_12", "mean_12", "longrun", "trend", "season_sin1", "season_cos1",
                "log_area"}
    assert expected <= set(table.columns)
    assert "y" not in feature_columns(table) and "lag_1" in feature_columns(table)
    np.testing.assert_array_equal(table["y"].to_numpy().reshape(N_T, -1), cube["counts"].values)
    # lag 12 is unknown for the first 12 periods and known after
    lag12 = table["lag_12"].to_numpy().reshape(N_T, -1)
    assert np.isnan(lag12[:12]).all() and np.isfinite(lag12[12:]).all()
    tail = build_design(cube, last_periods=5)
    assert len(tail) == 5 * WIDTH * HEIGHT
    pd.testing.assert_frame_equal(tail, table.iloc[-len(tail):].reset_index(drop=True))


def test_feature_values(cube):
    counts = cube["counts"].values.astype(float)
    table = build_design(cube)
    t = 20
    rows = _rows_at(table, t)
    np.testing.assert_array_equal(rows["lag_1"], counts[t - 1])
    np.testing.assert_array_equal(rows["lag_12"], counts[t - 12])
    np.testing.assert_allclose(rows["longrun"], counts[:t].mean(axis=0))
    np.testing.assert_allclose(rows["mean_12"], counts[t - 12:t].mean(axis=0))
    # neighbour sum for an interior cell (ix=1, iy=1) and a corner (0, 0), written out
    interior = 1 * WIDTH + 1
    around = [r * WIDTH + c for r in (0, 1, 2) for c in (0, 1, 2) if (r, c) != (1, 1)]
    assert rows["nb_lag_1"][interior] == counts[t - 1, around].sum()
    assert rows["nb_lag_1"][0] == counts[t - 1, [1, WIDTH, WIDTH + 1]].sum()
    assert rows["trend"].unique().tolist() == [t]
    assert np.isnan(_rows_at(table, 0)["longrun"]).all()


def test_queen_adjacency_counts_neighbours():
    ix, iy = np.arange(12) % 4, np.arange(12) // 4
    degree = np.asarray(queen_adjacency(ix, iy).sum(axis=1)).ravel()
    assert degree.reshape(3, 4).tolist() == [[3, 5, 5, 3], [5, 8, 8, 5], [3, 5, 5, 3]]


@pytest.mark.parametrize("t", [1, 5, 12, 13, 29])
def test_no_feature_reads_its_own_period_or_later(cube, t):
    covariate = {"temp": pd.Series(np.arange(N_T, dtype=float), index=cube["time"].values)}
    clean = _rows_at(build_design(cube, covariate), t)
    changed = cube.copy(deep=True)
    rng = np.random.default_rng(t)
    changed["counts"].values[t:] = rng.poisson(50.0, changed["counts"].values[t:].shape)
    leaked = _rows_at(build_design(changed, covariate), t)
    features = feature_columns(clean)
    pd.testing.assert_frame_equal(clean[features], leaked[features])
    assert not np.array_equal(clean["y"], leaked["y"])  # the perturbation did happen


def test_covariates_join_on_period_and_interact(cube):
    times = pd.DatetimeIndex(cube["time"].values)
    weather = pd.DataFrame({"temp": np.arange(N_T) * 1.5, "rain": np.arange(N_T) % 3},
                           index=times).iloc[::-1].drop(times[4])  # shuffled, one missing
    holidays = pd.DataFrame({"time": times.to_period("M"), "n": np.arange(N_T) % 2})
    table = build_design(cube, {"weather": weather, "holidays": holidays})
    assert {"weather_temp", "weather_rain", "holidays", "weather_temp_x_longrun",
            "holidays_x_longrun"} <= set(table.columns)
    rows = _rows_at(table, 7)
    assert (rows["weather_temp"] == 7 * 1.5).all() and (rows["holidays"] == 1).all()
    np.testing.assert_allclose(rows["weather_temp_x_longrun"], 7 * 1.5 * rows["longrun"])
    assert _rows_at(table, 4)["weather_temp"].isna().all()  # no value for that period
    assert "holidays_x_longrun" not in build_design(cube, {"holidays": holidays},
                                                    interactions=False).columns


def test_design_for_next_matches_the_rows_built_with_the_future_known(cube):
    history = cube.isel(time=slice(0, N_T - 1))
    covariate = {"temp": pd.Series(np.arange(N_T, dtype=float), index=cube["time"].values)}
    ahead = design_for_next(history, covariate, 1)
    full = _rows_at(build_design(cube, covariate), N_T - 1)
    features = feature_columns(full)
    pd.testing.assert_frame_equal(ahead[features], full[features])
    assert ahead["y"].isna().all()
    assert (ahead["time"] == full["time"]).all()


def test_design_for_next_recursive_horizons(cube):
    n = WIDTH * HEIGHT
    assumed = np.full((1, n), 7.0)
    two = design_for_next(cube, None, 2, assumed=assumed)
    assert len(two) == 2 * n
    step2 = two.iloc[n:]
    assert (step2["lag_1"] == 7.0).all()
    np.testing.assert_array_equal(step2["lag_2"], cube["counts"].values[-1])
    unknown = design_for_next(cube, None, 2).iloc[n:]
    assert unknown["lag_1"].isna().all() and unknown["longrun"].isna().all()
    with pytest.raises(DataError, match="assumed"):
        design_for_next(cube, None, 2, assumed=np.ones((2, n)))


def test_missing_future_covariate_is_refused(cube):
    covariate = {"temp": pd.Series(np.arange(N_T, dtype=float), index=cube["time"].values)}
    with pytest.raises(DataError, match="forecast period"):
        design_for_next(cube, covariate, 1)


def test_seasonality_options_and_bad_lags(cube):
    onehot = build_design(cube, seasonality="onehot")
    assert {f"month_{m}" for m in range(2, 13)} <= set(onehot.columns)
    assert _rows_at(onehot, 1)["month_2"].eq(1).all()
    with pytest.raises(ConfigError):
        build_design(cube, lags=(0, 1))
    daily = cube_from_counts(cube["counts"].values, WIDTH, freq="D", start="2024-01-01")
    table = build_design(daily, lags=(1, 7))
    assert {f"dow_{d}" for d in range(1, 7)} <= set(table.columns)
    assert _rows_at(table, 1)["dow_1"].eq(1).all()  # 2024-01-02 is a Tuesday
    assert usable_lags((1, 2, 12), 14) == (1, 2) and usable_lags((12,), 5) == (1,)
