"""The nightly flow under a local Prefect API, against a stand-in police.uk API on
127.0.0.1 and a drop folder: publish, no-op, one refit per new month, a download that
times out (task retries, then a clear failure), a failure mid-publish, recovery."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hotspot import nightly
from hotspot.core.errors import DataError
from hotspot.core.locking import LOCK_FILE
from hotspot.ingest.store import list_months, read_events
from tests._nightly_setup import nightly_config
from tests.fakes.police_api_server import FakePoliceAPI

pytestmark = pytest.mark.prefect

WINDOW = [f"{y}-{m:02d}" for y in (2018, 2019, 2020) for m in range(1, 13)][:34]  # ..2020-10
DROP_MONTHS = ["2020-04", "2020-05", "2020-06", "2020-07", "2020-08", "2020-09"]


def write_config(root, base_url: str) -> Path:
    """The drop folder's months and a config that also asks the stand-in API."""
    return nightly_config(root, DROP_MONTHS, {
        "forecast": {"model": "rfg-harm"},
        "nightly": {
            "sources": {"api": {
                "enabled": True, "base_url": base_url, "force": "city-of-london",
                "force_name": "City of London Police", "include_no_location": True,
                "timeout_s": 0.5, "max_retries": 1, "backoff_s": 0.01, "max_rate_per_s": 1000,
                "task_retries": 1, "task_retry_delay_s": 0,
            }},
            "outputs": {"keep": 2},
        },
        "backtest": {"periods": 2, "n_bootstrap": 100},
    })


@pytest.fixture
def fits(monkeypatch):
    """Every model fit in this process as ``(model, cutoff)``."""
    from hotspot.models.base import BaseForecaster

    seen: list[tuple[str, str]] = []
    original = BaseForecaster.fit

    def spy(self, cube, until, *args, **kwargs):
        seen.append((self.name, str(until)))
        return original(self, cube, until, *args, **kwargs)

    monkeypatch.setattr(BaseForecaster, "fit", spy)
    return seen


