"""``hotspot ingest``: read police.uk street CSVs or a timestamped CSV into the event store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hotspot.cli.common import (
    ConfigOpt,
    console,
    err_console,
    handle_errors,
    rich_progress,
    warn,
)
from hotspot.core.errors import ConfigError
from hotspot.core.progress import ProgressBars
from hotspot.settings import load_settings

if TYPE_CHECKING:  # heavy imports (pandas, geopandas) stay out of `hotspot --help`
    from hotspot.core.area import StudyArea
    from hotspot.ingest.report import IngestReport

ingest_app = typer.Typer(
    help="Read crime records into the event store; bad rows are quarantined with a reason.",
    no_args_is_help=True,
)

StoreOption = Annotated[
    Path, typer.Option("--store", help="Event store folder (created if absent).")
]
AreaOption = Annotated[
    Path | None,
    typer.Option(
        "--area",
        help="Study area boundary file (.zip shapefile, .gpkg, .geojson); points outside "
        "are quarantined as outside_study_area.",
    ),
]
AreaFilterOption = Annotated[
    str | None,
    typer.Option(
        "--area-filter",
        help="Keep only boundary features with COLUMN=VALUE, e.g. 'BOROUGH=City of London'.",
    ),
]


def _study_area(
    area: Path | None, area_filter: str | None, bbox: str | None, crs: str | None
) -> StudyArea | None:
    from hotspot.core.area import bbox_area, load_area, parse_bbox

    if area_filter and area is None:
        raise ConfigError("--area-filter needs --area FILE")
    if area is not None and bbox is not None:
        raise ConfigError("give --area or --bbox, not both")
    if area is not None:
        return load_area(area, area_filter, crs)
    if bbox is not None:
        return bbox_area(*parse_bbox(bbox), crs=crs)
    return None


@contextmanager
def _progress() -> Iterator[ProgressBars]:
    """Progress bars on a terminal (nothing when stderr is a file or pipe), started with a
    spinner before the readers' heavy imports."""
    with rich_progress(err_console, stage="loading libraries") as progress:
        yield progress


def _show(report: IngestReport) -> None:
    from hotspot.ingest.report import EVENT

    months = report.by_month()
    table = Table(title=f"ingest into {report.store}", show_footer=True)
    table.add_column("month", footer="total", justify="left")
    for outcome in report.outcomes:
        header = "events" if outcome == EVENT else outcome.replace("_", " ")
        n = sum(m.by_outcome[outcome] for m in months)
        table.add_column(header, footer=f"{n:,}", justify="right")
    table.add_column("total", footer=f"{report.n_rows:,}", justify="right")
    for m in months:
        table.add_row(m.month, *(f"{n:,}" for n in m.by_outcome.values()), f"{m.total:,}")
    console.print(table)
    console.print(report.summary(), highlight=False)
    console.print(f"report: {report.path}", highlight=False, soft_wrap=True)
    for warning in report.warnings:  # loud, on stderr, after the table they qualify
        warn(warning)


@ingest_app.command("police-uk")
@handle_errors
def police_uk(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="police.uk street-level CSVs, folders of YYYY-MM/*-street.csv files or the "
            "bulk .zip archive, in any mix.",
            show_default=False,
        ),
    ],
    store: StoreOption,
    area: AreaOption = None,
    area_filter: AreaFilterOption = None,
    crs: Annotated[
        str | None, typer.Option("--crs", help="Metric CRS for x/y in the store "
                                 "\\[default: settings' crs, else EPSG:27700]")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Ingest police.uk street-level crime files (one or many forces and months)."""
    settings = load_settings(config, store=store, area=area, area_filter=area_filter, crs=crs)
    crs = settings.crs or "EPSG:27700"
    with _progress() as progress:
        from hotspot.ingest.police_uk import ingest_police_uk

        study_area = _study_area(settings.area, settings.area_filter, None, crs)
        report = ingest_police_uk(paths, settings.store, area=study_area, crs=crs,
                                  progress=progress)
    _show(report)


@ingest_app.command("csv")
@handle_errors
def csv_file(
    path: Annotated[
        Path, typer.Argument(help="The CSV file (.csv or .csv.gz).", show_default=False)
    ],
    store: StoreOption,
    time_col: Annotated[
        str, typer.Option("--time-col", help="Column with each crime's date and time.")
    ],
    lon_col: Annotated[
        str | None, typer.Option("--lon-col", help="Longitude column (WGS84 degrees).")
    ] = None,
    lat_col: Annotated[
        str | None, typer.Option("--lat-col", help="Latitude column (WGS84 degrees).")
    ] = None,
    x_col: Annotated[
        str | None,
        typer.Option("--x-col", help="Projected x column (instead of --lon-col/--lat-col)."),
    ] = None,
    y_col: Annotated[str | None, typer.Option("--y-col", help="Projected y column.")] = None,
    input_crs: Annotated[
        str, typer.Option("--input-crs", help="CRS of --x-col/--y-col.")
    ] = "EPSG:4326",
    category_col: Annotated[
        str | None,
        typer.Option(
            "--category-col", help="Crime category column (default: every event is 'all')."
        ),
    ] = None,
    id_col: Annotated[
        str | None,
        typer.Option(
            "--id-col", help="Record id column; repeated ids are quarantined as duplicates."
        ),
    ] = None,
    time_format: Annotated[
        str | None,
        typer.Option("--time-format", help="strptime format of --time-col, e.g. '%Y-%m-%d %H:%M'."),
    ] = None,
    dayfirst: Annotated[
        bool | None,
        typer.Option(
            "--dayfirst/--monthfirst",
            help="Numeric dates put the day first (31/01/2020) or the month (01/31/2020); "
            "needed when the values do not show it.",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Source name in the store (default: from the file name)."),
    ] = None,
    area: AreaOption = None,
    area_filter: AreaFilterOption = None,
    bbox: Annotated[
        str | None,
        typer.Option(
            "--bbox",
            help="Study area as LON_MIN,LAT_MIN,LON_MAX,LAT_MAX (instead of --area).",
        ),
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs",
            help="Metric CRS for x/y (default: settings' crs, else the store's, the area's, "
            "or the local UTM zone).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Ingest a CSV with a timestamp and coordinates per crime (city open-data portals)."""
    settings = load_settings(config, store=store, area=area, area_filter=area_filter, crs=crs)
    crs = settings.crs
    with _progress() as progress:
        from hotspot.ingest.csv_source import ingest_csv

        study_area = _study_area(settings.area if bbox is None else area,
                                 settings.area_filter if bbox is None else area_filter,
                                 bbox, crs)
        report = ingest_csv(
            path,
            settings.store,
            time_col=time_col,
            lon_col=lon_col,
            lat_col=lat_col,
            x_col=x_col,
            y_col=y_col,
            input_crs=input_crs,
            category_col=category_col,
            id_col=id_col,
            time_format=time_format,
            dayfirst=dayfirst,
            source=source,
            area=study_area,
            crs=crs,
            progress=progress,
        )
    _show(report)
