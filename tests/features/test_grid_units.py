"""Grid units: boundary slivers merge into a neighbour, grids can be offset, and a cube
restores both so its grid assigns events exactly as the build did."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspot.core.area import StudyArea
from hotspot.core.errors import ConfigError, GridError
from hotspot.features import grid as grid_module
from hotspot.features.cube import (
    build_cube,
    cube_from_counts,
    grid_of,
    merged_squares,
    open_cube,
    same_grid,
    save_cube,
)
from hotspot.features.grid import MIN_CELL_SHARE, build_grid, estimate_grid, grid_offsets

X0, Y0 = 500_000.0, 180_000.0  # a corner on the 100 m lattice: squares 5000_1800 ...


def _area(*geometries) -> StudyArea:
    parts = gpd.GeoDataFrame(geometry=list(geometries), crs="EPSG:27700")
    return StudyArea(parts=parts, crs="EPSG:27700")


def _overhang() -> StudyArea:
    """3 x 3 whole 100 m squares plus a 10 m strip of a fourth column."""
    return _area(shapely.box(X0, Y0, X0 + 310, Y0 + 300))


def _events(area: StudyArea, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.geometry.bounds
    x, y = rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    months = pd.date_range("2020-01-01", periods=3, freq="MS").to_numpy()
    return pd.DataFrame({"time": rng.choice(months, n), "x": x, "y": y,
                         "category": rng.choice(["Burglary", "Robbery"], n)})


def test_min_cell_share_is_a_quarter_and_no_cell_is_below_it():
    assert MIN_CELL_SHARE == 0.25
    grid = build_grid(_overhang(), 100)
    assert grid.cells["area_m2"].min() >= MIN_CELL_SHARE * 100**2


def test_a_thin_sliver_merges_into_the_neighbour_sharing_its_long_edge():
    grid = build_grid(_overhang(), 100)
    # each 10 m x 100 m strip square shares 100 m with its left neighbour, 10 m above/below
    assert set(grid.merged) == {(5003, 1800, "5002_1800"), (5003, 1801, "5002_1801"),
                                (5003, 1802, "5002_1802")}
    assert grid.n_cells == 9
    host = grid.cells.set_index("cell_id").loc["5002_1801"]
    assert host["area_m2"] == pytest.approx(100 * 100 + 10 * 100)
    assert (host["ix"], host["iy"], host["x"], host["y"]) == (5002, 1801, X0 + 250, Y0 + 150)
    whole = shapely.box(X0 + 200, Y0 + 100, X0 + 310, Y0 + 200)
    assert host["geometry"].geom_type == "Polygon"
    assert host["geometry"].symmetric_difference(whole).area < 1e-6
    assert grid.cells["area_m2"].sum() == pytest.approx(310 * 300)


def test_a_host_that_is_itself_a_sliver_is_merged_in_its_turn():
    # 10 m overhang in x and y: the 10 m x 10 m corner ties between 5002_1803 and
    # 5003_1802 (10 m each) and goes to the smaller id, which then merges down
    grid = build_grid(_area(shapely.box(X0, Y0, X0 + 310, Y0 + 310)), 100)
    merged = {(ix, iy): host for ix, iy, host in grid.merged}
    assert merged[(5003, 1803)] == merged[(5002, 1803)] == "5002_1802"
    assert merged[(5003, 1802)] == "5002_1802"
    host = grid.cells.set_index("cell_id").loc["5002_1802"]
    assert host["area_m2"] == pytest.approx(110 * 110)
    assert grid.assign(np.array([X0 + 305.0]), np.array([Y0 + 305.0]))[0] == \
        int(np.flatnonzero(grid.cell_ids == "5002_1802")[0])


def test_an_island_sliver_goes_to_the_nearest_cell():
    main = shapely.box(X0, Y0, X0 + 300, Y0 + 300)
    island = shapely.box(X0 + 610, Y0 + 40, X0 + 630, Y0 + 60)  # 400 m², no shared edge
    grid = build_grid(_area(main, island), 100)
    assert grid.merged == ((5006, 1800, "5002_1800"),)
    host = grid.cells.set_index("cell_id").loc["5002_1800"]
    assert host["area_m2"] == pytest.approx(100 * 100 + 400)
    assert host["geometry"].geom_type == "MultiPolygon"
    pos = grid.assign(np.array([X0 + 620.0, X0 + 650.0]), np.array([Y0 + 50.0, Y0 + 50.0]))
    assert grid.cell_ids[pos[0]] == "5002_1800" and pos[1] == -1


def test_noise_is_dropped_not_merged():
    # a 1e-5 m overhang is below the 1e-6 noise share: no cell, no merge, nothing counted
    grid = build_grid(_area(shapely.box(X0, Y0, X0 + 300.00001, Y0 + 300)), 100)
    assert grid.n_cells == 9 and grid.merged == ()


def test_merging_keeps_every_event_and_puts_the_slivers_in_the_host(monkeypatch):
    area = _overhang()
    events = _events(area, 3000, seed=3)
    merged = build_cube(events, build_grid(area, 100), "M")
    monkeypatch.setattr(grid_module, "MIN_CELL_SHARE", 0.0)  # the grid before merging
    unmerged = build_cube(events, build_grid(area, 100), "M")
    assert unmerged.sizes["cell"] == 12 and merged.sizes["cell"] == 9
    assert int(merged["counts"].sum()) == int(unmerged["counts"].sum()) == len(events)
    for row in range(1800, 1803):
        host = merged["counts"].sel(cell=f"5002_{row}").values
        parts = unmerged["counts"].sel(cell=[f"5002_{row}", f"5003_{row}"]).sum("cell").values
        np.testing.assert_array_equal(host, parts)
        assert unmerged["counts"].sel(cell=f"5003_{row}").sum() > 0  # the sliver had events


def test_offset_grid_ids_and_centres():
    grid = build_grid(_area(shapely.box(X0, Y0, X0 + 400, Y0 + 400)), 100, (50.0, 50.0))
    assert grid.offset_m == (50.0, 50.0)
    # squares from X0 - 50: 4 whole squares flanked by half squares, corners a quarter
    assert grid.n_cells == 25 and grid.merged == ()
    cells = grid.cells.set_index("cell_id")
    assert cells.loc["4999_1799", ["x", "y", "area_m2"]].tolist() == [X0, Y0, 2500.0]
    assert cells.loc["5000_1800", ["x", "y", "area_m2"]].tolist() == [X0 + 100, Y0 + 100,
                                                                      10_000.0]
    pos = grid.assign(np.array([X0 + 10, X0 + 60, X0 + 150]), np.array([Y0 + 10, Y0 + 60, Y0 + 10]))
    assert grid.cell_ids[pos].tolist() == ["4999_1799", "5000_1800", "5001_1799"]


def test_grid_offsets():
    assert grid_offsets(1, 150) == [(0.0, 0.0)]
    assert grid_offsets(2, 150) == [(0.0, 0.0), (75.0, 75.0)]
    assert grid_offsets(4, 150) == [(0.0, 0.0), (75.0, 0.0), (0.0, 75.0), (75.0, 75.0)]
    with pytest.raises(ConfigError, match="1, 2 or 4"):
        grid_offsets(3, 150)
    with pytest.raises(GridError):
        grid_offsets(4, 0)
    with pytest.raises(ConfigError, match="offset"):
        build_grid(_overhang(), 100, (np.nan, 0.0))


def test_offset_grids_over_the_same_events_count_the_same_total():
    area = _area(shapely.Point(X0, Y0).buffer(430.0))
    events = _events(area, 2000, seed=5)
    inside = int(shapely.contains_xy(area.geometry, events["x"], events["y"]).sum())
    totals, cells = [], []
    for offset in grid_offsets(4, 150):
        grid = build_grid(area, 150, offset)
        totals.append(int(build_cube(events, grid, "M")["counts"].sum()))
        cells.append(grid.n_cells)
        assert grid.cells["area_m2"].sum() == pytest.approx(area.area_m2, rel=1e-9)
    assert totals == [inside] * 4
    assert len(set(cells)) > 1  # the shifted grids really are different grids


def test_grid_of_restores_offset_and_merges_so_assign_round_trips(tmp_path):
    area = _area(shapely.Point(X0, Y0).buffer(430.0), shapely.box(X0 + 600, Y0, X0 + 620, Y0 + 20))
    grid = build_grid(area, 150, (75.0, 0.0))
    assert grid.merged  # circle slivers and the island
    events = _events(area, 3000, seed=7)
    cube = build_cube(events, grid, "M")
    assert cube.attrs["grid_offset_m"] == [75.0, 0.0]
    assert [tuple(m) for m in merged_squares(cube)] == list(grid.merged)
    back = open_cube(save_cube(cube, tmp_path / "cube.zarr"))
    for restored in (grid_of(cube), grid_of(back)):
        assert restored.offset_m == grid.offset_m and restored.merged == grid.merged
        np.testing.assert_array_equal(restored.cell_ids, grid.cell_ids)
        # the cube keeps the area's outline to the millimetre (area_wkt)
        np.testing.assert_allclose(restored.cells["area_m2"], grid.cells["area_m2"], rtol=1e-5)
        np.testing.assert_array_equal(restored.assign(events["x"], events["y"]),
                                      grid.assign(events["x"], events["y"]))


def test_old_cubes_read_as_no_offset_and_no_merges():
    cube = cube_from_counts(np.ones((3, 6), dtype=int), 3)
    for attr in ("grid_offset_m", "merged_squares"):
        del cube.attrs[attr]
    grid = grid_of(cube)
    assert grid.offset_m == (0.0, 0.0) and grid.merged == ()
    assert grid.assign(cube["x"].values, cube["y"].values).tolist() == list(range(6))


def test_grids_with_different_offsets_are_not_the_same_grid():
    a = cube_from_counts(np.ones((3, 6), dtype=int), 3)
    b = a.copy()
    b.attrs = {**a.attrs, "grid_offset_m": [50.0, 0.0]}
    same_grid(a, a.copy())
    with pytest.raises(GridError, match="different grids"):
        same_grid(a, b)


def test_the_cell_estimate_counts_merged_cells():
    area = _area(shapely.Point(X0, Y0).buffer(3000.0))
    for offset in ((0.0, 0.0), (75.0, 75.0)):
        n_squares, n_cells = estimate_grid(area.geometry, 150, offset)
        actual = build_grid(area, 150, offset).n_cells
        assert actual <= n_squares and abs(n_cells - actual) / actual < 0.02


@pytest.mark.parametrize("offset", [(0.0, 0.0), (50.0, 30.0)])
def test_the_sepp_raster_bins_events_into_the_grids_cells(offset):
    from hotspot.features.cube import grid_offset, merged_positions
    from hotspot.models._raster import Raster

    area = _area(shapely.box(X0, Y0, X0 + 310, Y0 + 310))
    events = _events(area, 2000, seed=11)
    cube = build_cube(events, build_grid(area, 100, offset), "M")
    assert merged_positions(cube) is not None
    raster = Raster(cube["ix"].values, cube["iy"].values, 100.0, 3, offset=grid_offset(cube),
                    absorbed=merged_positions(cube))
    for r in (raster, raster.finer(5)):
        image = r.image(r.flat_index(events["x"].to_numpy(), events["y"].to_numpy()),
                        np.ones(len(events)))
        np.testing.assert_allclose(r.cell_sums(image), cube["counts"].sum("time").values)
