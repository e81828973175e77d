"""The Dask fan-out gives the serial backtest's numbers: units on a threads LocalCluster
(no Prefect), and the backtest-grid flow/command under a local Prefect API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

# Imported here, not first inside a CliRunner call: Dask and Prefect attach logging handlers
# to the stderr of the moment, and CliRunner's is closed afterwards.
import hotspot.flows.backtest_grid  # noqa: F401
from hotspot.evaluation import parallel
from hotspot.evaluation.backtest import backtest
from hotspot.features.cube import save_cube
from tests.conftest import EMBEDDED_DATA

AREA = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"
MODELS = ["naive-last", "naive-mean"]
COVERAGES = (0.01, 0.05, 0.1)
KEY = ["model", "origin", "target_period", "metric", "coverage"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(KEY, ignore_index=True)[[*KEY, "value"]]


def test_units_on_dask_equal_the_serial_backtest(hot_cell_cube, tmp_path):
    from distributed import Client, LocalCluster

    cube_path = str(save_cube(hot_cell_cube, tmp_path / "cube.zarr"))
    units = parallel.grid_units({"c": hot_cell_cube}, MODELS, "2020-03", "2020-12", "M")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        results = parallel.run_units_dask(client, {"c": cube_path}, units, COVERAGES,
                                          keep_predictions=True)
    assert [r.unit for r in results] == units  # unit order, whatever finished first
    serial = backtest(hot_cell_cube, MODELS, "2020-03", "2020-12", coverages=COVERAGES,
                      n_bootstrap=100)
    dask_metrics = pd.concat([r.metrics for r in results], ignore_index=True)
    pd.testing.assert_frame_equal(_sorted(dask_metrics), _sorted(serial.metrics),
                                  check_exact=True)
    key = ["model", "origin", "cell_id"]
    pd.testing.assert_frame_equal(
        pd.concat([r.predictions for r in results]).sort_values(key, ignore_index=True),
        serial.predictions.sort_values(key, ignore_index=True), check_exact=True)


@pytest.fixture(scope="module")
def city_store(tmp_path_factory):
    from hotspot.core.area import load_area
    from hotspot.ingest.police_uk import ingest_police_uk

    store = tmp_path_factory.mktemp("city") / "store"
    months = sorted((EMBEDDED_DATA / "police-uk").glob("2020-*"))
    ingest_police_uk(months, store, area=load_area(AREA))
    return store


@pytest.mark.prefect
def test_backtest_grid_command_equals_serial_and_resumes(prefect_harness, city_store, tmp_path):
    from hotspot.cli import app
    from hotspot.pipeline import cube_from_store

    out = tmp_path / "grid"
    args = ["backtest-grid", "--store", str(city_store), "--models", ",".join(MODELS),
            "--cells", "150,300", "--param", "naive-mean.k=2|4", "--from", "2020-07",
            "--to", "2020-12", "--out", str(out), "--workers", "2", "--threads",
            "--n-bootstrap", "200"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "2 thread workers" in result.output and "PAI@5%" in result.output
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    assert set(metrics["cube"]) == {"cell=150", "cell=300"}
    assert set(metrics["param_set"]) == {"", "k=2", "k=4"}
    assert len(list((out / "units").glob("*.parquet"))) == 2 * 3 * 6

    for size in (150, 300):  # every grid number equals the serial backtest's
        cube = cube_from_store(city_store, float(size))
        serial = backtest(cube, MODELS, "2020-07", "2020-12", n_bootstrap=200,
                          model_params={"naive-mean": {"k": 4}})
        grid = metrics[(metrics["cube"] == f"cell={size}")
                       & metrics["param_set"].isin(["", "k=4"])].drop(columns=["cube",
                                                                              "param_set"])
        grid = grid.assign(coverage=pd.to_numeric(grid["coverage"]))
        expected = serial.metrics.assign(value=serial.metrics["value"].round(12))
        pd.testing.assert_frame_equal(_sorted(grid.assign(value=grid["value"].round(12))),
                                      _sorted(expected))
        summary = pd.read_csv(out / "summary.csv", keep_default_na=False)
        pai = summary[(summary["cube"] == f"cell={size}") & (summary["model"] == "naive-last")
                      & (summary["metric"] == "pai") & (summary["coverage"] == "0.05")]
        ref = serial.summary_table
        ref = ref[(ref["model"] == "naive-last") & (ref["metric"] == "pai")
                  & np.isclose(ref["coverage"].astype(float), 0.05)]
        np.testing.assert_allclose(pai["mean"].to_numpy(), ref["mean"].to_numpy(), rtol=1e-12)

    # a second run finds every unit done and gives the same tables
    before = {p.name: p.stat().st_mtime_ns for p in (out / "units").iterdir()}
    assert CliRunner().invoke(app, args).exit_code == 0
    assert {p.name: p.stat().st_mtime_ns for p in (out / "units").iterdir()} == before
    assert pd.read_csv(out / "metrics.csv", keep_default_na=False).equals(metrics)


@pytest.mark.prefect
def test_forecast_grid_on_a_given_scheduler_writes_one_forecast_per_combination(
        prefect_harness, city_store, tmp_path):
    from distributed import LocalCluster

    from hotspot.flows.backtest_grid import run_forecast_grid

    # an existing cluster, reached by its scheduler address (--dask-address)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        paths = run_forecast_grid(dask_address=cluster.scheduler_address,
                                  store=str(city_store), models=MODELS, out=str(tmp_path),
                                  cell_sizes=[300.0], param_grid={"naive-mean": [{"k": 3}]})
    assert sorted(p.split("/")[-1] for p in paths) == ["naive-last.parquet",
                                                       "naive-mean[k=3].parquet"]
    frame = pd.read_parquet(paths[0])
    assert {"cell", "expected", "model"} <= set(frame.columns) and (frame["expected"] >= 0).all()


@pytest.mark.prefect
def test_backtest_backtest_grid_and_the_flow_give_the_same_summary(prefect_harness, city_store,
                                                                   tmp_path, monkeypatch):
    """One settings object: every door gets the same seed, bootstrap count and coverages,
    so the same backtest has the same CIs (the grid used seed 0, the others 20150601)."""
    from hotspot.cli import app
    from hotspot.flows.hotspot_flows import backtest_flow
    from hotspot.pipeline import cube_from_store, save_store_cube

    save_store_cube(cube_from_store(city_store, 150.0), city_store)  # the serial doors' cube
    for name in ("HOTSPOT_SEED", "HOTSPOT_BACKTEST__SEED", "HOTSPOT_N_BOOTSTRAP"):
        monkeypatch.delenv(name, raising=False)
    config = tmp_path / "s.toml"
    config.write_text("[hotspot.backtest]\nn_bootstrap = 300\n")  # one file, three doors
    common = ["--store", str(city_store), "--models", ",".join(MODELS), "--from", "2020-10",
              "--to", "2020-12", "--config", str(config)]
    runner = CliRunner()
    result = runner.invoke(app, ["backtest", *common, "--out", str(tmp_path / "bt")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["backtest-grid", *common, "--out", str(tmp_path / "grid"),
                                 "--workers", "1", "--threads"])
    assert result.exit_code == 0, result.output
    backtest_flow.fn(city_store, MODELS, "2020-10", "2020-12", tmp_path / "flow", config=config)

    def summary(folder):
        table = pd.read_csv(tmp_path / folder / "summary.csv")
        return table.drop(columns=[c for c in ("cube", "param_set") if c in table])

    serial = summary("bt")
    assert serial["ci_low"].notna().any()
    pd.testing.assert_frame_equal(summary("grid"), serial, check_exact=True)
    pd.testing.assert_frame_equal(summary("flow"), serial, check_exact=True)


def _live_children() -> set[str]:
    """Pids of this process's live children (the harness's Prefect server among them)."""
    import os
    from pathlib import Path

    found = set()
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(entry.name)
    return found


@pytest.mark.prefect
def test_backtest_grid_flow_on_process_workers_starts_no_server_and_leaves_nothing(
        prefect_harness, city_store, tmp_path, monkeypatch):
    """With PREFECT_API_URL the command runs the flow; its process workers run plain
    functions (no temporary Prefect server each) and are gone when it returns; the numbers
    equal the run without Prefect on threads."""
    from prefect.settings import PREFECT_API_URL

    from hotspot.cli import app

    common = ["backtest-grid", "--store", str(city_store), "--models", ",".join(MODELS),
              "--from", "2020-11", "--to", "2020-12", "--n-bootstrap", "100", "--workers", "2"]
    before = _live_children()
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())  # the harness's server
    flow_run = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "flow"), "--processes"])
    assert flow_run.exit_code == 0, flow_run.output
    assert "2 process workers (Prefect flow)" in flow_run.output
    assert "temporary server" not in flow_run.output
    assert _live_children() == before  # no worker, server or helper process left
    monkeypatch.delenv("PREFECT_API_URL")
    plain = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "plain"), "--threads"])
    assert plain.exit_code == 0, plain.output
    assert "(Prefect flow)" not in plain.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "flow" / "metrics.csv"),
                                  pd.read_csv(tmp_path / "plain" / "metrics.csv"),
                                  check_exact=True)
