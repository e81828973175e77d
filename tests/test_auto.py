"""``forecast --model auto``: the candidates a store can fit, the selection on their
backtest, and the published model it names."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from hotspot import targeting
from hotspot.cli import app
from hotspot.core.errors import ConfigError
from hotspot.pipeline import run_forecast
from hotspot.settings import load_settings
from hotspot.settings_sections import BASELINES
from tests._city_store import city_store

runner = CliRunner()
#: Fast candidates, one of them an event model that month-only data cannot fit.
CANDIDATES = ["naive-last", "naive-mean", "naive-longrun", "kde", "sepp"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return city_store(tmp_path_factory.mktemp("auto"))


def config(path, **forecast) -> str:
    lines = ["[hotspot.backtest]", "n_bootstrap = 200", "[hotspot.forecast]",
             f"candidates = {json.dumps(CANDIDATES)}"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in forecast.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_forecast_auto_publishes_the_winner_named_in_selection_and_report(store, tmp_path):
    out = tmp_path / "fc"
    result = runner.invoke(app, ["forecast", "--store", str(store), "--model", "auto",
                                 "--out", str(out), "--target", "crime",
                                 "--backtest-periods", "3",
                                 "--config", config(tmp_path / "a.toml")])
    assert result.exit_code == 0, result.output
    selection = json.loads((out / "selection.json").read_text())
    winner = selection["winner"]
    assert winner in CANDIDATES and selection["target"] == "crime"
    assert selection["score"] == "box_hit_rate" and selection["n_periods"] == 3
    assert {row["model"] for row in selection["table"]} == set(CANDIDATES) - {"sepp"}
    assert any("sepp" in note and "months only" in note for note in selection["notes"])
    report = (out / "report.md").read_text()
    assert f"- model: **{winner}**" in report and "auto chose" in report
    assert f"({winner})" in result.output  # the printed title names the published model
    # the record is the backtest the choice was made on, every candidate in it
    metrics = pd.read_csv(out / "backtest" / "metrics.csv")
    # candidates and the baselines every forecast is compared with (hotspot-map included)
    assert set(metrics["model"]) == (set(CANDIDATES) - {"sepp"}) | set(BASELINES)
    assert set(metrics["target"]) == {"crime"}


def test_a_fixed_model_writes_no_selection(store, tmp_path):
    settings = load_settings(store=store, out=tmp_path / "fc", model="naive-mean",
                             backtest={"periods": 1, "n_bootstrap": 100})
    run = run_forecast(settings)
    assert run.model == "naive-mean" and run.selection is None and run.target == "all"
    assert not (tmp_path / "fc" / "selection.json").exists()


def test_auto_on_another_score_selects_on_it(store, tmp_path):
    settings = load_settings(config(tmp_path / "a.toml", select_by="log_score"),
                             store=store, out=tmp_path / "fc", target="burglary",
                             backtest={"periods": 2})
    run = run_forecast(settings)
    assert run.selection.score == "log_score" and run.model == run.selection.winner
    assert run.selection.target == "burglary" and run.target == "burglary"
    table = run.selection.table.set_index("model")
    best = table["mean"].idxmax()
    assert run.selection.best == best  # higher log score is better


def test_event_models_are_dropped_only_for_month_data(store, monkeypatch):
    kept, notes = targeting.auto_candidates(store, CANDIDATES)
    assert kept == CANDIDATES[:-1] and "sepp dropped" in notes[0]
    with pytest.raises(ConfigError, match="every candidate .* needs event times"):
        targeting.auto_candidates(store, ["sepp", "etas-grid"])
    monkeypatch.setattr(targeting, "read_store_meta", lambda _: {"time_resolution": "second"})
    assert targeting.auto_candidates(store, CANDIDATES) == (CANDIDATES, [])


def test_forecast_refuses_several_targets(store, tmp_path):
    settings = load_settings(store=store, out=tmp_path / "fc", target="crime,harm")
    with pytest.raises(ConfigError, match="takes one target"):
        run_forecast(settings)
    assert not (tmp_path / "fc").exists()
