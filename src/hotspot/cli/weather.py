"""``hotspot weather``: daily weather for a store, from meteostat or a local file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from hotspot.cli.common import (
    ConfigOpt,
    EndAliasOpt,
    StartAliasOpt,
    StoreOpt,
    console,
    date_option,
    handle_errors,
    pick_alias,
    rich_progress,
    warn,
)
from hotspot.settings import load_settings

FirstDayOpt = date_option("--from", "First day YYYY-MM-DD; default: the first event "
                          "month's first day.")
LastDayOpt = date_option("--to", "Last day YYYY-MM-DD; default: the last event month's "
                         "last day.")


@handle_errors
def weather_command(
    store: StoreOpt,
    station: Annotated[
        str | None,
        typer.Option("--station", help="meteostat station id, or 'nearest' (the station "
                     "nearest the store's area). With --file too, the file is the fallback "
                     "when meteostat cannot be reached."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Local daily weather: an ECA&D file (DATE, TX, Q_TX, ...; "
                     "tenths) or a CSV date,tmax,tmin,tavg,prcp (°C, mm). Alone, it is read "
                     "without touching the network."),
    ] = None,
    from_: FirstDayOpt = None,
    to: LastDayOpt = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for meteostat before "
                            "falling back.")
    ] = 30.0,
    config: ConfigOpt = None,
    start: StartAliasOpt = None,
    end: EndAliasOpt = None,
) -> None:
    """Fetch daily weather (max/min/mean temperature, rain) into STORE/weather/daily.parquet.

    Without --station or --file: meteostat's station nearest the study area.
    Downloads are cached under STORE/weather/cache and never fetched twice.
    """
    from hotspot.cli.common import DEBUG
    from hotspot.core.errors import ConfigError
    from hotspot.ingest.weather import ingest_weather

    if timeout <= 0:
        raise ConfigError(f"--timeout must be positive, got {timeout}")
    first = pick_alias(from_, start, "--from", "--start")
    last = pick_alias(to, end, "--to", "--end")
    settings = load_settings(config, store=store)
    # meteostat logs every failed request; the outcome is reported once below (--debug
    # shows its log)
    client_log = logging.getLogger("meteostat")
    level = client_log.level
    if not DEBUG["enabled"]:
        client_log.setLevel(logging.CRITICAL)
    try:
        with rich_progress(stage="fetching daily weather"):
            run = ingest_weather(settings.store, station=station, file=file, start=first,
                                 end=last, timeout_s=timeout)
    finally:
        client_log.setLevel(level)
    for message in run.warnings:
        warn(message)
    console.print(run.summary(), highlight=False, soft_wrap=True)
