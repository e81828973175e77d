"""The nightly pass as a library: config, drop folder, run folders, latest, retention,
health checks, lock, and one pass end to end without Prefect."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import zipfile
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hotspot import nightly
from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.bootstrap import summarise
from hotspot.ingest.drop_folder import due_items, scan_drop_folder
from hotspot.nightly.health import volume_warnings
from hotspot.nightly.records import previous_beating
from tests.conftest import EMBEDDED_DATA, PROJECT_ROOT

AREA = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"
POLICE_UK = EMBEDDED_DATA / "police-uk"


def write_config(path, **sections) -> object:
    """A nightly settings file: ``[hotspot]`` keys, ``backtest``/``forecast`` sections and
    the nightly ones (``sources``, ``sources.api``, ``outputs``, ...) under ``nightly``."""
    top = {"store": sections.pop("store", "store"), "area": str(AREA)}
    tables = {"forecast": {"model": sections.pop("model", "naive-mean")},
              "nightly.sources": {"drop_folder": "drop", "drop_settle_s": 0},
              "nightly.outputs": {"runs_dir": "runs", "keep": 3},
              "backtest": {"periods": 2, "n_bootstrap": 200}}
    for name, values in sections.items():
        name = name if name in ("backtest", "forecast") else f"nightly.{name}"
        tables.setdefault(name, {}).update(values)
    text = ["[hotspot]", *(f"{k} = {json.dumps(v)}" for k, v in top.items())]
    for name, values in tables.items():
        text.append(f"[hotspot.{name}]")
        text += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path.write_text("\n".join(text) + "\n")
    return path


# ----------------------------------------------------------------------- config


def test_config_resolves_paths_relative_to_the_file(tmp_path):
    (tmp_path / "conf").mkdir()
    settings = nightly.nightly_settings(write_config(tmp_path / "conf" / "n.toml"))
    assert settings.store == tmp_path / "conf" / "store"
    assert settings.nightly.sources.drop_folder == tmp_path / "conf" / "drop"
    assert settings.nightly.schedule.cron == "0 2 * * *"
    assert settings.nightly.outputs.keep == 3


@pytest.mark.parametrize("change, message", [
    ({"model": "nope"}, "setting 'forecast.model': unknown model 'nope'"),
    ({"outputs": {"keep": 0}}, "setting 'nightly.outputs.keep'"),
    ({"surprise": {"x": 1}}, "setting 'nightly.surprise'"),
    ({"sources": {"drop_folder": ""}}, "no source"),
    ({"backtest": {"coverages": [0.1]}}, "include 0.05"),
    ({"schedule": {"timezone": "Mars/Olympus"}}, "unknown time zone 'Mars/Olympus'"),
])
def test_bad_config_is_refused(tmp_path, change, message):
    path = write_config(tmp_path / "n.toml", **change)
    with pytest.raises(ConfigError, match=message):
        nightly.nightly_settings(path)


def test_a_config_without_a_hotspot_table_is_refused(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('store = "store"\n[outputs]\nruns_dir = "runs"\n')
    with pytest.raises(ConfigError, match=r"has no \[hotspot\] table"):
        nightly.nightly_settings(path)


def test_example_config_loads():
    settings = nightly.nightly_settings(PROJECT_ROOT / "examples" / "nightly.toml")
    assert settings.area.exists() and settings.nightly.schedule.deployment == "nightly"
    assert settings.forecast.model == "kde" and settings.backtest.n_bootstrap == 1000


def test_run_day_is_the_date_in_the_configured_zone():
    late = dt.datetime(2024, 5, 1, 23, 30, tzinfo=dt.UTC)
    assert nightly.run_day("UTC", late) == dt.date(2024, 5, 1)
    assert nightly.run_day("Europe/London", late) == dt.date(2024, 5, 2)  # BST: 00:30
    assert nightly.run_day("America/Chicago", late) == dt.date(2024, 5, 1)
    assert nightly.run_day(None, late) == late.astimezone().date()  # the machine's zone
    with pytest.raises(ConfigError, match="nightly.schedule.timezone"):
        nightly.run_day("Europe/Londn")


def test_outcome_names_and_artifact_keys():
    from hotspot.nightly.summary import artifact_key, outcome_message

    assert nightly.outcome({"status": "nothing_new"}) == nightly.NOTHING_NEW
    assert nightly.outcome({"status": "published", "warnings": []}) == nightly.PUBLISHED
    warned = {"status": "published", "warnings": ["a", "b"], "message": "published x"}
    assert nightly.outcome(warned) == nightly.PUBLISHED_WITH_WARNINGS
    assert outcome_message(warned) == "published x; 2 warning(s): a; b"
    with pytest.raises(DataError, match="status 'odd'"):
        nightly.outcome({"status": "odd"})
    assert artifact_key("nightly", "top-boxes") == "hotspot-nightly-top-boxes"
    assert artifact_key("City of London_2", "summary") == "hotspot-city-of-london-2-summary"


# ----------------------------------------------------------------------- drop folder


def test_drop_folder_detects_new_and_changed_files(tmp_path):
    drop = tmp_path / "drop"
    shutil.copytree(POLICE_UK / "2020-01", drop / "2020-01")
    with zipfile.ZipFile(drop / "archive.zip", "w") as archive:
        for month in ("2020-02", "2020-03"):
            name = f"{month}/{month}-city-of-london-street.csv"
            archive.write(POLICE_UK / name, name)
        archive.writestr("2020-02/2020-02-city-of-london-outcomes.csv", "x\n")
    (drop / "notes.txt").write_text("hello")
    (drop / "2020-04-city-of-london-street.csv.part").write_text("half")
    items = scan_drop_folder(drop)
    assert [(i.kind, i.months) for i in items] == [
        ("csv", ("2020-01",)), ("zip", ("2020-02", "2020-03"))]
    assert items[1].sources == ("city-of-london",)
    ingested = {i.key: i.to_dict() for i in items}
    assert due_items(items, {}, []) == items
    assert due_items(items, ingested, ["2020-01", "2020-02", "2020-03"]) == []
    assert due_items(items, ingested, ["2020-01", "2020-02"]) == [items[1]]  # store lost a month
    csv = drop / "2020-01" / "2020-01-city-of-london-street.csv"
    csv.write_text(csv.read_text() + csv.read_text().splitlines()[1] + "\n")  # a revision
    again = scan_drop_folder(drop, known=ingested)
    assert due_items(again, ingested, ["2020-01", "2020-02", "2020-03"]) == [again[0]]
    assert scan_drop_folder(drop, settle_s=3600) == []  # everything is "still copying"
    with pytest.raises(DataError, match="drop folder .* not found"):
        scan_drop_folder(tmp_path / "missing")


def test_api_months_to_fetch():
    available = ["2020-08", "2020-09", "2020-10", "2020-11"]
    assert nightly.api_months_to_fetch(available, ["2020-09"], 12, 12) == ["2020-10", "2020-11"]
    assert nightly.api_months_to_fetch(available, ["2020-11"], 12, 12) == []
    assert nightly.api_months_to_fetch(available, [], 2, 12) == ["2020-10", "2020-11"]
    assert nightly.api_months_to_fetch(available, ["2020-07"], 12, 1) == ["2020-08"]


# ----------------------------------------------------------------------- runs


def make_runs(runs, *names):
    for name in names:
        (runs / name).mkdir(parents=True)


def test_run_names_and_order(tmp_path):
    day = dt.date(2024, 1, 2)
    assert nightly.next_run_name(tmp_path, day) == "2024-01-02"
    make_runs(tmp_path, "2024-01-02", "2024-01-02-2", "2024-01-02-10", "2024-01-03",
              "2023-12-31", ".run-abc.tmp", "notes")
    assert nightly.next_run_name(tmp_path, day) == "2024-01-02-3"
    assert nightly.list_runs(tmp_path) == [
        "2023-12-31", "2024-01-02", "2024-01-02-2", "2024-01-02-10", "2024-01-03"]


def test_latest_pointer_is_a_symlink_and_a_text_file(tmp_path):
    make_runs(tmp_path, "2024-01-01", "2024-01-02")
    assert nightly.read_latest(tmp_path) is None
    nightly.update_latest(tmp_path, "2024-01-01")
    nightly.update_latest(tmp_path, "2024-01-02")
    link = tmp_path / "latest"
    assert link.is_symlink() and os.readlink(link) == "2024-01-02"
    assert (link / ".").resolve() == (tmp_path / "2024-01-02").resolve()
    assert (tmp_path / "latest.txt").read_text() == "2024-01-02\n"
    assert nightly.read_latest(tmp_path) == "2024-01-02"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "2024-01-01", "2024-01-02", "latest", "latest.txt"]  # no temporary link left
    with pytest.raises(DataError, match="does not exist"):
        nightly.update_latest(tmp_path, "2030-01-01")


def test_latest_without_symlinks(tmp_path, monkeypatch):
    make_runs(tmp_path, "2024-01-01")

    def no_symlinks(*args, **kwargs):
        raise OSError("symbolic links are not supported here")

    monkeypatch.setattr(nightly.runs.os, "symlink", no_symlinks)
    nightly.update_latest(tmp_path, "2024-01-01")
    assert not (tmp_path / "latest").exists()
    assert nightly.read_latest(tmp_path) == "2024-01-01"


def test_retention_keeps_n_and_never_latest(tmp_path):
    names = ["2024-01-01", "2024-01-02", "2024-01-02-2", "2024-01-03", "2024-01-04"]
    make_runs(tmp_path, *names)
    nightly.update_latest(tmp_path, "2024-01-01")  # e.g. a rollback to an old run
    assert nightly.prune_runs(tmp_path, 2) == ["2024-01-02", "2024-01-02-2"]
    assert nightly.list_runs(tmp_path) == ["2024-01-01", "2024-01-03", "2024-01-04"]
    nightly.update_latest(tmp_path, "2024-01-04")
    assert nightly.prune_runs(tmp_path, 2) == ["2024-01-01"]
    assert nightly.prune_runs(tmp_path, 5) == []


# ----------------------------------------------------------------------- health


def monthly_totals(values, start="2018-01"):
    index = pd.period_range(start, periods=len(values), freq="M").strftime("%Y-%m")
    return pd.Series(values, index=index)


def test_volume_anomaly_band_and_robust_z():
    rng = np.random.default_rng(3)
    normal = rng.poisson(400, 24).tolist()
    totals = monthly_totals([*normal, 405, 120, 900])
    checks = {c.month: c for c in nightly.volume_anomalies(
        totals, ["2020-01", "2020-02", "2020-03"])}
    assert not checks["2020-01"].anomalous
    assert checks["2020-01"].p_low < 405 < checks["2020-01"].p_high
    assert checks["2020-02"].anomalous and checks["2020-02"].outside_band
    assert checks["2020-03"].anomalous and checks["2020-03"].robust_z > 3
    assert checks["2020-03"].n_history == 24  # only the last 24 months are fitted
    few = nightly.volume_anomalies(monthly_totals([400, 410, 2000]), ["2018-03"])
    assert few[0].checked is False and few[0].anomalous is False
    assert few[0].to_dict() == {"month": "2018-03", "total": 2000, "n_history": 2,
                                "checked": False, "anomalous": False,
                                "note": "fewer than 6 months of history"}
    warning, = volume_warnings([checks["2020-02"]], 3.0)
    assert list(warning.to_dict()) == ["kind", "month", "message"]
    assert warning.month == "2020-02" and "outside the 1%-99% band" in warning.message


def test_volume_band_uses_negative_binomial_when_overdispersed():
    wide = monthly_totals([100, 400, 150, 350, 120, 380, 130, 360, 300])
    check = nightly.volume_anomalies(wide, ["2018-09"])[0]
    assert check.method == "negative binomial" and not check.anomalous
    flat = monthly_totals([100, 101, 99, 100, 102, 98, 100, 300])
    check = nightly.volume_anomalies(flat, ["2018-08"])[0]
    assert check.method == "poisson" and check.anomalous


def fake_record(pai: dict[str, list[float]], deviance: dict[str, list[float]]):
    rows = []
    for model, values in pai.items():
        for i, value in enumerate(values):
            rows.append({"model": model, "origin": f"2020-0{i + 1}",
                         "target_period": f"2020-0{i + 2}", "metric": "pai",
                         "coverage": 0.05, "value": value})
    for model, values in deviance.items():
        for i, value in enumerate(values):
            rows.append({"model": model, "origin": f"2020-0{i + 1}",
                         "target_period": f"2020-0{i + 2}", "metric": "poisson_deviance",
                         "coverage": np.nan, "value": value})
    metrics = pd.DataFrame(rows)
    return SimpleNamespace(metrics=metrics, summary_table=summarise(metrics, n_resamples=200))


def test_drift_warning_when_the_model_stops_beating_the_baselines():
    good = fake_record({"kde": [5, 5.2, 5.1], "naive-mean": [4, 4.1, 4.2], "naive-last": [3, 3, 3]},
                       {"kde": [1.0, 1.1, 1.0], "naive-mean": [1.2, 1.3, 1.2],
                        "naive-last": [2, 2, 2]})
    ok = nightly.drift_check(good, "kde", n_bootstrap=200)
    assert ok.checked and ok.warnings == ()
    assert {c.reference for c in ok.comparisons} == {"naive-mean"}
    bad = fake_record({"kde": [3.9, 4.0, 4.1], "naive-mean": [4, 4.1, 4.2],
                       "naive-last": [3, 3, 3]},
                      {"kde": [1.0, 1.1, 1.0], "naive-mean": [1.2, 1.3, 1.2],
                       "naive-last": [2, 2, 2]})
    # the previous run's health.json, read back as the nightly publish step reads it
    previous = previous_beating({"drift": json.loads(json.dumps(ok.to_dict()))})
    assert previous == {"pai": True, "poisson_deviance": True}
    drift = nightly.drift_check(bad, "kde", n_bootstrap=200, previous=previous)
    assert [w.metric for w in drift.warnings] == ["pai"]
    assert "stopped beating the best baseline naive-mean on PAI@5%" in drift.warnings[0].message
    assert list(drift.to_dict()["warnings"][0]) == ["kind", "metric", "message"]
    assert "does not beat" in nightly.drift_check(bad, "kde", n_bootstrap=200).warnings[0].message
    unchecked = nightly.drift_check(bad, "naive-mean")
    assert unchecked.checked is False
    assert unchecked.to_dict() == {"checked": False, "note": "naive-mean is itself a baseline",
                                   "comparisons": [], "warnings": []}


# ----------------------------------------------------------------------- lock


def test_a_second_pass_on_the_same_store_is_refused(tmp_path):
    from hotspot.core.locking import LOCK_FILE, store_lock

    path = write_config(tmp_path / "n.toml")
    (tmp_path / "drop").mkdir()
    settings = nightly.nightly_settings(path)
    with (ThreadPoolExecutor(1) as other, store_lock(settings.store),  # a pass is running
          pytest.raises(DataError, match="is locked by another run")):
        other.submit(nightly.run_nightly, settings).result()
    assert not (settings.store / LOCK_FILE).exists()
    assert nightly.run_nightly(settings)["status"] == "nothing_new"  # released: runs again


# ----------------------------------------------------------------------- one pass


def test_a_pass_without_prefect_publishes_then_does_nothing(tmp_path):
    drop = tmp_path / "drop"
    for month in ("2020-03", "2020-04", "2020-05", "2020-06", "2020-07"):
        shutil.copytree(POLICE_UK / month, drop / month)
    with socket.socket() as sock:  # the API is offline: nobody listens on this port
        sock.bind(("127.0.0.1", 0))
        offline = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    api = {"enabled": True, "base_url": offline, "max_retries": 0}
    path = write_config(tmp_path / "n.toml", backtest={"n_bootstrap": 100},
                        **{"sources.api": api})
    day = dt.date(2024, 5, 1)
    # the drop folder is published regardless
    first = nightly.run_nightly(nightly.nightly_settings(path), today=day)
    assert first["status"] == "published" and first["run"] == "2024-05-01"
    assert first["warnings"][0].startswith("police.uk API unavailable: police.uk API "
                                           f"unreachable at {offline}/crimes-street-dates")
    with pytest.raises(DataError, match="police.uk API unreachable"):
        # nothing else new: the outage is the news
        nightly.run_nightly(nightly.nightly_settings(path), today=day)
    write_config(path, backtest={"n_bootstrap": 100})  # API off
    run = tmp_path / "runs" / "2024-05-01"
    assert nightly.read_latest(tmp_path / "runs") == "2024-05-01"
    record = json.loads((run / "run.json").read_text())
    assert record["data"]["new_months"] == ["2020-03", "2020-04", "2020-05", "2020-06",
                                            "2020-07"]
    assert record["health"]["drift"]["checked"] is False  # naive-mean is a baseline
    assert record["code"]["version"] and "git_commit" in record["code"]
    assert {"forecast.gpkg", "report.md", "harm_cells.csv", "harm_wards.csv", "health.json",
            "run.json", "map.png"} <= {p.name for p in run.iterdir()}
    report = (run / "report.md").read_text()
    assert "## Nightly run 2024-05-01" in report and "APPROXIMATION" in report
    volume = record["health"]["volume"]
    assert len(volume) == 5 and not any(c["checked"] for c in volume)  # < 6 months history
    # what the flow makes its final state and artifacts of, computed without Prefect
    view = nightly.run_view(first)
    assert view.outcome == nightly.PUBLISHED_WITH_WARNINGS and "1 warning(s)" in view.message
    assert view.markdown == (run / nightly.SUMMARY_MD).read_text()
    assert view.markdown.startswith("# Nightly run 2024-05-01: Published with warnings")
    assert "## Backtest" in view.markdown and "source_unavailable" in view.markdown
    assert [b["rank"] for b in view.boxes] == list(range(1, 21))
    cells = pd.read_csv(run / "forecast_cells.csv").set_index("cell_id")
    top = view.boxes[0]
    assert cells.loc[top["cell"], "rank"] == 1 and cells.loc[top["cell"], "in_boxes"]
    assert (top["lat"], top["area"]) == (cells.loc[top["cell"], "lat"],
                                         cells.loc[top["cell"], "area_name"])
    links = {link.name: link.url for link in view.links}
    assert links["run-folder"] == run.resolve().as_uri()
    assert links["map"] == (run / "map.html").resolve().as_uri()

    state = (tmp_path / "store" / nightly.STATE_FILE).stat().st_mtime_ns
    again = nightly.run_nightly(nightly.nightly_settings(path), today=day)
    assert again["status"] == "nothing_new" and "nothing new" in again["message"]
    assert (tmp_path / "store" / nightly.STATE_FILE).stat().st_mtime_ns == state
    assert nightly.list_runs(tmp_path / "runs") == ["2024-05-01"]
    quiet = nightly.run_view(again, latest="2024-05-01", runs_dir=tmp_path / "runs")
    assert quiet.outcome == nightly.NOTHING_NEW and quiet.boxes == [] and quiet.links == []
    assert run.resolve().as_uri() in quiet.markdown

    # a changed parameter republishes without new data
    write_config(path, model="rfg-harm", backtest={"n_bootstrap": 100})
    third = nightly.run_nightly(nightly.nightly_settings(path), today=day)
    assert third["run"] == "2024-05-01-2" and third["new_months"] == []
    health = json.loads((tmp_path / "runs" / "latest" / "health.json").read_text())
    assert health["drift"]["checked"] is True
    assert {row["model"] for row in health["harm_hit_rate"]} >= {"rfg-harm", "naive-mean"}


def test_a_pass_with_a_target_and_auto_publishes_the_selected_model(tmp_path):
    drop = tmp_path / "drop"
    for month in ("2020-03", "2020-04", "2020-05", "2020-06", "2020-07"):
        shutil.copytree(POLICE_UK / month, drop / month)
    path = write_config(tmp_path / "n.toml", model="auto", backtest={"n_bootstrap": 100},
                        forecast={"candidates": ["naive-last", "naive-mean", "kde", "sepp"]})
    path.write_text(path.read_text().replace("[hotspot]\n", '[hotspot]\ntarget = "crime"\n', 1))
    result = nightly.run_nightly(nightly.nightly_settings(path), today=dt.date(2024, 5, 1))
    assert result["status"] == "published"
    run = tmp_path / "runs" / "2024-05-01"
    record = json.loads((run / "run.json").read_text())
    selection = json.loads((run / "selection.json").read_text())
    winner = selection["winner"]
    assert record["forecast"]["target"] == "crime" and record["forecast"]["model"] == winner
    assert record["selection"]["winner"] == winner and "selection.json" in record["forecast"][
        "files"]
    assert any("sepp dropped" in note for note in selection["notes"])
    health = json.loads((run / "health.json").read_text())
    assert health["backtest"]["model"] == winner  # the drift check follows the published model
    metrics = pd.read_csv(run / "backtest" / "metrics.csv")
    assert set(metrics["target"]) == {"crime"}
    assert set(metrics["model"]) == {"naive-last", "naive-mean", "kde", "naive-longrun",
                                     "hotspot-map"}
    with pytest.raises(ConfigError, match="publishes one target"):
        path.write_text(path.read_text().replace('target = "crime"', 'target = "crime,harm"'))
        nightly.nightly_settings(path)


# ----------------------------------------------------------------------- serve


def test_serve_command_serves_the_flow_on_the_schedule(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import hotspot.flows.nightly
    from hotspot.cli import app

    calls = []
    monkeypatch.setattr(hotspot.flows.nightly.nightly_flow, "serve", lambda **kw: calls.append(kw))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    path = write_config(tmp_path / "n.toml")
    result = CliRunner().invoke(app, ["serve", "--config", str(path), "--cron", "30 3 * * *"])
    assert result.exit_code == 0, result.output
    (call,) = calls
    assert call["name"] == "nightly" and call["cron"] == "30 3 * * *"
    assert call["parameters"] == {"config": str(path.resolve())}

    write_config(path, schedule={"timezone": "Europe/London", "deployment": "night"})
    CliRunner().invoke(app, ["serve", "--config", str(path)])
    schedule = calls[-1]["schedules"][0]
    assert calls[-1]["name"] == "night"
    assert (schedule.cron, schedule.timezone) == ("0 2 * * *", "Europe/London")
