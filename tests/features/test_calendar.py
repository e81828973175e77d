"""Calendar covariates: known months, holidays by the ``holidays`` package's rules, event
indicators and the holiday country of a store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspot.core.area import load_area
from hotspot.core.errors import ConfigError, DataError
from hotspot.features.calendar import (
    calendar_covariates,
    country_for_lonlat,
    country_for_store,
    event_column,
    read_events_table,
)
from hotspot.ingest.store import init_store
from tests.conftest import EMBEDDED_DATA

WARDS = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"


def months(first: str, last: str) -> pd.PeriodIndex:
    return pd.period_range(first, last, freq="M")


def test_december_2020_in_great_britain():
    table = calendar_covariates(months("2020-11", "2021-01"), "M", country="GB")
    dec = table.loc["2020-12-01"]
    assert dec["month"] == 12 and dec["days"] == 31
    # Christmas (Fri 25th), Boxing Day (Sat 26th) and its substitute Monday 28th
    assert dec["holidays"] == 3
    assert dec["weekend_share"] == pytest.approx(8 / 31)  # Sat/Sun 5,6,12,13,19,20,26,27
    assert dec["weekday_share"] == pytest.approx(23 / 31)
    assert dec["month_sin"] == pytest.approx(np.sin(2 * np.pi * 11 / 12))
    assert dec["month_cos"] == pytest.approx(np.cos(2 * np.pi * 11 / 12))
    assert table.loc["2020-11-01", "holidays"] == 0
    assert table.loc["2021-01-01", "holidays"] == 1  # New Year's Day
    assert table.index.name == "time" and str(table.index.dtype) == "datetime64[ns]"
    for column in table.columns:
        assert pd.api.types.is_numeric_dtype(table[column])


def test_february_of_a_leap_year_and_the_nations():
    feb = calendar_covariates(months("2020-02", "2020-02"), "M").iloc[0]
    # Saturdays 1, 8, 15, 22, 29 and Sundays 2, 9, 16, 23
    assert feb["days"] == 29 and feb["weekend_share"] == pytest.approx(9 / 29)
    april = months("2020-04", "2020-04")
    # Easter Monday (13 April 2020) is a bank holiday in England, not in Scotland
    assert calendar_covariates(april, "M", subdiv="ENG").iloc[0]["holidays"] == 2
    assert calendar_covariates(april, "M", subdiv="SCT").iloc[0]["holidays"] == 1
    january = months("2020-01", "2020-01")
    assert calendar_covariates(january, "M", subdiv="SCT").iloc[0]["holidays"] == 2
    july = calendar_covariates(months("2020-07", "2020-07"), "M", country="US").iloc[0]
    assert july["holidays"] == 2  # 4 July was a Saturday: observed Friday 3 July too


def test_days_and_weeks():
    days = calendar_covariates(pd.date_range("2020-12-24", "2020-12-28"), "D")
    assert days["days"].tolist() == [1] * 5
    assert days["holidays"].tolist() == [0, 1, 1, 0, 1]
    assert days["weekend_share"].tolist() == [0, 0, 1, 1, 0]
    weeks = calendar_covariates(pd.period_range("2020-12-21", periods=2, freq="W"), "W")
    assert [t.strftime("%Y-%m-%d") for t in weeks.index] == ["2020-12-21", "2020-12-28"]
    assert weeks["days"].tolist() == [7, 7]
    assert weeks["holidays"].tolist() == [2, 2]  # 25+26 Dec; 28 Dec + 1 Jan
    assert weeks["weekend_share"].tolist() == pytest.approx([2 / 7, 2 / 7])


def test_a_cube_gives_its_own_periods(hot_cell_cube):
    table = calendar_covariates(hot_cell_cube, country="GB", subdiv="ENG")
    assert table.index.equals(pd.DatetimeIndex(hot_cell_cube["time"].values))
    assert table["days"].sum() == 366 + 365  # 2019..2020
    ahead = calendar_covariates(hot_cell_cube, subdiv="ENG", ahead=2)
    assert ahead.index[-2:].strftime("%Y-%m").tolist() == ["2021-01", "2021-02"]
    assert ahead.loc["2021-01-01", "holidays"] == 1
    with pytest.raises(ConfigError, match="differs"):
        calendar_covariates(hot_cell_cube, "D")
    with pytest.raises(ConfigError, match="need freq"):
        calendar_covariates(pd.DatetimeIndex(["2020-01-01"]))


def test_event_table_gives_the_share_of_days_inside(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text(
        "start,end,name\n"
        "2020-03-26,2020-06-15,Lockdown\n"
        "2020-11-05,2020-12-02,Lockdown\n"
        "2020-12-20,2020-12-20,Christmas market (closed)\n"
    )
    table = calendar_covariates(months("2020-02", "2020-12"), "M", events_table=events)
    lockdown = table["event_lockdown"]
    assert lockdown["2020-02-01"] == 0.0
    assert lockdown["2020-03-01"] == pytest.approx(6 / 31)  # 26..31 March, ends included
    assert lockdown["2020-04-01"] == 1.0 and lockdown["2020-05-01"] == 1.0
    assert lockdown["2020-06-01"] == pytest.approx(15 / 30)
    assert lockdown["2020-11-01"] == pytest.approx(26 / 30)
    assert lockdown["2020-12-01"] == pytest.approx(2 / 31)
    market = table["event_christmas_market_closed"]
    assert market["2020-12-01"] == pytest.approx(1 / 31) and market.drop("2020-12-01").eq(0).all()
    assert event_column("Lockdown 2") == "event_lockdown_2"


def test_overlapping_intervals_of_one_name_count_a_day_once():
    events = pd.DataFrame({"start": ["2020-04-01", "2020-04-10"],
                           "end": ["2020-04-15", "2020-04-20"], "name": ["closure"] * 2})
    table = calendar_covariates(months("2020-04", "2020-04"), "M", events_table=events)
    assert table.iloc[0]["event_closure"] == pytest.approx(20 / 30)


def test_bad_event_tables_and_countries_are_refused(tmp_path):
    with pytest.raises(DataError, match="lacks columns"):
        read_events_table(pd.DataFrame({"from": ["2020-01-01"], "name": ["x"]}))
    with pytest.raises(DataError, match="ends .* before it starts"):
        read_events_table(pd.DataFrame({"start": ["2020-02-01"], "end": ["2020-01-01"],
                                        "name": ["x"]}))
    with pytest.raises(DataError, match="line 2"):
        read_events_table(pd.DataFrame({"start": ["soon"], "end": ["2020-01-01"],
                                        "name": ["x"]}))
    with pytest.raises(DataError, match="not found"):
        read_events_table(tmp_path / "absent.csv")
    with pytest.raises(ConfigError, match="country='XX'"):
        calendar_covariates(months("2020-01", "2020-01"), "M", country="XX")


def test_the_country_comes_from_the_store_area(tmp_path):
    store = tmp_path / "store"
    init_store(store, "EPSG:27700", "month")
    assert country_for_store(store) == ("GB", None)  # no area yet: the CRS says GB
    load_area(WARDS).to_file(store / "area.gpkg")
    assert country_for_store(store) == ("GB", "ENG")
    assert country_for_lonlat(-87.63, 41.88) == ("US", None)  # Chicago
    assert country_for_lonlat(-3.19, 55.95) == ("GB", "SCT")  # Edinburgh
    assert country_for_lonlat(-5.93, 54.60) == ("GB", "NIR")  # Belfast
    assert country_for_lonlat(2.35, 48.86) is None
    other = tmp_path / "utm"
    init_store(other, "EPSG:32616", "timestamp")
    assert country_for_store(other, default=("US", "IL")) == ("US", "IL")
