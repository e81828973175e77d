"""Targets, boxes and grid offsets through the pipeline and the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hotspot.cli import app
from hotspot.evaluation.backtest import METRIC_COLUMNS
from hotspot.features.cube import open_cube
from hotspot.offsets import OFFSET_COLUMNS, SPREAD_COLUMNS
from hotspot.pipeline import cube_from_store, open_store_cube
from hotspot.settings import load_settings
from hotspot.targeting import result_for_target, target_cube
from tests._city_store import city_store

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return city_store(tmp_path_factory.mktemp("targets"))


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:"), lines
    return lines[0]


@pytest.mark.parametrize("command", ["backtest", "forecast", "cube"])
def test_an_unknown_target_is_one_line_listing_the_valid_ones(store, tmp_path, command):
    before = {p: p.stat().st_mtime_ns for p in (store / "cube.zarr").rglob("*")}
    out = tmp_path / "out"
    args = {"backtest": ["--models", "naive-last", "--from", "2020-09", "--to", "2020-10",
                         "--out", out, "--target", "crime,Burglry"],
            "forecast": ["--model", "naive-last", "--out", out, "--target", "burglry"],
            "cube": ["--target", "burglry"]}[command]
    line = one_error_line(invoke(command, "--store", store, *args))
    assert "unknown target 'Burglry'" in line or "unknown target 'burglry'" in line
    for valid in ("all, crime, harm", "property", "street", "burglary", "vehicle-crime",
                  "violence-and-sexual-offences"):
        assert valid in line
    assert not out.exists()  # nothing written
    assert {p: p.stat().st_mtime_ns for p in (store / "cube.zarr").rglob("*")} == before


def test_backtest_of_two_targets_writes_one_table_of_the_contract(store, tmp_path):
    out = tmp_path / "bt"
    result = invoke("backtest", "--store", store, "--models", "naive-last,naive-mean",
                    "--from", "2020-09", "--to", "2020-10", "--out", out,
                    "--target", "crime,harm", "--boxes", "5", "--n-bootstrap", "200")
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns) == METRIC_COLUMNS == [
        "model", "target", "origin", "target_period", "metric", "coverage", "value"]
    assert list(dict.fromkeys(metrics["target"])) == ["crime", "harm"]
    assert {"box_hit_rate", "box_pai", "log_score", "oracle_hit_rate"} <= set(metrics["metric"])
    assert set(pd.read_parquet(out / "predictions.parquet")["target"]) == {"crime", "harm"}
    settings = json.loads((out / "settings.json").read_text())
    assert settings["boxes"] == 5 and settings["targets"] == ["crime", "harm"]
    # the boxes are 5 whole cells: their share of the area is what 5 cells cover, no more
    cube = open_store_cube(store)
    shares = metrics.loc[metrics["metric"] == "box_hit_rate", "coverage"]
    biggest5 = np.sort(cube["area_m2"].values)[-5:].sum() / cube["area_m2"].values.sum()
    assert (shares <= biggest5 + 1e-12).all() and (shares > 0).all()
    # printed per target: the top-N box hit rate, PAI at 0.5 % and 5 %, log score
    assert "target crime" in result.output and "target harm" in result.output
    assert "top-5 hit rate" in result.output and "PAI@0.5%" in result.output


def test_backtest_writes_each_model_against_the_best_baseline(store, tmp_path):
    out = tmp_path / "cmp"
    result = invoke("backtest", "--store", store, "--models", "naive-last,naive-mean,kde",
                    "--from", "2020-08", "--to", "2020-10", "--out", out,
                    "--target", "crime", "--n-bootstrap", "200")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert set(table["model"]) == {"kde"}  # baselines are what it is compared with
    assert set(table["baseline"]) <= {"naive-last", "naive-mean"}
    box = table[table["metric"] == "box_hit_rate"].iloc[0]
    metrics = pd.read_csv(out / "metrics.csv")
    rows = metrics[metrics["metric"] == "box_hit_rate"].pivot_table(
        index="target_period", columns="model", values="value")
    assert box["mean_diff"] == pytest.approx((rows["kde"] - rows[box["baseline"]]).mean())
    assert box["ci_low"] <= box["mean_diff"] <= box["ci_high"]
    assert box["clear"] == bool(box["ci_low"] > 0)
    shares = pd.read_csv(out / "oracle_share.csv")
    assert "kde" in set(shares["model"])


def test_harm_counts_are_weighted_and_crime_leaves_out_asb(store):
    cube = open_store_cube(store)
    crime, harm = target_cube(cube, "crime"), target_cube(cube, "HARM")
    categories = list(cube["category"].values)
    asb = categories.index("Anti-social behaviour")
    total = cube["category_counts"].values.sum(axis=1)
    np.testing.assert_array_equal(crime["counts"].values,
                                  total - cube["category_counts"].values[:, asb])
    assert harm["counts"].dtype == np.float64 and harm.attrs["target"] == "harm"
    assert float(harm["counts"].sum()) > float(crime["counts"].sum())  # days, not crimes


def test_groups_from_the_config_are_targets(store, tmp_path):
    config = tmp_path / "g.toml"
    config.write_text('[hotspot.target_groups]\nthefts = ["Bicycle theft", "Shoplifting"]\n')
    settings = load_settings(config)
    cube = target_cube(open_store_cube(store), "Thefts", settings)
    counts = open_store_cube(store)["category_counts"]
    wanted = counts.sel(category=["Bicycle theft", "Shoplifting"]).sum("category")
    np.testing.assert_array_equal(cube["counts"].values, wanted.values)
    assert cube.attrs["target"] == "thefts"


def test_a_targeted_cube_is_the_default_of_backtest(store, tmp_path):
    copy = tmp_path / "store"
    import shutil

    shutil.copytree(store, copy, symlinks=True)
    result = invoke("cube", "--store", copy, "--target", "Vehicle crime")
    assert result.exit_code == 0, result.output
    assert open_cube(copy / "cube.zarr").attrs["target"] == "vehicle-crime"
    out = tmp_path / "bt"
    result = invoke("backtest", "--store", copy, "--models", "naive-last", "--from",
                    "2020-10", "--to", "2020-10", "--out", out, "--n-bootstrap", "100")
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(out / "metrics.csv")["target"]) == {"vehicle-crime"}


def test_four_offsets_score_four_grids_with_the_same_events(store, tmp_path):
    out = tmp_path / "bt"
    result = invoke("backtest", "--store", store, "--models", "naive-last,naive-mean",
                    "--from", "2020-09", "--to", "2020-10", "--out", out, "--target",
                    "crime", "--offsets", "4", "--n-bootstrap", "100")
    assert result.exit_code == 0, result.output
    offsets = pd.read_csv(out / "offsets.csv")
    assert list(offsets.columns) == OFFSET_COLUMNS
    assert set(zip(offsets["offset_x"], offsets["offset_y"], strict=True)) == {
        (0, 0), (75, 0), (0, 75), (75, 75)}
    spread = pd.read_csv(out / "offset_spread.csv")
    assert list(spread.columns) == SPREAD_COLUMNS and (spread["n_offsets"] == 4).all()
    assert (spread["spread"] >= 0).all() and spread["rank_changes"].dtype == bool
    # the main table is the cube's own grid: its means are the (0, 0) rows
    metrics = pd.read_csv(out / "metrics.csv")
    own = metrics[(metrics["model"] == "naive-mean") & (metrics["metric"] == "log_score")]
    row = offsets[(offsets["model"] == "naive-mean") & (offsets["metric"] == "log_score")
                  & (offsets["offset_x"] == 0) & (offsets["offset_y"] == 0)]
    assert row["mean"].item() == pytest.approx(own["value"].mean())
    # every grid counts every event: slivers merge into neighbours, nothing is lost
    settings = json.loads((out / "settings.json").read_text())
    assert len(set(settings["offset_events"].values())) == 1
    cube = open_store_cube(store)
    totals = {int(cube_from_store(store, 150.0, "M", None, offset_m=o)["category_counts"].sum())
              for o in ((75.0, 0.0), (75.0, 75.0))}
    assert totals == {int(cube["category_counts"].sum())}


def test_result_for_target_cuts_every_table(store):
    from hotspot.pipeline import run_backtest

    settings = load_settings(store=store, backtest={"n_bootstrap": 100})
    both = run_backtest(store, ["naive-last"], "2020-10", "2020-10", settings=settings,
                        targets=["crime", "burglary"])
    part = result_for_target(both, "burglary")
    for table in (part.metrics, part.predictions, part.summary_table, part.fit_seconds):
        assert set(table["target"]) == {"burglary"}
    assert part.settings["targets"] == ["burglary"] and len(part.fitted_params) == 1
