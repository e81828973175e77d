"""The command line end to end on the embedded sample, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from hotspot.cli import app
from hotspot.evaluation.backtest import METRIC_COLUMNS
from tests.conftest import EMBEDDED_DATA

runner = CliRunner()
AREA = EMBEDDED_DATA / "boundaries" / "city-of-london-wards.gpkg"
#: What the demo's ``auto`` backtests on month-only data (the default candidates less the
#: event models).
DEMO_MODELS = ("naive-last", "naive-mean", "naive-longrun", "hotspot-map", "kde", "glm")


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = invoke("demo", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_demo_publishes_every_output(demo_out):
    for target in ("crime", "harm"):
        forecast = demo_out / "forecast" / target
        for name in ("forecast.gpkg", "forecast.geojson", "map.html", "map.png", "patrol.pdf",
                     "report.md", "report.html", "selection.json"):
            assert (forecast / name).exists(), (target, name)
        selection = json.loads((forecast / "selection.json").read_text())
        assert selection["target"] == target and selection["winner"] in DEMO_MODELS
        # sepp and etas-grid cannot fit month-only data: dropped, and the note says so
        assert any("sepp, etas-grid dropped" in note for note in selection["notes"])
        report = (forecast / "report.md").read_text()
        assert "2021-01" in report and "Open Government Licence" in report
        assert f"- model: **{selection['winner']}**" in report and "auto chose" in report
        assert f"(`{target}`)" in report
    for name in ("metrics.csv", "summary.csv", "predictions.parquet", "settings.json",
                 "report.md", "report.html"):
        assert (demo_out / "backtest" / name).exists(), name


def test_demo_backtests_the_last_six_months_of_the_sample(demo_out):
    metrics = pd.read_csv(demo_out / "backtest" / "metrics.csv")
    assert list(metrics.columns) == METRIC_COLUMNS
    assert sorted(metrics["target_period"].unique()) == [f"2020-{m:02d}" for m in range(7, 13)]
    assert set(metrics["model"]) == set(DEMO_MODELS)
    assert list(dict.fromkeys(metrics["target"])) == ["crime", "harm"]


def test_cli_step_by_step_matches_the_contract(demo_out, tmp_path):
    store = demo_out / "store"
    result = invoke("backtest", "--store", store, "--models", "naive-last,naive-mean",
                    "--from", "2020-10", "--to", "2020-12", "--out", tmp_path / "bt")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "bt").iterdir()} >= {
        "metrics.csv", "summary.csv", "predictions.parquet", "report.html"}
    result = invoke("forecast", "--store", store, "--model", "naive-longrun", "--out",
                    tmp_path / "fc", "--backtest-periods", "2")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fc" / "forecast.gpkg").exists()


def test_param_sets_model_parameters(demo_out, tmp_path):
    """``--param`` reaches the model: naive-mean with k=1 is naive-last, k=12 is not."""
    store = demo_out / "store"
    runs = {}
    for k in (1, 12):
        out = tmp_path / f"k{k}"
        result = invoke("backtest", "--store", store, "--models", "naive-last,naive-mean",
                        "--from", "2020-10", "--to", "2020-12", "--out", out,
                        "--param", f"naive-mean.k={k}")
        assert result.exit_code == 0, result.output
        runs[k] = pd.read_parquet(out / "predictions.parquet").pivot_table(
            index=["target_period", "cell_id"], columns="model", values="expected")
    assert (runs[1]["naive-mean"] == runs[1]["naive-last"]).all()
    assert not (runs[12]["naive-mean"] == runs[12]["naive-last"]).all()
    config = tmp_path / "params.toml"
    config.write_text('[hotspot.model_params.naive-mean]\nk = 1\n')
    result = invoke("forecast", "--store", store, "--model", "naive-mean", "--out",
                    tmp_path / "fc", "--backtest-periods", "1", "--config", config)
    assert result.exit_code == 0, result.output
    record = pd.read_parquet(tmp_path / "fc" / "backtest" / "predictions.parquet")
    wide = record.pivot_table(index="cell_id", columns="model", values="expected")
    assert (wide["naive-mean"] == wide["naive-last"]).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backtest", "--models", "naive-last", "--from", "2020-10", "--to", "2020-12",
          "--param", "naive-mean:k=3"], "is not MODEL.KEY=VALUE"),
        (["backtest", "--models", "naive-last", "--from", "2020-10", "--to", "2020-12",
          "--param", "naive-mean.window=3"], "model naive-mean: bad parameter"),
        (["backtest", "--models", "etas-grid", "--from", "2020-10", "--to", "2020-12",
          "--param", "etas-grid.background_time=weekly"], "background_time must be one of"),
        (["backtest", "--models", "naive-last", "--from", "2020-09", "--to", "2020-07"],
         "--from 2020-09 is after --to 2020-07"),
        (["backtest", "--models", "magic", "--from", "2020-07", "--to", "2020-08"],
         "unknown model 'magic'"),
        (["backtest", "--models", "naive-last", "--from", "2030-01", "--to", "2030-02"],
         "must lie within the cube"),
        (["forecast", "--model", "naive-mean", "--store", "{missing}"], "no cube at"),
        (["cube", "--store", "{store}", "--area", "{missing}"], "not found"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(demo_out, tmp_path, args, message):
    out = tmp_path / "out"
    fill = {"{store}": str(demo_out / "store"), "{missing}": str(tmp_path / "missing")}
    args = [fill.get(a, a) for a in args]
    if "--store" not in args:
        args += ["--store", str(demo_out / "store")]
    if args[0] != "cube":
        args += ["--out", str(out)]
    result = invoke(*args)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert not out.exists()


def test_demo_model_forces_one_model(tmp_path, monkeypatch):
    """``demo --model NAME`` publishes that model for each target, with no selection; the
    run is cut short by a one-period backtest of one target."""
    monkeypatch.setenv("HOTSPOT_BACKTEST__PERIODS", "1")
    monkeypatch.setenv("HOTSPOT_BACKTEST__N_BOOTSTRAP", "100")
    result = invoke("demo", "--out", tmp_path, "--model", "naive-mean", "--target", "burglary")
    assert result.exit_code == 0, result.output
    folder = tmp_path / "forecast" / "burglary"
    assert "- model: **naive-mean**" in (folder / "report.md").read_text()
    assert not (folder / "selection.json").exists()
    metrics = pd.read_csv(tmp_path / "backtest" / "metrics.csv")
    assert set(metrics["target"]) == {"burglary"}
    assert set(metrics["model"]) == {"naive-mean", "naive-last", "naive-longrun", "hotspot-map"}


def test_missing_month_in_store_is_refused(tmp_path):
    months = ["2020-01", "2020-02", "2020-04"]
    result = invoke("ingest", "police-uk", *[EMBEDDED_DATA / "police-uk" / m for m in months],
                    "--store", tmp_path / "s", "--area", AREA)
    assert result.exit_code == 0, result.output
    result = invoke("cube", "--store", tmp_path / "s")
    assert result.exit_code == 2
    assert "2020-03" in result.output and not (tmp_path / "s" / "cube.zarr").exists()


def test_every_command_has_help():
    for command in ("ingest", "cube", "backtest", "forecast", "demo"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_user_text_is_never_read_as_markup(capsys):
    import io

    from rich.console import Console

    from hotspot.cli import common
    from hotspot.cli.nightly import _print_result

    _print_result({"status": "published", "message": "forecast [/] for [bold]x",
                   "run_dir": "runs/[/]", "new_months": ["2020-01"],
                   "warnings": ["Theft [/] rose"], "pruned": []})
    common.print_error("no feature [/] matches [red]")
    printed = capsys.readouterr()
    assert "forecast [/] for [bold]x -> runs/[/]" in printed.out
    assert "warning: Theft [/] rose" in printed.err
    assert "error: no feature [/] matches [red]" in printed.err
    # progress bars label sources by file name: drawn on a terminal, they parse markup
    terminal = Console(file=io.StringIO(), force_terminal=True)
    with common.rich_progress(terminal) as progress:
        progress("ingest d[/]x", 0, 1)
        progress("ingest d[/]x", 1, 1)


def test_file_system_errors_name_the_path_and_what_to_do(tmp_path):
    import errno

    from hotspot.cli.common import os_error_message

    options = {"out": tmp_path / "out", "store": tmp_path / "s"}
    staging = tmp_path / ".out.staging-12-0a1b2c3d"
    assert os_error_message(OSError(errno.EROFS, "Read-only", str(staging)), options) == (
        f"{tmp_path / 'out'}: read-only file system: choose a folder on a writable disk "
        f"(--out {tmp_path / 'out'})")
    assert os_error_message(OSError(errno.ENOSPC, "No space"), options) == (
        f"no space left on the device: free some space and run again (writing --store "
        f"{tmp_path / 's'}, --out {tmp_path / 'out'})")
    assert os_error_message(OSError(errno.ECONNREFUSED, "refused"), options) is None


def test_help_texts_keep_their_bracketed_words():
    # typer renders help as markup: an unescaped "[default: ...]" vanished from the help
    for command, text in (("evaluate-claim", "[default: claims.controls"),
                          ("nightly", "[hotspot.nightly]")):
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "250"})
        assert result.exit_code == 0 and text in result.output, result.output
