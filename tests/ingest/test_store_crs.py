"""A store's CRS is compared as a CRS (pyproj), never as text: any spelling of the British
National Grid is the British National Grid."""

from __future__ import annotations

import datetime
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xarray as xr
from pyproj import CRS

from hotspot.core.area import StudyArea, same_crs
from hotspot.core.errors import DataError, GridError
from hotspot.features.calendar import country_for_store
from hotspot.features.cube import same_grid
from hotspot.ingest._coordinates import project
from hotspot.ingest.csv_source import ingest_csv
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import META_FILE, init_store, read_events, read_quarantine

TODAY = datetime.date(2019, 3, 15)
BNG_WKT = CRS("EPSG:27700").to_wkt()
SPELLINGS = ["EPSG:27700", "epsg:27700", " EPSG:27700 ", BNG_WKT]


def write_meta(store, crs: str, resolution: str = "month") -> None:
    store.mkdir(parents=True)
    (store / META_FILE).write_text(json.dumps({"crs": crs, "time_resolution": resolution}))


def test_same_crs_reads_every_spelling_and_tells_crs_apart():
    assert all(same_crs(text, "EPSG:27700") for text in SPELLINGS)
    assert same_crs(CRS("EPSG:27700"), BNG_WKT)
    assert not same_crs("EPSG:27700", "EPSG:32630")


@pytest.mark.parametrize("spelling", SPELLINGS, ids=["upper", "lower", "padded", "wkt"])
def test_police_uk_into_a_store_with_another_spelling(data, tmp_path, area, spelling):
    tree = data.tree()
    ingest_police_uk([tree], tmp_path / "reference", area=area, today=TODAY)
    store = tmp_path / "store"
    write_meta(store, spelling)
    report = ingest_police_uk([tree], store, area=area, today=TODAY)
    assert report.n_events > 0
    pd.testing.assert_frame_equal(read_events(store), read_events(tmp_path / "reference"))
    key = ["file", "row"]
    pd.testing.assert_frame_equal(
        read_quarantine(store).sort_values(key, ignore_index=True),
        read_quarantine(tmp_path / "reference").sort_values(key, ignore_index=True),
    )
    assert json.loads((store / META_FILE).read_text())["crs"] == spelling  # left as written


def test_projected_input_in_the_store_crs_is_kept_exactly(data, tmp_path):
    """x/y given in the store's CRS under another spelling are kept, not sent through
    lon/lat and back; a study area in WKT clips them like one in EPSG:27700."""
    x, y = project(np.array([-0.09, -0.5]), np.array([51.515, 51.3]), "EPSG:4326", "EPSG:27700")
    records = [{"t": "2016-01-01 10:00", "e": repr(float(x[i])), "n": repr(float(y[i]))}
               for i in range(2)]
    path = data.write_csv(tmp_path / "london.csv", records, ["t", "e", "n"])
    store = tmp_path / "store"
    write_meta(store, BNG_WKT, "timestamp")
    square = shapely.box(x[0] - 50, y[0] - 50, x[0] + 50, y[0] + 50)
    box = StudyArea(parts=gpd.GeoDataFrame(geometry=[square], crs="EPSG:27700"), crs=BNG_WKT)
    report = ingest_csv(path, store, time_col="t", x_col="e", y_col="n",
                        input_crs="epsg:27700", area=box, today=TODAY)
    events = read_events(store)
    assert (events["x"].tolist(), events["y"].tolist()) == ([x[0]], [y[0]])
    assert report.by_reason == {"outside_study_area": 1}


def test_a_store_in_another_crs_is_still_refused(tmp_path):
    write_meta(tmp_path / "store", "EPSG:32630")
    with pytest.raises(DataError, match="holds crs='EPSG:32630' but this ingest needs"):
        init_store(tmp_path / "store", "EPSG:27700", "month")


def test_a_store_crs_pyproj_cannot_read_is_one_clear_error(tmp_path):
    write_meta(tmp_path / "store", "British grid, more or less")
    with pytest.raises(DataError, match="pyproj cannot read: write it as e.g. EPSG:27700"):
        init_store(tmp_path / "store", "EPSG:27700", "month")


def test_holidays_of_a_store_in_the_british_grid_under_any_spelling(tmp_path):
    for i, spelling in enumerate(SPELLINGS):
        write_meta(tmp_path / f"s{i}", spelling)
        assert country_for_store(tmp_path / f"s{i}", default=("US", None)) == ("GB", None)
    write_meta(tmp_path / "utm", "EPSG:32616")
    assert country_for_store(tmp_path / "utm", default=("US", None)) == ("US", None)


def test_cubes_whose_crs_is_spelled_differently_are_on_the_same_grid():
    def cube(crs: str) -> xr.Dataset:
        return xr.Dataset(coords={"cell": [0, 1]}, attrs={"crs": crs, "cell_size_m": 150.0})

    same_grid(cube("EPSG:27700"), cube(BNG_WKT))
    with pytest.raises(GridError, match="different grids"):
        same_grid(cube("EPSG:27700"), cube("EPSG:32630"))
