"""A saved cube is readable without the project: plain ``xr.open_zarr`` opens it without a
warning, every numeric variable has units and a long name, and the grid mapping's WKT is
the cube's CRS."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import xarray as xr
from pyproj import CRS

from hotspot.features.cube import GRID_MAPPING, cube_from_counts, open_cube, save_cube

#: Run in a fresh interpreter that never imports hotspot: what a user of the file sees.
PLAIN_READER = """
import json, sys, warnings
warnings.simplefilter("error")
import xarray as xr
from pyproj import CRS
cube = xr.open_zarr(sys.argv[1])
wkt = cube[cube["counts"].attrs["grid_mapping"]].attrs["crs_wkt"]
print(json.dumps({
    "hotspot_imported": any(m.startswith("hotspot") for m in sys.modules),
    "conventions": cube.attrs["Conventions"],
    "variables": {name: dict(cube[name].attrs) for name in cube.variables},
    "epsg": CRS.from_wkt(wkt).to_epsg(),
}, default=str))
"""


def _saved(tmp_path, crs="EPSG:27700"):
    counts = np.arange(24, dtype=np.int32).reshape(4, 6)
    return save_cube(cube_from_counts(counts, 3, crs=crs), tmp_path / "cube.zarr")


def test_plain_xarray_opens_the_cube_without_warnings_and_finds_cf_attributes(tmp_path):
    path = _saved(tmp_path)
    result = subprocess.run([sys.executable, "-c", PLAIN_READER, str(path)],
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # a warning would be an error there
    found = json.loads(result.stdout)
    assert not found["hotspot_imported"]
    assert found["conventions"] == "CF-1.8" and found["epsg"] == 27700
    variables = found["variables"]
    for name in ("counts", "category_counts", "x", "y", "ix", "iy", "area_m2"):
        assert variables[name]["units"] and variables[name]["long_name"], name
    for name in ("time", "cell", "category", GRID_MAPPING):
        assert variables[name]["long_name"], name
    assert variables["x"]["standard_name"] == "projection_x_coordinate"
    assert variables["y"]["standard_name"] == "projection_y_coordinate"
    assert variables["x"]["units"] == "m" and variables["area_m2"]["units"] == "m2"
    for name in ("counts", "category_counts"):
        assert variables[name]["grid_mapping"] == GRID_MAPPING
    mapping = variables[GRID_MAPPING]
    assert mapping["grid_mapping_name"] == "transverse_mercator"
    assert CRS.from_wkt(mapping["spatial_ref"]) == CRS.from_epsg(27700)


def test_metadata_is_consolidated(tmp_path):
    path = _saved(tmp_path)
    assert "consolidated_metadata" in json.loads((path / "zarr.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xr.open_zarr(path, consolidated=True).load()


def test_the_grid_mapping_follows_the_cubes_crs(tmp_path):
    path = _saved(tmp_path, crs="EPSG:32616")  # UTM 16N, as the Chicago stores
    mapping = xr.open_zarr(path)[GRID_MAPPING].attrs
    assert CRS.from_wkt(mapping["crs_wkt"]).to_epsg() == 32616
    assert mapping["grid_mapping_name"] == "transverse_mercator"


def test_the_project_reads_back_the_cube_it_saved_without_the_cf_additions(tmp_path):
    cube = cube_from_counts(np.ones((3, 4), dtype=np.int32), 2)
    back = open_cube(save_cube(cube, tmp_path / "cube.zarr"))
    assert back.identical(cube)  # no spatial_ref, no CF attributes: what was saved


def test_harm_cubes_say_their_counts_are_weighted(tmp_path):
    cube = cube_from_counts(np.ones((3, 4), dtype=np.int32), 2)
    cube["counts"] = cube["counts"].astype(float) * 2.5
    cube.attrs["target"] = "harm"
    path = save_cube(cube, tmp_path / "cube.zarr")
    long_name = xr.open_zarr(path)["counts"].attrs["long_name"]
    assert long_name == "harm-weighted events per period and cell (target harm)"


def test_a_cube_saved_before_consolidation_still_opens(tmp_path):
    cube = cube_from_counts(np.ones((3, 4), dtype=np.int32), 2)
    cube.to_zarr(tmp_path / "old.zarr", mode="w", consolidated=False)  # the v3 layout
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = open_cube(tmp_path / "old.zarr")
    assert back["counts"].equals(cube["counts"])
