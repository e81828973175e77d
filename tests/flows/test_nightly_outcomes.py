"""What the Prefect run page shows of a nightly run, read back through the client: the
run's name, its final state (Published with warnings, Failed, Nothing new, Published) and
its artifacts (summary, top boxes, links into the run folder)."""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest

from tests._nightly_setup import nightly_config

pytestmark = pytest.mark.prefect

MONTHS = ["2020-03", "2020-04", "2020-05"]
ZONE = "Pacific/Kiritimati"  # UTC+14: its date differs from UTC's for 14 hours a day
BASE = {"forecast": {"model": "naive-mean"}, "backtest": {"periods": 1, "n_bootstrap": 100},
        "nightly": {"schedule": {"timezone": ZONE}}}


def _offline_url() -> str:
    with socket.socket() as sock:  # nobody listens on this port once it is closed
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api"


def _run(config):
    """The flow run of one pass, its artifacts by key and its task runs."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from hotspot.flows.nightly import nightly_flow

    state = nightly_flow(str(config), return_state=True)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        only = FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        # keyed ones: a failed state's stored exception is an artifact without a key
        artifacts = {a.key: a for a in client.read_artifacts(flow_run_filter=only) if a.key}
        tasks = client.read_task_runs(flow_run_filter=only)
    return state, run, artifacts, tasks


def test_run_names_states_and_artifacts(prefect_harness, tmp_path):
    from hotspot.nightly import read_latest, run_day
    from hotspot.nightly.summary import LINKED_FILES

    api = {"enabled": True, "base_url": _offline_url(), "max_retries": 0}
    config = nightly_config(tmp_path, MONTHS, {**BASE, "nightly": {
        **BASE["nightly"], "sources": {"api": api}}})
    day = run_day(ZONE).isoformat()

    # 1. the drop folder publishes, the API outage is a warning
    state, run, artifacts, tasks = _run(config)
    result = state.result()
    assert (state.type.value, state.name) == ("COMPLETED", "Published with warnings")
    assert "1 warning(s): police.uk API unavailable" in state.message
    assert run.name == f"nightly-{day}" and result["run"] == day  # the zone's day, both
    assert {t.name.rsplit("-", 1)[0]: t.empirical_policy.retries for t in tasks} == {
        "detect-new-data": 0, "ingest-new-data": 0, "rebuild-cube": 0, "backtest-recent": 0,
        "publish-run": 0}  # no download this night; local steps never retry
    files = {f"hotspot-nightly-{name}" for name, file in LINKED_FILES.items()
             if (tmp_path / "runs" / day / file).exists()}  # map, report, patrol sheet
    assert {"hotspot-nightly-map", "hotspot-nightly-report-md"} <= files
    assert set(artifacts) == {"hotspot-nightly-summary", "hotspot-nightly-top-boxes",
                              "hotspot-nightly-run-folder", *files}
    summary = artifacts["hotspot-nightly-summary"]
    assert summary.type == "markdown"
    assert summary.data.startswith(f"# Nightly run {day}: Published with warnings")
    assert "**WARNING (source_unavailable)**" in summary.data
    assert "## Backtest" in summary.data and "| model | role |" in summary.data
    assert summary.data == (tmp_path / "runs" / day / "summary.md").read_text()
    boxes = artifacts["hotspot-nightly-top-boxes"]
    assert boxes.type == "table"
    rows = json.loads(boxes.data)
    cells = pd.read_csv(tmp_path / "runs" / day / "forecast_cells.csv")
    expected = cells[cells["in_boxes"]].sort_values("rank")
    assert [r["rank"] for r in rows] == list(range(1, 21))  # the settings' 20 boxes
    assert [r["cell"] for r in rows] == list(expected["cell_id"])
    assert rows[0]["area"] == expected["area_name"].iloc[0] and 51.4 < rows[0]["lat"] < 51.6
    folder = (tmp_path / "runs" / day).resolve().as_uri()
    assert folder in artifacts["hotspot-nightly-run-folder"].data
    assert f"{folder}/map.html" in artifacts["hotspot-nightly-map"].data

    # 2. nothing else new while the API is down: the outage is the news, the run fails
    state, run, artifacts, _ = _run(config)
    assert state.is_failed() and state.name == "Failed"
    assert "police.uk API unreachable" in state.message
    assert artifacts == {}

    # 3. API off: nothing new, said so, nothing written
    nightly_config(tmp_path, [], BASE)
    state, run, artifacts, tasks = _run(config)
    assert (state.type.value, state.name) == ("COMPLETED", "Nothing new")
    assert [t.name.rsplit("-", 1)[0] for t in tasks] == ["detect-new-data"]
    assert set(artifacts) == {"hotspot-nightly-summary"}
    note = artifacts["hotspot-nightly-summary"].data
    assert note.startswith("# Nightly pass: Nothing new") and folder in note

    # 4. a changed model republishes the same data, with no warning this time
    nightly_config(tmp_path, [], {**BASE, "forecast": {"model": "naive-last"}})
    state, run, artifacts, _ = _run(config)
    assert (state.type.value, state.name) == ("COMPLETED", "Published")
    assert state.result()["warnings"] == [] and read_latest(tmp_path / "runs") == f"{day}-2"
    assert artifacts["hotspot-nightly-summary"].data.startswith(
        f"# Nightly run {day}-2: Published\n")


def test_the_notification_installs_on_a_server(prefect_harness):
    """The server accepts the automation (it validates the payload template); created
    disabled and deleted again, so nothing is ever called."""
    from prefect.automations import Automation

    from hotspot.flows.notify import NOTIFY_STATES, install_notification

    created = install_notification("http://127.0.0.1:9/hook", block_name="test-hook",
                                   enabled=False)
    try:
        read = Automation.read(id=created.id)
        assert read.enabled is False and read.actions[0].type == "call-webhook"
        assert read.trigger.expect == {f"prefect.flow-run.{s}" for s in NOTIFY_STATES}
    finally:
        created.delete()
