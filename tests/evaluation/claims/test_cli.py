"""``hotspot evaluate-claim`` through typer's CliRunner."""

from __future__ import annotations

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from hotspot.cli.claims import evaluate_claim_command

from .conftest import require_data

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
                  "NAME=Block22", "--start", "2020-01", "--end", "2020-06",
                  "--claimed=-40%", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(out / "estimates.csv").columns) == COLUMNS
    assert (out / "verdict.md").exists() and (out / "report.html").exists()
    assert "verdict: consistent with the claim" in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--start": "2020-07", "--end": "2020-03"}, "after --end"),
        ({"--claimed": "lots"}, "--claimed"),
        ({"--category": "Arson"}, "available"),
        ({"--store": "nowhere"}, "not found"),
        ({"--start": "2018-03"}, "pre-period months"),
        ({"--end": "2021-01"}, "outside the store's data"),
    ],
)
def test_cli_bad_inputs_exit_2_with_one_error_line(app, synthetic_store, tmp_path, change,
                                                    message):
    store, areas = synthetic_store
    options = {"--store": str(store), "--area": str(areas), "--area-filter": "NAME=Block22",
               "--start": "2020-01", "--end": "2020-06", "--out": str(tmp_path / "out")}
    options.update(change)
    if change.get("--store") == "nowhere":
        options["--store"] = str(tmp_path / "nowhere")
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
                  "NAME=Bishopsgate", "--start", "2019-01", "--end", "2019-06",
                  "--claimed=-12%", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out / "estimates.csv")
    assert list(frame.columns) == COLUMNS
    assert {"its", "did", "synthetic_control", "placebo_time", "power", "mde", "rtm",
            "wdq"} <= set(frame["method"])
    assert (out / "verdict.md").read_text().startswith("# Verdict: ")
    for png in ("series.png", "synthetic_control.png", "placebo.png"):
        assert (out / png).stat().st_size > 1000
