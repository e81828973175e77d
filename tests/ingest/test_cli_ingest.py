"""``hotspot ingest police-uk`` and ``hotspot ingest csv`` through typer's CliRunner."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hotspot.cli import app
from hotspot.ingest.store import read_events


@pytest.fixture
def runner():
    return CliRunner()


def test_police_uk_prints_the_table_and_the_report_path(runner, data, tmp_path):
    store = tmp_path / "store"
    result = runner.invoke(app, ["ingest", "police-uk", str(data.tree()), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "2019-01" in result.stdout and "events" in result.stdout
    assert "no" in result.stdout and "coordinates" in result.stdout
    saved = list((store / "reports").glob("*.json"))
    assert len(saved) == 1 and saved[0].name in result.stdout.replace("\n", "")
    assert len(read_events(store)) == 6


def test_bad_path_is_one_error_line_and_exit_2(runner, tmp_path):
    store = tmp_path / "store"
    missing = tmp_path / "missing.zip"
    result = runner.invoke(app, ["ingest", "police-uk", str(missing), "--store", str(store)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "missing.zip" in lines[0]
    assert not store.exists()


def test_area_filter_needs_an_area(runner, data, tmp_path):
    result = runner.invoke(
        app,
        ["ingest", "police-uk", str(data.tree()), "--store", str(tmp_path / "s"),
         "--area-filter", "BOROUGH=City of London"],
    )  # fmt: skip
    assert result.exit_code == 2 and "--area-filter needs --area" in result.stderr


def test_csv_with_a_bbox(runner, data, tmp_path):
    path = data.write_csv(
        tmp_path / "calls.csv",
        [
            {"ts": "2016-01-05 23:59", "x": "-87.6277", "y": "41.7922", "c": "street"},
            {"ts": "2016-01-06 00:01", "x": "-91.0", "y": "41.7922", "c": "street"},
        ],
        ["ts", "x", "y", "c"],
    )
    store = tmp_path / "store"
    result = runner.invoke(
        app,
        ["ingest", "csv", str(path), "--store", str(store), "--time-col", "ts",
         "--lon-col", "x", "--lat-col", "y", "--category-col", "c",
         "--bbox", "-88,41.6,-87.5,42"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2016-01" in result.stdout
    events = read_events(store)
    assert events["time"].tolist() == [events["time"].iloc[0]] and len(events) == 1


def test_csv_with_both_coordinate_pairs_is_refused(runner, data, tmp_path):
    path = data.write_csv(tmp_path / "c.csv", [{"ts": "2016-01-05", "x": "1"}], ["ts", "x"])
    result = runner.invoke(
        app,
        ["ingest", "csv", str(path), "--store", str(tmp_path / "s"), "--time-col", "ts",
         "--lon-col", "x", "--lat-col", "x", "--x-col", "x", "--y-col", "x"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("error: give either --lon-col and --lat-col")
    assert not (tmp_path / "s").exists()
