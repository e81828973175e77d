"""The size estimate made before a grid is built, and the empty-area refusal of the
chunked builder."""

from __future__ import annotations

import pytest
import shapely

from hotspot.core.area import load_area
from hotspot.core.errors import DataError
from hotspot.core.resources import embedded_path
from hotspot.features.grid import build_grid, estimate_grid


@pytest.mark.parametrize("cell", [150.0, 20.0])
def test_the_cell_estimate_is_within_a_few_percent(cell):
    area = load_area(embedded_path("boundaries", "city-of-london-wards.gpkg"))
    n_squares, n_cells = estimate_grid(area.geometry, cell)
    actual = build_grid(area, cell).n_cells
    assert actual <= n_squares and abs(n_cells - actual) / actual < 0.05


def test_the_chunked_builder_refuses_an_area_that_misses_the_data(tmp_path, monkeypatch):
    from hotspot.core.area import StudyArea
    from hotspot.ingest.police_uk import ingest_police_uk
    from hotspot.store_cube import cube_from_store_chunked

    store = tmp_path / "store"
    ingest_police_uk([embedded_path("police-uk", "2019-01"), embedded_path("police-uk",
                                                                           "2019-02")], store)
    good = cube_from_store_chunked(store, 500.0, area=load_area(
        embedded_path("boundaries", "city-of-london-wards.gpkg")))
    before = {p: p.read_bytes() for p in good.rglob("*") if p.is_file()}
    import geopandas as gpd
    far = StudyArea(parts=gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1000, 1000)],
                                           crs="EPSG:27700"), crs="EPSG:27700")
    with pytest.raises(DataError, match="falls inside the study area"):
        cube_from_store_chunked(store, 500.0, area=far)
    assert {p: p.read_bytes() for p in good.rglob("*") if p.is_file()} == before
