"""The ``hotspot`` command: thin wrappers that build settings, call one library function
and render the result."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hotspot import __version__
from hotspot.cli.claims import evaluate_claim_command
from hotspot.cli.common import (
    DEBUG,
    ClipWaterOpt,
    ConfigOpt,
    EndAliasOpt,
    FromOpt,
    ModelsOpt,
    NBootstrapOpt,
    OneLineErrors,
    ParamOpt,
    SeedOpt,
    StartAliasOpt,
    StoreOpt,
    TargetOpt,
    TargetsOpt,
    ToOpt,
    console,
    handle_errors,
    held_out,
    rich_progress,
)
from hotspot.cli.ingest import ingest_app
from hotspot.cli.models import models_command
from hotspot.cli.nightly import nightly_command, serve_command
from hotspot.cli.scale import backtest_grid_command
from hotspot.cli.weather import weather_command
from hotspot.core.errors import ConfigError
from hotspot.settings import load_settings

if TYPE_CHECKING:  # heavy imports stay out of `hotspot --help`
    import pandas as pd

    from hotspot.evaluation.backtest import BacktestResult
    from hotspot.pipeline import ForecastRun

app = typer.Typer(
    help="Place-based crime hotspot forecasting: ingest, grid, cube, backtest, forecast.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # --install-completion / --show-completion for bash, zsh, fish and PowerShell
    add_completion=True,
    cls=OneLineErrors,
)
app.add_typer(ingest_app, name="ingest")
app.command("weather")(weather_command)
app.command("evaluate-claim")(evaluate_claim_command)
app.command("nightly")(nightly_command)
app.command("serve")(serve_command)
app.command("backtest-grid")(backtest_grid_command)
app.command("models")(models_command)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"hotspot {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True,
                           help="Print the version and exit.")
    ] = False,
) -> None:
    """Place-based crime hotspot forecasting. Every command has --help."""
    DEBUG["enabled"] = debug


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
@handle_errors
def cube(
    store: StoreOpt,
    cell: Annotated[float | None, typer.Option("--cell", help="Cell size in metres.")] = None,
    area: Annotated[
        Path | None, typer.Option("--area", help="Boundary file; default: the store's area.")
    ] = None,
    area_filter: Annotated[
        str | None, typer.Option("--area-filter", help="Keep features where COLUMN=VALUE.")
    ] = None,
    crs: Annotated[str | None, typer.Option("--crs", help="Metric CRS for the grid.")] = None,
    freq: Annotated[
        str | None, typer.Option("--freq", help="Periods: M (month), W (week), D (day).")
    ] = None,
    max_cube_gb: Annotated[
        float | None, typer.Option("--max-cube-gb", help="Refuse a cube whose estimated build "
                                   "memory is over this many GB (default 4).")
    ] = None,
    target: TargetOpt = None,
    clip_water: ClipWaterOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Build the counts cube (time x cell) of a store on a square grid; saves STORE/cube.zarr.
    With --target its counts are that target's (recorded in the cube), and backtest and
    forecast use it unless told otherwise."""
    settings = load_settings(config, store=store, cell_size_m=cell, area=area,
                             area_filter=area_filter, crs=crs, freq=freq,
                             max_cube_gb=max_cube_gb, target=target, clip_water=clip_water)
    with rich_progress(stage="loading libraries") as progress:
        from hotspot.features.cube import cube_periods
        from hotspot.features.targets import cube_target
        from hotspot.pipeline import save_store_cube, targeted_store_cube

        progress.stage(f"building the cube of {settings.store}")
        built = targeted_store_cube(settings)
        progress.stage("saving the cube")
        path = save_store_cube(built, settings.store)
    periods = cube_periods(built)
    total = built["counts"].sum()
    counted = f"{float(total):,.0f} harm" if built["counts"].dtype.kind == "f" else (
        f"{int(total)} events")
    console.print(
        f"cube: {built.sizes['time']} periods ({periods[0]}..{periods[-1]}) x "
        f"{built.sizes['cell']} cells of {settings.cell_size_m:g} m, target "
        f"{cube_target(built)}, {counted} counted -> {path}"
    )


