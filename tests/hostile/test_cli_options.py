"""Hostile cases for option values (issue 16, part 5): every value typer cannot parse, every
wrong kind of model parameter, every bad or missing date and every unknown option is one
``error:`` line naming the option and exit 2 — never a traceback, never a boxed usage
panel, never a silently truncated value — and the store and ``--out`` stay untouched.
The old date names (``--start``/``--end``) are hidden aliases that still work.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.hostile.harness import Case, Result, check, copy_store

FAST = ("--n-bootstrap", "100")
BACKTEST = ("backtest", "--models", "naive-mean", *FAST)
RANGE = ("--from", "2020-11", "--to", "2020-12")


def _backtest(*extra: object):
    """``hotspot backtest`` on the case's store, writing ROOT/out."""
    return lambda r: (*BACKTEST, "--store", r / "store", "--out", r / "out", *extra)


def _no_out(root: Path, _: Result) -> None:
    assert not (root / "out").exists(), "the refused run wrote --out"


def _backtested(first: str, last: str):
    def after(root: Path, _: Result) -> None:
        metrics = pd.read_csv(root / "out" / "metrics.csv")
        assert sorted(metrics["target_period"].unique()) == [first, last]
    return after


def _weather_file(root: Path) -> None:
    (root / "weather.csv").write_text("date,tmax,tmin,tavg,prcp\n2020-01-01,9,2,5.5,0.4\n")


def _config(text: str):
    def setup(root: Path) -> None:
        (root / "c.toml").write_text(text)
    return setup


