"""Monthly series, control selection and input parsing."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.claims import parse_claimed
from hotspot.evaluation.claims.series import (
    build_series,
    check_window,
    parse_month,
    select_controls,
    unit_threshold,
)

from .conftest import BLOCK_M, ORIGIN, synthetic_events


def _treated():
    x0, y0 = ORIGIN[0] + 2 * BLOCK_M, ORIGIN[1] + 2 * BLOCK_M
    return box(x0, y0, x0 + BLOCK_M, y0 + BLOCK_M)


@pytest.fixture(scope="module")
def events():
    return synthetic_events(n_months=30)


def test_build_series_counts_treated_buffer_and_controls(events):
    months = pd.period_range("2018-01", "2020-06", freq="M")
    treated = _treated()
    s = build_series(events, treated, months, months[24], months[29], buffer_m=500)
    inside = (events["x"].between(treated.bounds[0], treated.bounds[2])
              & events["y"].between(treated.bounds[1], treated.bounds[3]))
    assert s.treated.sum() == inside.sum()
    assert s.n_pre == 24 and s.n_post == 6
    assert s.buffer.sum() > 0
    # auto blocks are the treated area's size; none may touch the 500 m exclusion zone
    zone = treated.buffer(500)
    chosen = s.control_units[s.control_units["chosen"]]
    assert len(chosen) == s.n_controls > 3
    assert s.controls.shape == (30, s.n_controls)
    assert "grid blocks of 500 m" in s.selection_note
    frame = s.to_frame()
    assert list(frame.columns[:6]) == ["month", "treated", "buffer", "controls_total",
                                       "controls_mean", "in_window"]
    assert frame["in_window"].sum() == 6
    assert zone.area > 0


def test_controls_from_a_file_exclude_the_treated_area_and_its_ring(events):
    months = pd.period_range("2018-01", "2020-06", freq="M")
    cells = [box(ORIGIN[0] + i * BLOCK_M, ORIGIN[1] + j * BLOCK_M,
                 ORIGIN[0] + (i + 1) * BLOCK_M, ORIGIN[1] + (j + 1) * BLOCK_M)
             for i in range(6) for j in range(6)]
    units = gpd.GeoDataFrame({"NAME": [f"c{k}" for k in range(36)]}, geometry=cells,
                             crs="EPSG:27700")
    s = build_series(events, _treated(), months, months[24], months[29], controls=units,
                     buffer_m=400, n_controls=50)
    # within 400 m of block (2, 2): itself and its 8 neighbours (the next ring is 500 m off)
    assert s.n_candidates == 36
    assert s.n_controls == 36 - 9
    assert "c14" not in s.control_ids  # block (2, 2) itself (index 2 * 6 + 2)


def test_select_controls_prefers_similar_level_and_trend():
    t = np.arange(24)
    treated = 20 * np.exp(0.02 * t)
    candidates = np.column_stack([
        20 * np.exp(0.02 * t),  # same level and trend
        200 * np.exp(0.02 * t),  # same trend, 10x level
        20 * np.exp(-0.05 * t),  # same level, falling
        2 * np.ones(24),  # too few events
    ] + [rng_col for rng_col in np.random.default_rng(0).uniform(15, 25, (4, 24))])
    chosen, table = select_controls(treated, candidates, n_controls=2, min_unit_mean=5)
    assert 0 in chosen
    assert 3 not in chosen and not table.loc[3, "eligible"]


def test_unit_threshold_is_lowered_for_rare_categories():
    assert unit_threshold(np.full(12, 40.0), 5) == 5
    assert unit_threshold(np.full(12, 4.0), 5) == 2
    assert unit_threshold(np.full(12, 0.5), 5) == 1


def test_check_window_errors():
    months = pd.period_range("2018-01", "2020-06", freq="M")
    with pytest.raises(ConfigError, match="after --to"):
        check_window(months, pd.Period("2020-03", "M"), pd.Period("2020-01", "M"))
    with pytest.raises(DataError, match="outside the store's data"):
        check_window(months, pd.Period("2020-03", "M"), pd.Period("2020-09", "M"))
    with pytest.raises(DataError, match="at least 12 pre-period months"):
        check_window(months, pd.Period("2018-06", "M"), pd.Period("2018-09", "M"))
    window = check_window(months, pd.Period("2020-01", "M"), pd.Period("2020-03", "M"),
                          max_pre_months=12)
    assert str(window[0]) == "2019-01" and str(window[-1]) == "2020-03"


def test_parse_month_and_claimed():
    assert parse_month("2019-04", "--start") == pd.Period("2019-04", "M")
    for bad in ("2019-13", "April", "2019-4", ""):
        with pytest.raises(ConfigError, match="--start"):
            parse_month(bad, "--start")
    assert parse_claimed("-12%") == pytest.approx(0.88)
    assert parse_claimed("\u221225 %") == pytest.approx(0.75)
    assert parse_claimed("+10%") == pytest.approx(1.10)
    assert parse_claimed(None) is None
    for bad in ("twelve", "-12%%", "-120%", "0%", "12 percent"):
        with pytest.raises(ConfigError, match="--claimed"):
            parse_claimed(bad)
