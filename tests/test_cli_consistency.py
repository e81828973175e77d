"""One command line: every command takes --config, dates are --from/--to everywhere (old
names hidden), --version and shell completion exist, ``hotspot models`` lists what the
registry holds, and progress names the current model with an ETA."""

from __future__ import annotations

import io
import json
import re

import typer
from rich.console import Console
from typer.testing import CliRunner

from hotspot import __version__
from hotspot.cli import app
from hotspot.core.progress import rich_progress, with_detail
from hotspot.models import available_models

runner = CliRunner()
#: Commands that read no settings.
NO_SETTINGS = {"version"}
DATE_OPTIONS = {"--from", "--to", "--start", "--end"}


def commands() -> dict[str, object]:
    """Every leaf command by its full name (``ingest police-uk``)."""
    found = {}

    def walk(command, prefix: str) -> None:
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            found[prefix] = command
            return
        for name, sub in subcommands.items():
            walk(sub, f"{prefix} {name}".strip())

    walk(typer.main.get_command(app), "")
    return found


def _options(command, hidden: bool) -> set[str]:
    return {name for p in command.params if bool(getattr(p, "hidden", False)) == hidden
            for name in p.opts}


def test_every_command_takes_config():
    missing = [name for name, command in commands().items()
               if name not in NO_SETTINGS and "--config" not in _options(command, False)]
    assert not missing, missing


def test_dates_are_from_and_to_with_the_old_names_hidden():
    dated = {}
    for name, command in commands().items():
        shown = _options(command, False) & DATE_OPTIONS
        if shown:
            dated[name] = shown
            assert shown == {"--from", "--to"}, (name, shown)
            assert _options(command, True) & DATE_OPTIONS == {"--start", "--end"}, name
    assert {"backtest", "backtest-grid", "weather"} <= set(dated)


def test_help_shows_one_date_grammar():
    result = runner.invoke(app, ["weather", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--from" in result.output and "--start" not in result.output


def test_version_flag_and_command():
    for args in (["--version"], ["version"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and __version__ in result.output


def test_shell_completion_is_offered():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in result.output and "--show-completion" in result.output
    result = runner.invoke(app, ["--show-completion", "bash"], prog_name="hotspot")
    assert result.exit_code == 0 and "_HOTSPOT_COMPLETE=complete_bash" in result.output


def test_models_lists_every_model_with_parameters_defaults_and_tags():
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    infos = {info["name"]: info for info in json.loads(result.output)}
    assert set(infos) == set(available_models())
    naive_mean = infos["naive-mean"]
    assert naive_mean["tags"] == ["baseline"]
    assert naive_mean["params"] == [{"name": "k", "type": "int", "default": 12}]
    assert "needs_events" in infos["sepp"]["tags"]
    assert "takes_covariates" in infos["glm"]["tags"]
    table = runner.invoke(app, ["models"], env={"COLUMNS": "120"}).output
    assert "naive-mean" in table and "(baseline)" in table and "12" in table


def test_models_shows_the_configured_values(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[hotspot.model_params.naive-mean]\nk = 6\n")
    result = runner.invoke(app, ["models", "naive-mean", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    [info] = json.loads(result.output)
    assert info["params"][0] == {"name": "k", "type": "int", "default": 12, "configured": 6}


def _drawn(console: Console) -> str:
    text = console.file.getvalue()
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_progress_shows_a_stage_at_once_then_the_model_and_an_eta():
    console = Console(file=io.StringIO(), force_terminal=True, width=160)
    with rich_progress(console) as bars:
        bars.stage("loading libraries")
        bars.refresh()
        assert "loading libraries" in _drawn(console)  # before any count exists
        bars(with_detail("backtest", "kde -> 2020-08"), 0, 4)
        bars(with_detail("backtest", "glm -> 2020-08"), 1, 4)
        bars.refresh()
    drawn = _drawn(console)
    assert "glm -> 2020-08" in drawn and "1/4" in drawn
    assert re.search(r"eta [-0-9]+:[-0-9]{2}:[-0-9]{2}", drawn), drawn
    assert drawn.count("backtest ") >= 1 and "backtest :: " not in drawn  # one bar, keyed


def test_the_backtest_reports_each_model_before_fitting_it():
    from hotspot.evaluation.parallel import WorkUnit, run_serial

    calls = []
    units = [WorkUnit("naive-last", "2020-07", "2020-08"),
             WorkUnit("kde", "2020-07", "2020-08")]
    seen_at_fit = []
    run_serial(lambda unit: seen_at_fit.append(calls[-1]) or unit, units,
               lambda *args: calls.append(args))
    assert seen_at_fit == [("backtest :: naive-last -> 2020-08", 0, 2),
                           ("backtest :: kde -> 2020-08", 1, 2)]
    assert calls[-1] == ("backtest", 2, 2)


def test_consistency_table_lists_every_command():
    """The table of the README's Commands section, from the commands themselves."""
    rows = {}
    for name, command in commands().items():
        shown = _options(command, False)
        rows[name] = {"dates": sorted(shown & DATE_OPTIONS), "--config": "--config" in shown,
                      "--out": "--out" in shown, "--store": "--store" in shown}
    assert rows["backtest"] == {"dates": ["--from", "--to"], "--config": True, "--out": True,
                                "--store": True}
    assert rows["weather"]["dates"] == ["--from", "--to"] and rows["weather"]["--config"]
    assert rows["ingest police-uk"]["--config"] and rows["ingest csv"]["--config"]


def test_clip_water_on_the_commands_that_build_or_use_a_grid():
    found = commands()
    for name in ("cube", "backtest", "forecast", "demo"):
        assert "--clip-water" in _options(found[name], False), name