CASES = [
    # model parameters of the wrong kind (JSON parses them, the model would not notice)
    Case("param-int-given-a-fraction", _backtest(*RANGE, "--param", "naive-mean.k=1.5"),
         error=r"naive-mean: parameter k must be an integer, got 1\.5",
         untouched=("store",), after=_no_out, why="k=1.5 ran silently as k=1"),
    Case("param-int-given-a-flag", _backtest(*RANGE, "--param", "naive-mean.k=true"),
         error=r"naive-mean: parameter k must be an integer, got True",
         untouched=("store",), after=_no_out, why="k=true ran silently as k=1"),
    Case("param-float-given-nan",
         lambda r: ("backtest", "--models", "kde", *FAST, *RANGE, "--store", r / "store",
                    "--out", r / "out", "--param", "kde.floor_share=NaN"),
         error=r"kde: parameter floor_share must be a number, got nan",
         untouched=("store",), after=_no_out, why="NaN compared silently in the fit"),
    Case("param-float-given-text",
         lambda r: ("backtest", "--models", "kde", *FAST, *RANGE, "--store", r / "store",
                    "--out", r / "out", "--param", "kde.floor_share=lots"),
         error=r"kde: parameter floor_share must be a number, got 'lots'",
         untouched=("store",), after=_no_out, why="the key was not named"),
    Case("param-unknown-key", _backtest(*RANGE, "--param", "naive-mean.window=3"),
         error=r"model naive-mean: bad parameter .*window", untouched=("store",),
         after=_no_out, why="TypeError"),
    Case("param-unknown-model", _backtest(*RANGE, "--param", "magic.k=3"),
         error=r"unknown model 'magic': choose from .*naive-mean", untouched=("store",),
         after=_no_out, why="KeyError"),
    Case("param-without-a-model", _backtest(*RANGE, "--param", "k=3"),
         error=r"is not MODEL\.KEY=VALUE", untouched=("store",), after=_no_out,
         why="ValueError: not enough values to unpack"),
    # values typer parses itself
    Case("cell-not-a-number", lambda r: ("cube", "--store", r / "store", "--cell", "abc"),
         error=r"hotspot cube: Invalid value for '--cell'.*number.*see 'hotspot cube --help'",
         untouched=("store",), why="a boxed usage panel, not one line"),
    Case("cell-negative", lambda r: ("cube", "--store", r / "store", "--cell", "-150"),
         error=r"cell_size_m.*greater than 0", untouched=("store",), why="a new check"),
    Case("cell-nan", lambda r: ("cube", "--store", r / "store", "--cell", "nan"),
         error=r"cell_size_m.*greater than 0", untouched=("store",),
         why="NaN passed every comparison"),
    Case("max-cube-gb-not-a-number",
         lambda r: ("cube", "--store", r / "store", "--max-cube-gb", "4GB"),
         error=r"Invalid value for '--max-cube-gb'", untouched=("store",),
         why="a boxed usage panel"),
    Case("freq-unknown", lambda r: ("cube", "--store", r / "store", "--freq", "Q"),
         error=r"setting 'freq'.*'M', 'W' or 'D'", untouched=("store",), why="a new check"),
    Case("boxes-not-a-number", _backtest(*RANGE, "--boxes", "twenty"),
         error=r"hotspot backtest: Invalid value for '--boxes'.*integer",
         untouched=("store",), after=_no_out, why="a boxed usage panel"),
    Case("seed-not-a-number", _backtest(*RANGE, "--seed", "0x1"),
         error=r"Invalid value for '--seed'", untouched=("store",), after=_no_out,
         why="a boxed usage panel"),
    Case("n-bootstrap-too-small",
         lambda r: ("backtest", "--models", "naive-mean", "--n-bootstrap", "5", *RANGE,
                    "--store", r / "store", "--out", r / "out"),
         error=r"backtest\.n_bootstrap.*greater than or equal to 100", untouched=("store",),
         after=_no_out, why="a CI from 5 resamples"),
    Case("workers-zero",
         lambda r: ("backtest-grid", "--store", r / "store", "--models", "naive-mean",
                    *RANGE, "--out", r / "out", "--workers", "0"),
         error=r"Invalid value for '--workers'.*greater than or equal to 1",
         untouched=("store",), after=_no_out, why="a boxed usage panel"),
    Case("unknown-option", _backtest(*RANGE, "--modles", "kde"),
         error=r"hotspot backtest: No such option: --modles", untouched=("store",),
         after=_no_out, why="a boxed usage panel"),
    Case("unknown-option-on-an-ingest-subcommand",
         lambda r: ("ingest", "police-uk", r / "nothing", "--store", r / "new", "--aera", "x"),
         error=r"hotspot ingest police-uk: No such option: --aera", untouched=("new",),
         why="a boxed usage panel"),
    # one date grammar: --from/--to, checked, with the old names hidden
    Case("from-not-a-month", _backtest("--from", "2020-13", "--to", "2020-12"),
         error=r"--from '2020-13' is not a month or a day: write YYYY-MM",
         untouched=("store",), after=_no_out, why="the option was not named"),
    Case("to-in-words", _backtest("--from", "2020-11", "--to", "December"),
         error=r"--to 'December' is not a month or a day", untouched=("store",),
         after=_no_out, why="the option was not named"),
    Case("to-missing", _backtest("--from", "2020-11"),
         error=r"missing option --to: give the last held-out period", untouched=("store",),
         after=_no_out, why="a boxed usage panel"),
    Case("from-and-old-start-disagree",
         _backtest("--from", "2020-11", "--start", "2020-10", "--to", "2020-12"),
         error=r"--from 2020-11 and --start 2020-10 disagree", untouched=("store",),
         after=_no_out, why="one of them was dropped silently"),
    Case("old-start-end-still-work", _backtest("--start", "2020-11", "--end", "2020-12"),
         exit_code=0, untouched=("store",), after=_backtested("2020-11", "2020-12"),
         why="scripts written for --start/--end"),
    Case("grid-from-not-a-month",
         lambda r: ("backtest-grid", "--store", r / "store", "--models", "naive-mean",
                    "--from", "11/2020", "--to", "2020-12", "--out", r / "out"),
         error=r"--from '11/2020' is not a month or a day", untouched=("store",),
         after=_no_out, why="the option was not named"),
    Case("weather-from-not-a-day",
         lambda r: ("weather", "--store", r / "store", "--file", r / "weather.csv",
                    "--from", "01/02/2020"),
         error=r"--from '01/02/2020' is not a date: write YYYY-MM-DD", setup=_weather_file,
         untouched=("store",), why="the message named --start, which help no longer shows"),
    Case("weather-old-end-before-from",
         lambda r: ("weather", "--store", r / "store", "--file", r / "weather.csv",
                    "--from", "2020-02-01", "--end", "2020-01-01"),
         error=r"--from 2020-02-01 is after --to 2020-01-01", setup=_weather_file,
         untouched=("store",), why="the old name is an alias of --to"),
    Case("weather-timeout-not-a-number",
         lambda r: ("weather", "--store", r / "store", "--timeout", "soon"),
         error=r"hotspot weather: Invalid value for '--timeout'", untouched=("store",),
         why="a boxed usage panel"),
    Case("cube-clip-water-missing",
         lambda r: ("cube", "--store", r / "store", "--clip-water", r / "land.gpkg"),
         error=r"--clip-water .*land\.gpkg not found", untouched=("store",),
         why="a new option"),
    # --config on every command, checked there too
    Case("models-unknown-name", lambda r: ("models", "magic"),
         error=r"unknown model 'magic': choose from", why="a new command"),
    Case("models-config-with-a-bad-parameter",
         lambda r: ("models", "--config", r / "c.toml"),
         error=r"naive-mean: parameter k must be an integer, got 'six'",
         setup=_config('[hotspot.model_params.naive-mean]\nk = "six"\n'),
         why="a new command: the configured value is checked as backtest checks it"),
    Case("ingest-config-missing",
         lambda r: ("ingest", "police-uk", r / "nothing", "--store", r / "new",
                    "--config", r / "missing.toml"),
         error=r"config file .*missing\.toml not found", untouched=("new",),
         why="ingest took no --config"),
    Case("weather-config-not-toml",
         lambda r: ("weather", "--store", r / "store", "--config", r / "c.toml"),
         error=r"config file .*c\.toml is not valid TOML", setup=_config("hotspot = [\n"),
         untouched=("store",), why="weather took no --config"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_cli_options(case: Case, tmp_path: Path, base_store: Path) -> None:
    copy_store(base_store, tmp_path / "store")
    check(case, tmp_path)
