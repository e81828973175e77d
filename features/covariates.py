"""Covariate groups for the feature table: ``calendar`` and ``weather``.

Each group is a table indexed by period start (the cube's ``time``) that
``features.design.build_design`` joins on period. Tables cover the cube's periods and
``ahead`` periods after it, so a forecast period has its row.

Weather for a target period is the *observed* weather of that period (as if the weather
forecast were perfect). In a backtest that is an upper bound on what weather can add; in
production a weather forecast must be supplied for the target period, and a period with
no weather makes ``design_for_next`` refuse rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.features.calendar import calendar_covariates, country_for_store
from hotspot.features.weather import weather_covariates
from hotspot.ingest.weather import read_weather

GROUPS = ("calendar", "weather")
#: ``--covariates`` variants: each names the groups it switches on.
VARIANTS: dict[str, tuple[str, ...]] = {
    "none": (),
    "calendar": ("calendar",),
    "weather": ("weather",),
    "all": ("calendar", "weather"),
}
# Month of year is already in the design's seasonal terms, and weekday share is
# 1 - weekend share: keep the calendar columns that add information.
_CALENDAR_COLUMNS = ("days", "weekend_share", "holidays")


def parse_variants(text: str) -> list[str]:
    """``none,weather`` → ``["none", "weather"]``; ``none`` is always included first."""
    names = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise ConfigError(
            f"--covariates {text!r}: choose from {', '.join(VARIANTS)} (comma-separated)"
        )
    return list(dict.fromkeys(["none", *names]))


def covariate_tables(
    store: Path,
    cube: xr.Dataset,
    groups: tuple[str, ...],
    ahead: int = 1,
    events_table: Path | None = None,
) -> dict[str, pd.DataFrame]:
    """The tables of ``groups`` for ``cube``'s periods plus ``ahead`` more."""
    tables: dict[str, pd.DataFrame] = {}
    if "calendar" in groups:
        country, subdiv = country_for_store(store)
        calendar = calendar_covariates(cube, country=country, subdiv=subdiv,
                                       events_table=events_table, ahead=ahead)
        keep = [c for c in calendar.columns if c in _CALENDAR_COLUMNS or c.startswith("event_")]
        tables["calendar"] = calendar[keep]
    if "weather" in groups:
        tables["weather"] = weather_covariates(read_weather(store), cube, ahead=ahead)
    return tables


def variant_tables(
    store: Path, cube: xr.Dataset, variants: list[str], ahead: int = 1
) -> Mapping[str, dict[str, pd.DataFrame] | None]:
    """Covariate tables per variant name (``None`` for ``none``)."""
    every = covariate_tables(store, cube, tuple({g for v in variants for g in VARIANTS[v]}),
                             ahead)
    return {v: ({g: every[g] for g in VARIANTS[v]} or None) for v in variants}
