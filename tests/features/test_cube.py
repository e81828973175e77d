import json

import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import DataError
from hotspot.features.cube import (
    build_cube,
    check_cube,
    cube_periods,
    grid_of,
    open_cube,
    save_cube,
)
from hotspot.features.grid import build_grid
from tests.conftest import make_events


def test_cube_total_equals_events_inside(hot_cell_cube):
    provenance = json.loads(hot_cell_cube.attrs["provenance"])
    assert int(hot_cell_cube["counts"].sum()) == provenance["n_events_counted"] == 24 * 40
    assert (hot_cell_cube["category_counts"].sum("category") == hot_cell_cube["counts"]).all()


def test_cube_puts_hot_events_in_the_hot_cell(hot_cell_cube):
    totals = hot_cell_cube["counts"].sum("time").to_series()
    assert totals.idxmax() == "3535_1207"
    assert totals.max() > 0.45 * totals.sum()


def test_cube_fills_empty_periods_with_zeros(square_area):
    grid = build_grid(square_area, 150)
    events = make_events(square_area, pd.DatetimeIndex(["2020-01-01", "2020-04-01"]), 5, None)
    cube = build_cube(events, grid, "M")
    assert [str(p) for p in cube_periods(cube)] == ["2020-01", "2020-02", "2020-03", "2020-04"]
    assert cube["counts"].sum("cell").values.tolist() == [5, 0, 0, 5]


def test_cube_daily_and_weekly_periods(square_area):
    grid = build_grid(square_area, 150)
    events = make_events(square_area, pd.DatetimeIndex(["2020-01-01 13:45", "2020-01-09 08:00"]),
                         3, None)
    daily = build_cube(events, grid, "D")
    assert daily.sizes["time"] == 9
    weekly = build_cube(events, grid, "W")
    # 2020-01-01 is a Wednesday: weeks start on Mondays 2019-12-30 and 2020-01-06
    assert pd.DatetimeIndex(weekly["time"].values).strftime("%Y-%m-%d").tolist() == [
        "2019-12-30", "2020-01-06"]


def test_cube_counts_events_outside_area_in_provenance(square_area):
    grid = build_grid(square_area, 150)
    events = make_events(square_area, pd.DatetimeIndex(["2020-01-01"]), 10, None)
    events.loc[0, ["x", "y"]] = (0.0, 0.0)
    cube = build_cube(events, grid, "M")
    assert json.loads(cube.attrs["provenance"])["n_events_outside_area"] == 1
    assert int(cube["counts"].sum()) == 9


def test_cube_zarr_round_trip_is_exact(hot_cell_cube, tmp_path):
    path = save_cube(hot_cell_cube, tmp_path / "cube.zarr")
    back = open_cube(path)
    assert back["counts"].equals(hot_cell_cube["counts"])
    assert back.attrs["crs"] == "EPSG:27700"
    assert back["cell"].values.tolist() == hot_cell_cube["cell"].values.tolist()
    grid = grid_of(back)
    assert np.allclose(grid.cells["area_m2"], hot_cell_cube["area_m2"].values)


def test_save_cube_replaces_atomically(hot_cell_cube, tmp_path):
    path = save_cube(hot_cell_cube, tmp_path / "cube.zarr")
    save_cube(hot_cell_cube.isel(time=slice(0, 3)), path)
    assert open_cube(path).sizes["time"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["cube.zarr"]


def test_check_cube_and_open_cube_refuse_bad_input(hot_cell_cube, tmp_path):
    with pytest.raises(DataError, match="not found"):
        open_cube(tmp_path / "missing.zarr")
    broken = hot_cell_cube.copy()
    broken.attrs = {}
    with pytest.raises(DataError, match="lacks attributes"):
        check_cube(broken)
    with pytest.raises(DataError, match="counts"):
        check_cube(hot_cell_cube.rename({"counts": "n"}))
