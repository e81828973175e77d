"""The flows order the library steps; run them for real under a local Prefect API."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import EMBEDDED_DATA

pytestmark = pytest.mark.prefect

MONTHS = ["2020-01", "2020-02", "2020-03", "2020-04", "2020-05", "2020-06"]
AREA = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"


def _paths():
    return [EMBEDDED_DATA / "police-uk" / m for m in MONTHS]


def test_step_flows_run_in_order(prefect_harness, tmp_path):
    from hotspot.flows.hotspot_flows import backtest_flow, cube_flow, forecast_flow, ingest_flow

    store = tmp_path / "store"
    counts = ingest_flow(_paths(), store, AREA)
    assert counts["n_rows"] == counts["n_events"] + counts["n_quarantined"] > 0
    cube_path = cube_flow(store, 150.0)
    assert cube_path.exists()
    written = backtest_flow(store, ["naive-last", "naive-mean"], "2020-05", "2020-06",
                            tmp_path / "bt", target="crime,harm", boxes=10)
    metrics = pd.read_csv(written["metrics"])
    assert set(metrics["target_period"]) == {"2020-05", "2020-06"}
    assert list(dict.fromkeys(metrics["target"])) == ["crime", "harm"]
    assert "box_hit_rate" in set(metrics["metric"])
    outputs = forecast_flow(store, "naive-mean", tmp_path / "fc", backtest_periods=2)
    assert outputs["gpkg"].exists() and outputs["report"].exists()


def test_pipeline_flow_publishes(prefect_harness, tmp_path):
    from hotspot.flows.hotspot_flows import pipeline_flow

    outputs = pipeline_flow(_paths(), tmp_path / "store", tmp_path / "out", area=AREA,
                            backtest_periods=2)
    assert "2020-07" in outputs["report"].read_text()


def test_the_pipeline_runs_without_prefect(tmp_path):
    """The flows hold no logic: ``run_pipeline`` runs the same steps as plain calls."""
    from hotspot.pipeline import run_pipeline
    from hotspot.settings import load_settings

    settings = load_settings(store=tmp_path / "store", out=tmp_path / "out", area=AREA,
                             backtest_periods=2)
    names = []

    def step(name, fn, *args, **kwargs):
        names.append(name)
        return fn(*args, **kwargs)

    run = run_pipeline(_paths()[:4], settings, step=step)
    assert names == ["ingest-police-uk", "build-cube", "forecast"]
    assert run.target_period == "2020-05" and run.outputs["report"].exists()