@app.command()
@handle_errors
def backtest(
    store: StoreOpt,
    models: ModelsOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics and predictions.")],
    from_: FromOpt = None,
    to: ToOpt = None,
    cube_path: Annotated[
        Path | None, typer.Option("--cube", help="Cube to use; default STORE/cube.zarr.")
    ] = None,
    covariates: Annotated[
        str | None,
        typer.Option("--covariates", help="Ablation: run covariate-taking models (glm, gbm) "
                     "with each of none|calendar|weather|all (comma-separated) and report "
                     "paired differences against none."),
    ] = None,
    target: TargetsOpt = None,
    boxes: Annotated[
        int | None, typer.Option("--boxes", help="N of the top-N box hit rate and box PAI "
                                 "(default: settings' backtest.boxes, 20).")
    ] = None,
    offsets: Annotated[
        int | None, typer.Option("--offsets", help="Score on 1, 2 or 4 grids (shifted by half "
                                 "a cell in x, y, both): offsets.csv and offset_spread.csv say "
                                 "how much each score moves with the grid's placement.")
    ] = None,
    param: ParamOpt = None,
    seed: SeedOpt = None,
    n_bootstrap: NBootstrapOpt = None,
    clip_water: ClipWaterOpt = None,
    config: ConfigOpt = None,
    start: StartAliasOpt = None,
    end: EndAliasOpt = None,
) -> None:
    """Rolling-origin backtest: refit at each origin, score the next period, per target."""
    from_, to = held_out(from_, to, start, end)
    settings = load_settings(config, store=store, out=out, seed=seed, n_bootstrap=n_bootstrap,
                             target=target, backtest={"boxes": boxes, "offsets": offsets},
                             clip_water=clip_water)
    # the bar starts before the heavy imports (pandas, geopandas, statsmodels: seconds)
    with rich_progress(stage=f"backtest {models} {from_}..{to}: loading libraries") as progress:
        from hotspot.models import parse_model_names, parse_model_params
        from hotspot.pipeline import open_store_cube, run_backtest, run_covariate_ablation
        from hotspot.targeting import cube_targets, target_cube

        names = parse_model_names(models)
        model_params = parse_model_params(param, settings.model_params)
        progress.stage(f"backtest {models}: opening the cube")
        cube_ = open_store_cube(settings.store, cube_path)
        targets = cube_targets(cube_, settings)
        progress.stage(f"backtest {models}: reading events, fitting {names[0]}")
        if covariates:
            if len(targets) > 1:
                raise ConfigError("--covariates runs one target: give one --target")
            ablation = run_covariate_ablation(
                settings.store, names, from_, to, covariates, progress=progress,
                cube=target_cube(cube_, targets[0], settings), settings=settings.backtest,
                model_params=model_params)
            result = ablation.backtest
        else:
            result = run_backtest(settings.store, names, from_, to, progress=progress,
                                  cube=cube_, settings=settings, model_params=model_params,
                                  targets=targets)
    paths = ablation.save(settings.out) if covariates else result.save(settings.out)
    _print_summary(result)
    if covariates:
        _print_ablation(ablation.differences)
        console.print(f"ablation: {paths['ablation']}")
    console.print(f"metrics: {paths['metrics']}\nsummary: {paths['summary']}"
                  f"\npredictions: {paths['predictions']}")
    for key in ("offsets", "offset_spread"):
        if key in paths:
            console.print(f"{key}: {paths[key]}")


@app.command()
@handle_errors
def forecast(
    store: StoreOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for the published forecast.")],
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model to publish, or auto: backtest the candidates "
                     "(forecast.candidates) over the recent periods and publish the best on "
                     "forecast.select_by (default the top-N box hit rate) if it beats the best "
                     "baseline with a paired 95% CI clear of zero, else that baseline; writes "
                     "selection.json and says in the report which "
                     "model won and by how much. Default: settings' forecast.model (auto)."),
    ] = None,
    target: TargetOpt = None,
    backtest_periods: Annotated[
        int | None,
        typer.Option("--backtest-periods", help="Recent periods to backtest for the report."),
    ] = None,
    cube_path: Annotated[
        Path | None, typer.Option("--cube", help="Cube to use; default STORE/cube.zarr.")
    ] = None,
    param: ParamOpt = None,
    seed: SeedOpt = None,
    n_bootstrap: NBootstrapOpt = None,
    clip_water: ClipWaterOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Fit on all data and publish next period's forecast (gpkg, geojson, map, report)."""
    settings = load_settings(config, store=store, out=out, model=model,
                             backtest_periods=backtest_periods, seed=seed,
                             n_bootstrap=n_bootstrap, target=target, clip_water=clip_water)
    with rich_progress(stage="loading libraries") as progress:
        from hotspot.models import parse_model_params
        from hotspot.pipeline import open_store_cube, run_forecast

        model_params = parse_model_params(param, settings.model_params)
        progress.stage("opening the cube")
        cube_ = open_store_cube(settings.store, cube_path)
        progress.stage(f"forecast ({settings.forecast.model}): backtesting the recent "
                       "periods")
        run = run_forecast(settings, cube=cube_, model_params=model_params, progress=progress)
    if run.backtest is not None:
        _print_summary(run.backtest)
    _print_forecast(run)


