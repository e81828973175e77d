import numpy as np
import pytest

from hotspot.core.area import bbox_area, choose_metric_crs, load_area
from hotspot.core.errors import ConfigError, DataError, GridError
from hotspot.features.grid import build_grid
from tests.conftest import EMBEDDED_DATA, require_shared


def test_grid_square_area_has_expected_cells(square_area):
    grid = build_grid(square_area, 150)
    assert grid.n_cells == 12
    assert np.allclose(grid.cells["area_m2"], 150**2)
    assert grid.cells["cell_id"].is_unique


def test_grid_origin_is_snapped_so_ids_are_stable(square_area):
    grid = build_grid(square_area, 150)
    # 530_100 / 150 = 3534, 181_050 / 150 = 1207: ids are absolute, not relative to the area
    assert grid.cells["cell_id"].iloc[0] == "3534_1207"
    assert set(build_grid(square_area, 150).cell_ids) == set(grid.cell_ids)


def test_grid_assign_every_inside_point_lands_in_one_cell(square_area):
    grid = build_grid(square_area, 150)
    rng = np.random.default_rng(0)
    minx, miny, maxx, maxy = square_area.geometry.bounds
    x, y = rng.uniform(minx, maxx, 5000), rng.uniform(miny, maxy, 5000)
    pos = grid.assign(x, y)
    assert (pos >= 0).all()
    squares = grid.cells.iloc[pos]
    assert (np.abs(x - squares["x"].to_numpy()) <= 75).all()
    assert (np.abs(y - squares["y"].to_numpy()) <= 75).all()


def test_grid_assign_outside_and_nan_is_minus_one(square_area):
    grid = build_grid(square_area, 150)
    pos = grid.assign(np.array([0.0, np.nan, 530_050.0]), np.array([0.0, 181_100.0, 181_100.0]))
    assert (pos == -1).all()


def test_city_grid_matches_the_measured_cell_counts():
    area = load_area(EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg")
    grid = build_grid(area, 150)
    assert area.crs == "EPSG:27700"
    # 175 clipped squares, 105 of them whole; the 23 under a quarter of a cell merge into
    # a neighbour (3 of them into whole squares, which then exceed a cell)
    assert grid.n_cells == 175 - 23 and len(grid.merged) == 23
    assert int((np.abs(grid.cells["area_m2"] - 150**2) < 1e-6).sum()) == 105 - 3
    assert grid.cells["area_m2"].min() >= 0.25 * 150**2
    assert grid.cells["area_m2"].sum() == pytest.approx(area.area_m2, rel=1e-9)


@pytest.mark.real_data
def test_ward_filter_selects_the_city_from_the_zipped_shapefile():
    wards = require_shared("boundaries", "london_wards.zip")
    area = load_area(wards, "BOROUGH=City of London")
    assert len(area.parts) == 25
    assert area.crs == "EPSG:27700"


@pytest.mark.real_data
def test_geopackage_boundaries_read():
    boroughs = require_shared("boundaries", "london_boroughs.gpkg")
    import geopandas as gpd

    column = next(c for c in gpd.read_file(boroughs).columns if c.lower() in ("name", "borough"))
    area = load_area(boroughs, f"{column}=City of London")
    assert area.area_m2 == pytest.approx(2.9e6, rel=0.1)


def test_bbox_outside_britain_gets_utm():
    area = bbox_area(-87.70, 41.85, -87.60, 41.90)  # Chicago
    assert area.crs == "EPSG:32616"
    assert choose_metric_crs(-0.1, 51.5) == "EPSG:27700"
    assert choose_metric_crs(151.2, -33.9) == "EPSG:32756"


def test_area_errors_name_the_problem(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_area(tmp_path / "nope.gpkg")
    gpkg = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"
    with pytest.raises(ConfigError, match="COLUMN=VALUE"):
        load_area(gpkg, "BOROUGH")
    with pytest.raises(ConfigError, match="columns: NAME"):
        load_area(gpkg, "WARD=x")
    with pytest.raises(ConfigError, match="matches no feature"):
        load_area(gpkg, "NAME=Atlantis")
    with pytest.raises(ConfigError, match="metres"):
        load_area(gpkg, crs="EPSG:4326")
    with pytest.raises(GridError, match="positive"):
        build_grid(load_area(gpkg), 0)
