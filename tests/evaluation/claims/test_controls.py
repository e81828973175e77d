"""Control units from polygons: the area file's other wards by default, --controls-filter,
the ring and coverage rules, a second store, controls.csv and the map."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from hotspot.core.area import load_area
from hotspot.core.errors import DataError
from hotspot.core.names import name_column
from hotspot.core.resources import embedded_path
from hotspot.evaluation.claims import evaluate_claim
from hotspot.evaluation.claims.controls import (
    OVERLAP_TOL_M2,
    label_units,
    screen_units,
    store_coverage,
)
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import init_store, write_partition

from .conftest import BLOCK_M, CRS, ORIGIN, synthetic_events, write_store

WARDS = embedded_path("boundaries", "city-of-london-wards.gpkg")
MONTHS = tuple(str(m) for m in pd.period_range("2019-01", "2020-02", freq="M"))


@pytest.fixture(scope="module")
def city_sample(tmp_path_factory) -> Path:
    """14 months of the shipped City of London sample (its study area saved)."""
    store = tmp_path_factory.mktemp("controls") / "store"
    ingest_police_uk([embedded_path("police-uk", m) for m in MONTHS], store,
                     area=load_area(WARDS))
    return store


def _claim(store: Path, **kwargs):
    return evaluate_claim(store, WARDS, "2020-01", "2020-02", area_filter="NAME=Cheap",
                          calibration_path=None, **kwargs)


def test_default_controls_are_the_other_wards(city_sample):
    r = _claim(city_sample, buffer_m=0, n_controls=50, min_unit_mean=0)
    units = r.series.control_units
    assert len(units) == 25 and set(units["unit"]) == set(load_area(WARDS).parts["NAME"])
    cheap = units.set_index("unit").loc["Cheap"]
    assert cheap["status"] == "excluded" and cheap["reason"] == "part of the treated area"
    # neighbours only share a boundary with Cheap: with no ring they are kept
    assert set(r.series.control_ids) == set(units["unit"]) - {"Cheap"}
    assert r.series.selection_note.startswith("area file city-of-london-wards.gpkg")


def test_ring_overlapping_wards_are_excluded(city_sample):
    r = _claim(city_sample, buffer_m=150, n_controls=50, min_unit_mean=0)
    units = r.series.control_units.set_index("unit")
    parts = load_area(WARDS).parts.set_index("NAME")
    zone = parts.geometry["Cheap"].buffer(150)
    overlap = parts.geometry.intersection(zone).area
    ringed = overlap[(overlap > OVERLAP_TOL_M2) & (overlap.index != "Cheap")].index
    assert 3 <= len(ringed) < 24
    assert (units.loc[ringed, "reason"] == "overlaps the 150 m ring").all()
    assert not set(ringed) & set(r.series.control_ids)
    assert set(r.series.control_ids) == set(parts.index) - set(ringed) - {"Cheap"}


def test_controls_filter_keeps_only_matching_polygons(city_sample, tmp_path):
    parts = load_area(WARDS).parts
    east = parts.geometry.centroid.x > parts.geometry.centroid.x.median()
    parts = parts.assign(side=np.where(east, "east", "west"))
    path = tmp_path / "wards_sides.gpkg"
    parts.to_file(path, driver="GPKG")
    r = _claim(city_sample, controls=path, controls_filter="side=east", buffer_m=0,
               n_controls=50, min_unit_mean=0)
    assert set(r.series.control_units["unit"]) == set(parts.loc[east, "NAME"])
    assert "[side=east]" in r.series.selection_note


def test_controls_csv_and_map_are_written(city_sample, tmp_path):
    r = _claim(city_sample, buffer_m=100)
    paths = r.save(tmp_path / "out")
    table = pd.read_csv(paths["controls"])
    assert list(table.columns[:4]) == ["unit", "id", "status", "reason"]
    assert {"pre_mean", "level_distance", "trend_distance", "distance"} <= set(table.columns)
    assert len(table) == 25 and set(table["status"]) <= {"kept", "excluded"}
    kept = table[table["status"] == "kept"]
    assert len(kept) == r.series.n_controls and kept["reason"].isna().all()
    assert table.loc[table["status"] == "excluded", "reason"].notna().all()
    if "synth_weight" in table:
        assert kept["synth_weight"].sum() == pytest.approx(1, abs=1e-6)
    assert (tmp_path / "out" / "controls_map.png").stat().st_size > 5000
    assert "![controls map](controls_map.png)" in paths["report_md"].read_text()


def test_grid_blocks_are_the_fallback_when_the_area_file_has_no_other_polygons(
        synthetic_store):
    store, areas = synthetic_store  # Block22 and a polygon far outside the events
    r = evaluate_claim(store, areas, "2020-01", "2020-06", area_filter="NAME=Block22",
                       calibration_path=None)
    assert r.series.selection_note.startswith("grid blocks of 500 m")
    assert "fallback" in r.series.selection_note and r.series.n_controls > 3


def test_screen_units_rules():
    treated = box(0, 0, 100, 100)
    units = label_units(gpd.GeoDataFrame(
        {"NAME": ["self", "touching", "in_ring", "far", "half_out"]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100), box(150, 0, 250, 100),
                  box(400, 0, 500, 100), box(900, 0, 1100, 100)], crs=CRS))
    coverage = box(-1000, -1000, 1000, 1000)
    pool = screen_units(units, treated, treated.buffer(60), coverage, buffer_m=60)
    got = dict(zip(pool.units["unit"], pool.units["reason"], strict=True))
    assert got == {"self": "part of the treated area", "touching": "overlaps the 60 m ring",
                   "in_ring": "overlaps the 60 m ring", "far": "",
                   "half_out": "only 50 % inside the store's coverage"}
    no_ring = screen_units(units, treated, treated, coverage, buffer_m=0)
    assert no_ring.units.set_index("unit").loc["touching", "status"] == "candidate"


def test_names_and_coverage_without_a_study_area(tmp_path):
    frame = gpd.GeoDataFrame({"code": [1, 2], "ward": ["A", "A"]},
                             geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=CRS)
    assert name_column(frame) == "ward"
    assert name_column(frame[["code", "geometry"]], any_column=True) == "code"
    assert name_column(frame[["code", "geometry"]]) is None
    assert list(label_units(frame)["unit"]) == ["A#0", "A#1"]
    rng = np.random.default_rng(0)
    x = np.r_[rng.uniform(0, 2000, 2000), 90_000.0]  # one stray event 90 km away
    y = np.r_[rng.uniform(0, 2000, 2000), 90_000.0]
    coverage, where = store_coverage(tmp_path, x, y, CRS)
    assert "cells" in where
    assert coverage.intersection(box(0, 0, 2000, 2000)).area > 0.99 * 4e6
    assert coverage.area < 4.5e6  # the stray event adds one cell, not a hull to it


def _split_stores(root: Path) -> tuple[Path, Path, Path]:
    """The synthetic events split in two stores at x = 3 blocks (west holds the treated
    block), and a file of the 36 blocks."""
    events = synthetic_events()
    west = events["x"] < ORIGIN[0] + 3 * BLOCK_M
    main = write_store(root / "west", events[west])
    other = write_store(root / "east", events[~west])
    cells = [box(ORIGIN[0] + i * BLOCK_M, ORIGIN[1] + j * BLOCK_M,
                 ORIGIN[0] + (i + 1) * BLOCK_M, ORIGIN[1] + (j + 1) * BLOCK_M)
             for i in range(6) for j in range(6)]
    path = root / "cells.gpkg"
    gpd.GeoDataFrame({"NAME": [f"c{i}{j}" for i in range(6) for j in range(6)]},
                     geometry=cells, crs=CRS).to_file(path, driver="GPKG")
    return main, other, path


def test_controls_from_a_second_store(synthetic_store, tmp_path):
    _, areas = synthetic_store
    main, other, cells = _split_stores(tmp_path)
    r = evaluate_claim(main, areas, "2020-01", "2020-06", area_filter="NAME=Block22",
                       controls=cells, controls_store=other, buffer_m=100,
                       calibration_path=None)
    ids = r.series.control_ids
    # east blocks only, less the three in the 100 m ring of block (2, 2)
    assert len(ids) == 15 and all(int(u[1]) >= 3 for u in ids)
    assert not {"c31", "c32", "c33"} & set(ids)
    units = r.series.control_units.set_index("unit")
    assert units.loc["c00", "reason"].startswith("only 0 % inside the store's coverage")
    assert r.series.controls.sum() > 0 and r.estimate("did").contains(0.6)
    assert r.settings["controls_store"] == str(other)


def test_a_second_store_that_does_not_match_is_one_line_error(synthetic_store, tmp_path):
    _, areas = synthetic_store
    main, other, cells = _split_stores(tmp_path)
    events = synthetic_events()
    stamped = tmp_path / "stamped"
    init_store(stamped, CRS, "timestamp")
    write_partition(stamped, "events", "2018-01", "synthetic",
                    events[events["time"] < "2018-02-01"])
    short = write_store(tmp_path / "short", events[events["time"] < "2019-06-01"])
    for store, message in ((stamped, "time resolution"), (short, "lacks 13 of the")):
        with pytest.raises(DataError, match=message) as info:
            evaluate_claim(main, areas, "2020-01", "2020-06", area_filter="NAME=Block22",
                           controls=cells, controls_store=store, calibration_path=None)
        assert "\n" not in str(info.value) and "--controls-store" in str(info.value)


def test_several_treated_wards_by_one_filter(city_sample):
    r = evaluate_claim(city_sample, WARDS, "2020-01", "2020-02",
                       area_filter="NAME=Cheap|Cornhill", buffer_m=0, calibration_path=None)
    parts = load_area(WARDS).parts.set_index("NAME")
    both = shapely.union_all(parts.geometry[["Cheap", "Cornhill"]].to_numpy())
    assert r.series.treated_geometry.equals(both)
    reasons = r.series.control_units.set_index("unit")["reason"]
    assert reasons["Cheap"] == reasons["Cornhill"] == "part of the treated area"
