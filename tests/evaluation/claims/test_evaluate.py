"""evaluate_claim end to end on a synthetic store: results, report files, bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

import hotspot.evaluation.claims.report as report_module
from hotspot.core.errors import ConfigError, DataError, HotspotError
from hotspot.evaluation.claims import METHOD_ORDER as METHODS
from hotspot.evaluation.claims import ClaimResult, evaluate_claim, load_calibration


@pytest.fixture(scope="module")
def result(synthetic_store) -> ClaimResult:
    store, areas = synthetic_store
    return evaluate_claim(store, areas, "2020-01", "2020-06", area_filter="NAME=Block22",
                          claimed="-40%", calibration_path=None)


def test_result_table_and_planted_drop(result):
    table = result.to_frame()
    assert list(table.columns) == ["method", "estimate", "ci_low", "ci_high", "p_value", "note"]
    got = table["method"].tolist()  # in METHOD_ORDER's order, the core methods present
    assert [m for m in METHODS if m in got] == got
    assert {"its", "did", "synthetic_control", "placebo_time", "power", "rtm"} <= set(got)
    did = result.estimate("did")
    assert did.contains(0.6) and did.ci_high < 1
    its = result.estimate("its")  # ITS may refuse a window with the Covid-19 months
    assert its.contains(0.6) or not np.isfinite(its.estimate)
    assert abs(result.estimate("synthetic_control").estimate - 0.6) < 0.1
    assert result.verdict.category == "consistent with the claim"
    assert result.settings["claimed_rr"] == pytest.approx(0.6)
    text = result.summary()
    assert "verdict: consistent with the claim" in text and "synthetic_control" in text


def test_save_writes_every_file_atomically(result, tmp_path):
    paths = result.save(tmp_path / "out")
    for key in ("estimates", "verdict", "report_md", "report_html", "plot_series",
                "plot_synth", "plot_placebo"):
        assert paths[key].exists(), key
    frame = pd.read_csv(paths["estimates"])
    assert list(frame.columns) == ["method", "estimate", "ci_low", "ci_high", "p_value", "note"]
    assert paths["verdict"].read_text().startswith("# Verdict: consistent with the claim")
    html = paths["report_html"].read_text()
    assert "series.png" in html and "<table>" in html
    assert "![placebo distributions](placebo.png)" in paths["report_md"].read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left
    result.save(tmp_path / "out")  # an earlier report is replaced


def test_save_leaves_nothing_half_written(result, tmp_path, monkeypatch):
    def broken(result, path):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report_module, "plot_placebo", broken)
    with pytest.raises(RuntimeError):
        result.save(tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_folder_with_other_files(result, tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="holds other files"):
        result.save(tmp_path)
    assert (tmp_path / "precious.txt").exists()


def test_calibration_file_marks_badly_calibrated_methods(synthetic_store, tmp_path):
    store, areas = synthetic_store
    cal = tmp_path / "calibration.json"
    cal.write_text(json.dumps({"methods": {
        "did": {"badly_calibrated": True, "summary": "false positives 30 % over 200 tests"},
        "its": {"badly_calibrated": False, "summary": "false positives 5 % over 200 tests"}}}))
    assert load_calibration(cal)["did"]["badly_calibrated"]
    r = evaluate_claim(store, areas, "2020-01", "2020-06", area_filter="NAME=Block22",
                       calibration_path=cal)
    notes = dict(zip(r.estimates["method"], r.estimates["note"], strict=True))
    assert "BADLY CALIBRATED on real data: false positives 30 %" in notes["did"]
    assert "calibration: false positives 5 %" in notes["its"]
    assert r.verdict.primary != "did"
    assert np.isnan(r.estimate("power").estimate)  # no --claimed


def test_a_geometry_and_a_category_can_be_given(synthetic_store):
    store, _ = synthetic_store
    area = box(531_000, 181_000, 531_500, 181_500)
    r = evaluate_claim(store, area, "2020-01", "2020-06", category="Burglary",
                       calibration_path=None)
    assert r.settings["category"] == "Burglary"
    assert r.series.treated.sum() > 0


def test_controls_from_a_boundary_file(synthetic_store, tmp_path):
    import geopandas as gpd

    from .conftest import BLOCK_M, ORIGIN

    store, areas = synthetic_store
    cells = [box(ORIGIN[0] + i * BLOCK_M, ORIGIN[1] + j * BLOCK_M,
                 ORIGIN[0] + (i + 1) * BLOCK_M, ORIGIN[1] + (j + 1) * BLOCK_M)
             for i in range(6) for j in range(6)]
    path = tmp_path / "cells.gpkg"
    gpd.GeoDataFrame({"NAME": [f"c{k}" for k in range(36)]}, geometry=cells,
                     crs="EPSG:27700").to_file(path, driver="GPKG")
    r = evaluate_claim(store, areas, "2020-01", "2020-06", area_filter="NAME=Block22",
                       controls=path, buffer_m=100, calibration_path=None)
    assert r.series.selection_note.startswith("--controls cells.gpkg: 36 polygons")
    assert r.series.n_controls == 20 and all(c.startswith("c") for c in r.series.control_ids)
    assert r.estimate("did").contains(0.6)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"store": "missing"}, DataError, "not found"),
        ({"area": "missing.gpkg"}, DataError, "area file"),
        ({"start": "2020-05", "end": "2020-02"}, ConfigError, "after --to"),
        ({"start": "2020-03", "end": "2020-12"}, DataError, "outside the store's data"),
        ({"start": "2018-06", "end": "2018-09"}, DataError, "pre-period months"),
        ({"category": "Arson"}, ConfigError, "available: Burglary, Robbery"),
        ({"claimed": "a lot"}, ConfigError, "--claimed"),
        ({"start": "2020/01"}, ConfigError, "--from"),
        ({"area_filter": "NAME=Far"}, DataError, "holds no"),
        ({"area_filter": "NAME=Nowhere"}, ConfigError, "matches no feature"),
    ],
)
def test_bad_inputs_raise_one_clear_error(synthetic_store, tmp_path, kwargs, error, message):
    store, areas = synthetic_store
    args = {"store": store, "area": areas, "start": "2020-01", "end": "2020-06",
            "area_filter": "NAME=Block22"}
    args.update(kwargs)
    if kwargs.get("store") == "missing":
        args["store"] = tmp_path / "missing"
    if kwargs.get("area") == "missing.gpkg":
        args["area"] = tmp_path / "missing.gpkg"
    with pytest.raises(error, match=message) as info:
        evaluate_claim(args.pop("store"), args.pop("area"), args.pop("start"), args.pop("end"),
                       calibration_path=None, **args)
    assert isinstance(info.value, HotspotError)
    assert "\n" not in str(info.value)


def test_an_empty_store_is_a_data_error(tmp_path, synthetic_store):
    from hotspot.ingest.store import init_store

    _, areas = synthetic_store
    init_store(tmp_path / "empty", "EPSG:27700", "month")
    with pytest.raises(DataError, match="holds no events"):
        evaluate_claim(tmp_path / "empty", areas, "2020-01", "2020-06",
                       area_filter="NAME=Block22")
