"""``hotspot evaluate-claim`` through typer's CliRunner."""

from __future__ import annotations

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from hotspot.cli.claims import evaluate_claim_command
from hotspot.core.resources import embedded_path

from .conftest import require_data

WARDS = embedded_path("boundaries", "city-of-london-wards.gpkg")
COLUMNS = ["method", "estimate", "ci_low", "ci_high", "p_value", "note"]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("evaluate-claim")(evaluate_claim_command)

    @app.command()
    def version() -> None:  # a second command keeps "evaluate-claim" a subcommand
        """Version."""

    return app


def _run(app, *args: str):
    return CliRunner().invoke(app, ["evaluate-claim", *args])


def test_cli_end_to_end_on_a_synthetic_store(app, synthetic_store, tmp_path):
    store, areas = synthetic_store
    out = tmp_path / "report"
    result = _run(app, "--store", str(store), "--area", str(areas), "--area-filter",
                  "NAME=Block22", "--from", "2020-01", "--to", "2020-06",
                  "--claimed=-40%", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(out / "estimates.csv").columns) == COLUMNS
    assert (out / "verdict.md").exists() and (out / "report.html").exists()
    assert (out / "controls.csv").exists() and (out / "controls_map.png").exists()
    assert "verdict: " in result.output and "controls: grid blocks" in result.output


def test_cli_old_start_and_end_names_still_work(app, synthetic_store, tmp_path):
    store, areas = synthetic_store
    result = _run(app, "--store", str(store), "--area", str(areas), "--area-filter",
                  "NAME=Block22", "--start", "2020-01", "--end", "2020-06",
                  "--controls", "grid", "--out", str(tmp_path / "old"))
    assert result.exit_code == 0, result.output
    assert "--start" not in _run(app, "--help").output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--from": "2020-07", "--to": "2020-03"}, "after --to"),
        ({"--from": "2020-07", "--start": "2020-05"}, "disagree"),
        ({"--controls-store": "nowhere"}, "--controls-store"),
        ({"--controls-filter": "BAD"}, "COLUMN=VALUE"),
        ({"--claimed": "lots"}, "--claimed"),
        ({"--category": "Arson"}, "available"),
        ({"--store": "nowhere"}, "not found"),
        ({"--from": "2018-03"}, "pre-period months"),
        ({"--to": "2021-01"}, "outside the store's data"),
    ],
)
def test_cli_bad_inputs_exit_2_with_one_error_line(app, synthetic_store, tmp_path, change,
                                                    message):
    store, areas = synthetic_store
    options = {"--store": str(store), "--area": str(areas), "--area-filter": "NAME=Block22",
               "--from": "2020-01", "--to": "2020-06", "--out": str(tmp_path / "out")}
    options.update(change)
    for key in ("--store", "--controls-store"):
        if change.get(key) == "nowhere":
            options[key] = str(tmp_path / "nowhere")
    args = [f"{k}={v}" for k, v in options.items()]
    result = _run(app, *args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.real_data
def test_cli_on_the_city_of_london(app, city_store, tmp_path):
    wards = require_data("boundaries", "london_wards.zip")
    out = tmp_path / "city"
    result = _run(app, "--store", str(city_store), "--area", str(wards), "--area-filter",
                  "NAME=Bishopsgate", "--from", "2019-01", "--to", "2019-06",
                  "--claimed=-12%", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "estimates.csv")
    assert list(frame.columns) == COLUMNS
    assert {"its", "did", "synthetic_control", "placebo_time", "power", "mde", "rtm",
            "wdq"} <= set(frame["method"])
    assert (out / "verdict.md").read_text().startswith("# Verdict: ")
    for png in ("series.png", "synthetic_control.png", "placebo.png"):
        assert (out / png).stat().st_size > 1000


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    """14 months (2019-01..2020-02) of the shipped City sample."""
    from hotspot.core.area import load_area
    from hotspot.ingest.police_uk import ingest_police_uk

    store = tmp_path_factory.mktemp("cli_staggered") / "store"
    months = [str(m) for m in pd.period_range("2019-01", "2020-02", freq="M")]
    ingest_police_uk([embedded_path("police-uk", m) for m in months], store,
                     area=load_area(WARDS))
    return store


def test_cli_staggered_rollout(app, sample_store, tmp_path):
    rollout = tmp_path / "rollout.csv"
    rollout.write_text("unit,start,end\nTower,2019-08,\nCastle Baynard,2019-11,2020-01\n")
    out = tmp_path / "stag"
    config = tmp_path / "few_placebos.toml"
    config.write_text("[hotspot.claims]\nn_placebo = 4\n")
    result = _run(app, "--store", str(sample_store), "--area", str(WARDS), "--from",
                  str(rollout), "--buffer", "0", "--config", str(config), "--out", str(out))
    assert result.exit_code == 0, result.output
    effects = pd.read_csv(out / "effects.csv")
    assert effects["group"].tolist() == ["2019-08", "2019-11", "overall"]
    assert (out / "event_study.csv").exists() and (out / "event_study.png").exists()
    assert "stacked Poisson DiD" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unit,start\nAtlantis,2019-08\n", "line 2: unit 'Atlantis' matches no polygon"),
        ("unit,start\nTower,Aug 2019\n", "line 2: start 'Aug 2019' is not a month"),
        ("who,when\nTower,2019-08\n", "header"),
        ("unit,start\nTower,2019-03\n", "only 2 months of data before it"),
    ],
)
def test_cli_bad_rollout_exits_2_with_one_line(app, sample_store, tmp_path, text, message):
    rollout = tmp_path / "rollout.csv"
    rollout.write_text(text)
    result = _run(app, "--store", str(sample_store), "--area", str(WARDS), "--from",
                  str(rollout), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert message in lines[0]
    assert not (tmp_path / "out").exists()