def _task_retries(flow_run_id: str) -> dict[str, int]:
    """Each task of a flow run (by step name) and the retries it ran with."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=[flow_run_id])))
    return {t.name.rsplit("-", 1)[0]: t.empirical_policy.retries for t in tasks}


def test_nightly_flow_end_to_end(prefect_harness, tmp_path, fits, monkeypatch):
    from hotspot import publish
    from hotspot.flows.nightly import nightly_flow

    store, runs = tmp_path / "store", tmp_path / "runs"
    with FakePoliceAPI(WINDOW, cap=150) as api:
        config = write_config(tmp_path, api.base_url)

        # 1. first run: the drop folder's months and the API's newer month, published
        first = nightly_flow(str(config))
        assert first["status"] == "published"
        assert first["new_months"] == [*DROP_MONTHS, "2020-10"]
        run1 = first["run"]
        assert nightly.read_latest(runs) == run1 and (runs / "latest" / "run.json").exists()
        record = json.loads((runs / run1 / "run.json").read_text())
        (fetched,) = record["data"]["api_months"]
        assert fetched["month"] == "2020-10" and fetched["n_too_many"] >= 1  # tiled
        assert (store / "raw" / "api" / "2020-10" / "2020-10-city-of-london-street.csv").exists()
        assert record["prefect"]["flow_run_id"]
        assert _task_retries(record["prefect"]["flow_run_id"]) == {
            "detect-new-data": 0, "download-police-api": 1, "ingest-new-data": 0,
            "rebuild-cube": 0, "backtest-recent": 0, "publish-run": 0}  # network only
        assert record["health"]["rows_ingested"] > record["health"]["events_ingested"] > 0
        assert record["health"]["drift"]["checked"] is True
        assert {"PAI@5%", "Poisson deviance"} == {
            c["label"] for c in record["health"]["drift"]["comparisons"]}
        assert list_months(store)[-1] == "2020-10"
        assert fits.count(("rfg-harm", "2020-10")) == 1  # the one refit on all data
        assert Counter(m for m, _ in fits)["rfg-harm"] == 3  # and 2 backtest origins

        # 2. same night again: nothing new, nothing written, nothing fitted
        fits.clear()
        state = (store / nightly.STATE_FILE).read_text()
        listing = sorted(p.name for p in runs.iterdir())
        second = nightly_flow(str(config))
        assert second["status"] == "nothing_new" and "nothing new" in second["message"]
        assert fits == []
        assert sorted(p.name for p in runs.iterdir()) == listing
        assert (store / nightly.STATE_FILE).read_text() == state

        # 3. police.uk releases a month: exactly one refit, a new run folder, latest moves
        api.release("2020-11")
        third = nightly_flow(str(config))
        assert third["status"] == "published" and third["new_months"] == ["2020-11"]
        assert fits.count(("rfg-harm", "2020-11")) == 1
        assert {cutoff for _, cutoff in fits} == {"2020-09", "2020-10", "2020-11"}
        run3 = third["run"]
        assert run3 != run1 and nightly.read_latest(runs) == run3

        # 4. the next month's download times out: retried by the client and by Prefect,
        #    then a clear failure; nothing published
        api.release("2020-12")
        api.delays["crimes-street/"] = 1.5
        with pytest.raises(DataError, match="police.uk API unreachable at .*timed out"):
            nightly_flow(str(config))
        december = [r for r in api.requests("crimes-street/")
                    if r["params"].get("date") == "2020-12"]
        assert len(december) == 4  # 2 client tries x 2 task attempts
        assert nightly.read_latest(runs) == run3
        api.delays.clear()

        # 5. publishing fails mid-run: latest untouched, no half run folder, store readable
        def broken_publish(*args, **kwargs):
            raise RuntimeError("disk full while writing the map")

        with monkeypatch.context() as patch:
            patch.setattr(publish, "publish_forecast", broken_publish)
            with pytest.raises(RuntimeError, match="disk full"):
                nightly_flow(str(config))
        assert nightly.read_latest(runs) == run3
        assert nightly.list_runs(runs) == [run1, run3]
        assert not [p for p in runs.iterdir() if p.name.startswith(".")]
        assert not (store / LOCK_FILE).exists()
        assert "2020-12" in set(read_events(store)["time"].dt.strftime("%Y-%m"))

        # 6. the next pass finishes the job (the store changed since the last publish)
        fits.clear()
        sixth = nightly_flow(str(config))
        assert sixth["status"] == "published" and sixth["new_months"] == ["2020-12"]
        assert fits.count(("rfg-harm", "2020-12")) == 1
        assert sixth["pruned"] == [run1]  # keep = 2, oldest first
        assert nightly.list_runs(runs) == [run3, sixth["run"]]
        assert nightly.read_latest(runs) == sixth["run"]
        assert (runs / "latest.txt").read_text().strip() == sixth["run"]
        health = json.loads((runs / "latest" / "health.json").read_text())
        assert health["run"] == sixth["run"] and "volume" in health
        report = (runs / "latest" / "report.md").read_text()
        assert "## Nightly run" in report and "Harm by place" in report


def test_nightly_cli_runs_the_flow(prefect_harness, tmp_path):
    from typer.testing import CliRunner

    from hotspot.cli import app

    config = nightly_config(tmp_path, DROP_MONTHS[:3], {
        "backtest": {"periods": 1, "n_bootstrap": 100}})
    runner = CliRunner()
    first = runner.invoke(app, ["nightly", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert "published" in first.output and (tmp_path / "runs" / "latest" / "run.json").exists()
    again = runner.invoke(app, ["nightly", "--config", str(config)])
    assert again.exit_code == 0 and "nothing to do" in again.output
    bad = runner.invoke(app, ["nightly", "--config", str(tmp_path / "missing.toml")])
    assert bad.exit_code == 2 and "not found" in bad.output