@app.command()
@handle_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for every output.")] = Path(
        "out/demo"
    ),
    model: Annotated[
        str | None, typer.Option("--model", help="Model to publish for every target; default "
                                 "auto (the best of the candidates on the backtest).")
    ] = None,
    target: Annotated[
        str | None, typer.Option("--target", help="Targets to forecast, comma-separated "
                                 "(default crime,harm).")
    ] = None,
    clip_water: ClipWaterOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run the main job on the embedded City of London sample: ingest, cube, backtest the
    candidate models over the last 6 months for crime and for harm, and publish next
    month's forecast of each by the model that won (OUT/forecast/crime, OUT/forecast/harm)."""
    settings = load_settings(config, out=out, model=model, target=target,
                             clip_water=clip_water)
    with rich_progress(stage="loading libraries") as progress:
        from hotspot.demo import run_demo
        from hotspot.models import parse_model_params

        parse_model_params(None, settings.model_params)
        progress.stage("ingesting the sample")
        run = run_demo(settings, progress=progress)
    console.print(run.ingest.summary())
    console.print(f"cube: {run.cube_path}")
    _print_summary(run.backtest)
    console.print(f"backtest: {run.backtest_dir}")
    for forecast_run in run.forecasts.values():
        _print_forecast(forecast_run)


#: (column, metric, coverage) of the printed summary; box rows have no set coverage.
SUMMARY_COLUMNS: tuple[tuple[str, str, float | None], ...] = (
    ("top-{boxes} hit rate", "box_hit_rate", None),
    ("PAI@0.5%", "pai", 0.005),
    ("PAI@5%", "pai", 0.05),
    ("log score", "log_score", None),
)


def _print_summary(result: BacktestResult) -> None:
    """One table per target: mean [95 % CI] of the top-N box hit rate, PAI at 0.5 % and
    5 % of the area, and the log score, per model."""
    boxes = result.settings.get("boxes", 20)
    summary = result.summary_table
    targets = list(dict.fromkeys(summary["target"])) if "target" in summary else [None]
    for target in targets:
        rows = summary if target is None else summary[summary["target"] == target]
        table = Table(title=f"backtest {result.settings['first_target']}.."
                            f"{result.settings['last_target']}"
                            + (f", target {target}" if target is not None else "")
                            + ": mean [95% bootstrap CI]")
        table.add_column("model")
        for header, _, _ in SUMMARY_COLUMNS:
            table.add_column(header.format(boxes=boxes))
        for name in rows["model"].unique():
            cells = [str(name)]
            for _, metric, coverage in SUMMARY_COLUMNS:
                found = rows[(rows["model"] == name) & (rows["metric"] == metric)]
                if coverage is not None:
                    found = found[(found["coverage"] - coverage).abs() < 1e-9]
                cells.append(_mean_ci(found.iloc[0]) if len(found) else "n/a")
            table.add_row(*cells)
        console.print(table)


def _mean_ci(row: pd.Series) -> str:
    return f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _print_forecast(run: ForecastRun) -> None:
    _print_outputs(f"forecast of {run.target} for {run.target_period} ({run.model})",
                   run.outputs)
    if run.selection is not None:
        console.print(run.selection.explain())


def _print_ablation(differences: pd.DataFrame) -> None:
    table = Table(title="covariates vs none: mean paired difference [95% CI] (* = CI clear of 0)")
    for column in ("model", "PAI@5%", "deviance"):
        table.add_column(column)
    for model, rows in differences.groupby("model", sort=False):
        cells = [str(model)]
        for metric, coverage in (("pai", 0.05), ("poisson_deviance", None)):
            row = rows[rows["metric"] == metric]
            if coverage is not None:
                row = row[(row["coverage"] - coverage).abs() < 1e-9]
            r = row.iloc[0]
            cells.append(f"{r['mean_diff']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
                         + (" *" if r["better"] else ""))
        table.add_row(*cells)
    console.print(table)


def _print_outputs(title: str, outputs: dict[str, Path]) -> None:
    console.print(title, style="bold green")
    for key, path in outputs.items():
        console.print(f"  {key:<10} {path}")
