"""clip_water: the study area cut to land polygons, and the reports saying so."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import hotspot.models  # noqa: F401  (registers the models)
from hotspot.core.area import LAND_CLIP_COLUMN, clip_to_land, load_area
from hotspot.core.errors import DataError
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.ingest.store import AREA_FILE as STORE_AREA_FILE
from hotspot.models.registry import make_model
from hotspot.pipeline import settings_area
from hotspot.publish import cell_table
from hotspot.settings import Settings
from tests.publish.conftest import AREA_FILE, synthetic_events

#: The synthetic "river": everything south of this northing (EPSG:27700) is water.
RIVER_NORTHING = 180_900.0


@pytest.fixture(scope="module")
def land_file(tmp_path_factory, area):
    """A land polygon covering the City north of the river line, saved in WGS84."""
    minx, _, maxx, maxy = area.geometry.bounds
    land = gpd.GeoDataFrame({"kind": ["land"]}, crs=area.crs, geometry=[
        shapely.box(minx - 500, RIVER_NORTHING, maxx + 500, maxy + 500)])
    path = tmp_path_factory.mktemp("land") / "land.gpkg"
    land.to_crs("EPSG:4326").to_file(path, driver="GPKG")
    return path


@pytest.fixture(scope="module")
def clipped(land_file):
    return load_area(AREA_FILE, clip_land=land_file)


def test_clip_keeps_only_the_land_and_every_part(clipped, area, land_file):
    south = shapely.box(*area.geometry.bounds[:2], area.geometry.bounds[2], RIVER_NORTHING)
    water = area.geometry.intersection(south).area
    assert water > 50_000  # the test is not vacuous: the cut removes real area
    assert clipped.area_m2 == pytest.approx(area.area_m2 - water, rel=1e-4)
    assert len(clipped.parts) == len(area.parts)  # no ward dropped
    assert clipped.parts.geometry.bounds["miny"].min() >= RIVER_NORTHING - 0.5
    assert clipped.clipped_to == str(land_file) and area.clipped_to is None
    assert set(clipped.parts[LAND_CLIP_COLUMN]) == {str(land_file)}


def test_clip_survives_the_store_round_trip(clipped, land_file, tmp_path):
    saved = tmp_path / "area.gpkg"
    clipped.to_file(saved)
    again = load_area(saved)
    assert again.clipped_to == str(land_file)
    assert again.area_m2 == pytest.approx(clipped.area_m2)


def test_grid_and_report_of_a_clipped_area(clipped, area, land_file):
    grid = build_grid(clipped, 150)
    assert grid.cells["area_m2"].sum() == pytest.approx(clipped.area_m2, rel=1e-6)
    events = synthetic_events(clipped, pd.period_range("2020-01", "2020-12", freq="M"))
    cube = build_cube(events, grid, "M", source="synthetic", provenance={})
    forecast = make_model("naive-mean").fit(cube, "2020-12").predict(1)
    _, info = cell_table(forecast, cube, area_parts=clipped.parts)
    assert info.area_clipped_to == str(land_file)
    assert info.area_km2 == pytest.approx(clipped.area_m2 / 1e6, rel=1e-6)
    assert f"{clipped.area_m2 / 1e6:.2f} km²" in info.area_summary
    assert "clipped to the land polygons of" in info.area_summary
    # the store's cube records the clip in its provenance; the parts need not carry it
    recorded = build_cube(events, grid, "M", source="synthetic",
                          provenance={"area_clipped_to": "land.gpkg"})
    _, info = cell_table(forecast, recorded, area_parts=area.parts)
    assert info.area_clipped_to == "land.gpkg"
    _, plain = cell_table(forecast, cube)
    assert plain.area_clipped_to is None and "not clipped" in plain.area_summary


def test_settings_clip_the_named_and_the_stored_area(land_file, clipped, tmp_path):
    named = settings_area(Settings(area=AREA_FILE, clip_water=land_file))
    assert named.area_m2 == pytest.approx(clipped.area_m2)
    store = tmp_path / "store"
    store.mkdir()
    load_area(AREA_FILE).to_file(store / STORE_AREA_FILE)
    stored = settings_area(Settings(store=store, clip_water=land_file))
    assert stored.area_m2 == pytest.approx(clipped.area_m2)
    assert settings_area(Settings(store=store)) is None  # nothing to clip: the store's own


def test_bad_land_files_are_one_clear_error(area, tmp_path):
    with pytest.raises(DataError, match="--clip-water land file .* not found"):
        clip_to_land(area, tmp_path / "missing.gpkg")
    points = tmp_path / "points.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.Point(532000, 181000)], crs=area.crs).to_file(points)
    with pytest.raises(DataError, match="has no polygons"):
        clip_to_land(area, points)
    far = tmp_path / "far.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 100, 100)], crs=area.crs).to_file(far)
    with pytest.raises(DataError, match="none of its polygons overlaps"):
        clip_to_land(area, far)
