"""Weather aggregated to the cube's periods: values on hand-made months, the gap-filling
limit, daily lags, periods beyond the data and, above all, no period reading its future."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspot.core.area import StudyArea
from hotspot.core.errors import ConfigError, DataError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.features.weather import PERIOD_COLUMNS, weather_covariates


def make_cube(area: StudyArea, freq: str, first: str, last: str):
    """A cube on the 4 x 3 test grid spanning ``first..last`` (one event; weather tests
    only read its periods)."""
    grid = build_grid(area, 150)
    minx, miny, *_ = area.geometry.bounds
    events = pd.DataFrame({"event_id": ["e0"], "time": [pd.Timestamp(first)],
                           "x": [minx + 10], "y": [miny + 10], "category": ["Burglary"],
                           "source": ["test"]})
    return build_cube(events, grid, freq, first=first, last=last, source="test")


def daily_table(start: str, end: str, **columns) -> pd.DataFrame:
    dates = pd.date_range(start, end, freq="D")
    frame = pd.DataFrame({"date": dates})
    for name in ("tmax", "tmin", "tavg", "prcp"):
        value = columns.get(name, 0.0)
        frame[name] = np.broadcast_to(np.asarray(value, dtype=float), len(dates)).copy()
    return frame


def test_monthly_aggregates_of_a_hand_made_month(square_area):
    cube = make_cube(square_area, "M", "2021-01", "2021-03")
    daily = daily_table("2021-01-01", "2021-03-31", tmax=12.0, tmin=2.0, prcp=0.5)
    feb = daily["date"].dt.month == 2
    tmax = [20.0] * 10 + [25.0] * 5 + [26.0] * 3 + [10.0] * 10  # 25 counts as hot
    tmin = [-0.5] * 4 + [0.0] * 6 + [3.0] * 18  # 0 is not frost
    prcp = [0.0] * 10 + [0.9] * 5 + [1.0] * 3 + [5.0] * 10  # 1 mm counts as rainy
    daily.loc[feb, "tmax"], daily.loc[feb, "tmin"], daily.loc[feb, "prcp"] = tmax, tmin, prcp

    table = weather_covariates(daily, cube)
    assert list(table.columns) == list(PERIOD_COLUMNS)
    assert table.index.name == "time"
    assert table.index.equals(pd.DatetimeIndex(cube["time"].values))
    row = table.loc["2021-02-01"]
    assert row["tmax_mean"] == pytest.approx((200 + 125 + 78 + 100) / 28)
    assert row["tmin_mean"] == pytest.approx((-2 + 54) / 28)
    assert row["prcp_total"] == pytest.approx(4.5 + 3 + 50)
    assert (row["rain_days"], row["hot_days"], row["frost_days"]) == (13, 8, 4)
    jan = table.loc["2021-01-01"]
    assert jan["tmax_mean"] == pytest.approx(12.0) and jan["prcp_total"] == pytest.approx(15.5)
    assert (jan["rain_days"], jan["hot_days"], jan["frost_days"]) == (0, 0, 0)
    assert table.attrs["interpolated"] == {"tmax": 0, "tmin": 0, "prcp": 0}
    assert table.attrs["periods_without_weather"] == []


def test_weeks_run_monday_to_sunday(square_area):
    cube = make_cube(square_area, "W", "2021-02-01", "2021-02-14")
    daily = daily_table("2021-01-25", "2021-02-21")
    daily["tmax"] = np.arange(len(daily), dtype=float)  # 2021-02-01 is day 7
    table = weather_covariates(daily, cube)
    assert [t.strftime("%Y-%m-%d") for t in table.index] == ["2021-02-01", "2021-02-08"]
    np.testing.assert_allclose(table["tmax_mean"], [10.0, 17.0])


def test_short_gaps_are_interpolated_and_long_ones_stay_missing(square_area):
    cube = make_cube(square_area, "M", "2021-01", "2021-03")
    daily = daily_table("2021-01-01", "2021-03-31", tmin=1.0, prcp=2.0)
    daily["tmax"] = np.arange(len(daily), dtype=float)  # linear: interpolation is exact
    truth = weather_covariates(daily, cube)

    three = daily.copy()
    three.loc[three["date"].between("2021-02-10", "2021-02-12"), "tmax"] = np.nan
    filled = weather_covariates(three, cube, max_gap_days=3)
    pd.testing.assert_frame_equal(filled, truth, check_like=True)
    assert filled.attrs["interpolated"]["tmax"] == 3 and filled.attrs["missing"]["tmax"] == 0

    four = daily.copy()
    four.loc[four["date"].between("2021-02-10", "2021-02-13"), "tmax"] = np.nan
    table = weather_covariates(four, cube, max_gap_days=3)
    feb = table.loc["2021-02-01"]
    assert np.isnan(feb["tmax_mean"]) and np.isnan(feb["hot_days"])
    assert feb["tmin_mean"] == pytest.approx(1.0) and feb["prcp_total"] == pytest.approx(56.0)
    assert table.attrs["interpolated"]["tmax"] == 0 and table.attrs["missing"]["tmax"] == 4
    assert table.attrs["periods_incomplete"] == ["2021-02"]
    assert "days left missing tmax 4" in table.attrs["summary"]
    pd.testing.assert_frame_equal(weather_covariates(four, cube, max_gap_days=4), truth,
                                  check_like=True)
    assert np.isnan(weather_covariates(three, cube, max_gap_days=0).loc["2021-02-01",
                                                                        "tmax_mean"])


def test_daily_values_and_short_lags(square_area):
    cube = make_cube(square_area, "D", "2021-02-01", "2021-02-10")
    daily = daily_table("2021-01-25", "2021-02-10", tmin=-1.0)
    daily["tmax"] = np.arange(len(daily), dtype=float)  # 2021-01-31 is 6, 2021-02-01 is 7
    daily["prcp"] = daily["tmax"] * 10
    daily.loc[daily["date"] == "2021-02-05", "tmax"] = np.nan
    table = weather_covariates(daily, cube)
    assert list(table.columns) == ["tmax", "tmax_lag1", "tmax_lag2", "tmin", "tmin_lag1",
                                   "tmin_lag2", "prcp", "prcp_lag1", "prcp_lag2"]
    first = table.loc["2021-02-01"]
    assert (first["tmax"], first["tmax_lag1"], first["tmax_lag2"]) == (7.0, 6.0, 5.0)
    assert (first["prcp"], first["prcp_lag1"]) == (70.0, 60.0)
    # the day's own missing value is not filled from tomorrow ...
    assert np.isnan(table.loc["2021-02-05", "tmax"])
    assert table.loc["2021-02-05", "tmax_lag1"] == 10.0
    # ... but once tomorrow is the past, the one-day gap is interpolated for the lags
    assert table.loc["2021-02-06", "tmax_lag1"] == pytest.approx(11.0)
    assert table.loc["2021-02-07", "tmax_lag2"] == pytest.approx(11.0)
    assert table.attrs["interpolated"]["tmax"] == 1 and table.attrs["missing"]["tmax"] == 1


def test_forecast_periods_beyond_the_data_are_nan_and_reported(square_area):
    cube = make_cube(square_area, "M", "2021-01", "2021-05")
    daily = daily_table("2021-01-01", "2021-03-15", tmax=8.0, tmin=1.0, prcp=1.5)
    table = weather_covariates(daily, cube)
    assert table.loc["2021-01-01"].notna().all() and table.loc["2021-02-01"].notna().all()
    assert table.loc["2021-03-01":].isna().all().all()  # March is half there: NaN too
    assert table.attrs["periods_without_weather"] == ["2021-04", "2021-05"]
    assert table.attrs["periods_incomplete"] == ["2021-03"]
    assert "2 periods without weather (NaN, not invented)" in table.attrs["summary"]


def _random_weather(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    daily = daily_table("2020-12-20", "2021-05-10")
    n = len(daily)
    daily["tmax"] = rng.normal(12, 5, n)
    daily["tmin"] = daily["tmax"] - rng.uniform(2, 10, n)
    daily["prcp"] = rng.exponential(2, n)
    for column in ("tmax", "tmin", "prcp"):  # short gaps everywhere, boundaries included
        gaps = rng.choice(n - 3, 15, replace=False)
        for start in gaps:
            daily.loc[start:start + rng.integers(0, 3), column] = np.nan
    return daily


@pytest.mark.parametrize(("freq", "first", "last"), [
    ("M", "2021-01", "2021-04"), ("W", "2021-01-04", "2021-03-28"),
    ("D", "2021-01-01", "2021-01-31")])
def test_no_period_reads_its_future(square_area, freq, first, last):
    cube = make_cube(square_area, freq, first, last)
    daily = _random_weather(seed=3)
    starts = pd.DatetimeIndex(cube["time"].values)
    # a gap across every period boundary: filling it would need the next period's days
    for start in starts[1:]:
        daily.loc[daily["date"].between(start - pd.Timedelta(days=1), start), "tmax"] = np.nan
    table = weather_covariates(daily, cube)
    rng = np.random.default_rng(99)
    for t, next_start in enumerate(starts[1:]):
        changed = daily.copy()
        later = changed["date"] >= next_start
        for column in ("tmax", "tmin", "prcp"):
            changed.loc[later, column] = rng.normal(30, 10, later.sum())
        changed.loc[later & (rng.random(len(changed)) < 0.2), "tmax"] = np.nan
        again = weather_covariates(changed, cube)
        pd.testing.assert_frame_equal(again.iloc[: t + 1], table.iloc[: t + 1])
        assert not again.iloc[t + 1:].equals(table.iloc[t + 1:])


def test_the_table_fits_the_design_hook(square_area):
    from hotspot.features.design import build_design

    cube = make_cube(square_area, "M", "2021-01", "2021-03")
    daily = daily_table("2021-01-01", "2021-03-31", tmax=9.0, tmin=1.0, prcp=0.0)
    daily.loc[daily["date"].dt.month == 3, "tmax"] = 15.0
    table = weather_covariates(daily, cube)
    design = build_design(cube, covariates={"weather": table}, lags=(1,), window=1)
    assert {"weather_tmax_mean", "weather_tmax_mean_x_longrun",
            "weather_frost_days"} <= set(design.columns)
    by_time = design.groupby("time")["weather_tmax_mean"].agg(["min", "max"])
    np.testing.assert_allclose(by_time["min"], [9.0, 9.0, 15.0])
    np.testing.assert_allclose(by_time["max"], by_time["min"])


def test_bad_input_is_refused(square_area):
    cube = make_cube(square_area, "M", "2021-01", "2021-02")
    daily = daily_table("2021-01-01", "2021-02-28")
    with pytest.raises(DataError, match="lacks the columns"):
        weather_covariates(daily.drop(columns="prcp"), cube)
    with pytest.raises(DataError, match="duplicate dates"):
        weather_covariates(pd.concat([daily, daily.iloc[:1]]), cube)
    with pytest.raises(ConfigError, match="max_gap_days"):
        weather_covariates(daily, cube, max_gap_days=-1)
    empty = weather_covariates(daily.iloc[:0], cube)
    assert empty.isna().all().all() and len(empty.attrs["periods_without_weather"]) == 2


def test_forecast_rows_need_weather_for_the_target_period(square_area):
    """``ahead`` adds the target periods; without weather for them the design refuses."""
    from hotspot.features.design import design_for_next

    cube = make_cube(square_area, "M", "2021-01", "2021-03")
    daily = daily_table("2021-01-01", "2021-03-31", tmax=9.0, tmin=1.0, prcp=0.0)
    table = weather_covariates(daily, cube, ahead=1)
    assert table.index[-1] == pd.Timestamp("2021-04-01") and table.iloc[-1].isna().all()
    assert table.attrs["periods_without_weather"] == ["2021-04"]
    with pytest.raises(DataError, match="no value for the forecast period"):
        design_for_next(cube, {"weather": table}, lags=(1,), window=1)
    # a weather forecast (or the observed month, in a backtest) for April fills the row
    april = daily_table("2021-04-01", "2021-04-30", tmax=14.0, tmin=5.0, prcp=2.0)
    with_forecast = weather_covariates(pd.concat([daily, april]), cube, ahead=1)
    rows = design_for_next(cube, {"weather": with_forecast}, lags=(1,), window=1)
    assert rows["weather_tmax_mean"].eq(14.0).all()
