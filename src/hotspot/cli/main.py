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
    ConfigOpt,
    FromOpt,
    ModelsOpt,
    NBootstrapOpt,
    ParamOpt,
    SeedOpt,
    StoreOpt,
    ToOpt,
    console,
    handle_errors,
    rich_progress,
)
from hotspot.cli.ingest import ingest_app
from hotspot.cli.nightly import nightly_command, serve_command
from hotspot.cli.scale import backtest_grid_command
from hotspot.cli.weather import weather_command
from hotspot.settings import load_settings

if TYPE_CHECKING:  # heavy imports stay out of `hotspot --help`
    import pandas as pd

    from hotspot.evaluation.backtest import BacktestResult

app = typer.Typer(
    help="Place-based crime hotspot forecasting: ingest, grid, cube, backtest, forecast.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ingest_app, name="ingest")
app.command("weather")(weather_command)
app.command("evaluate-claim")(evaluate_claim_command)
app.command("nightly")(nightly_command)
app.command("serve")(serve_command)
app.command("backtest-grid")(backtest_grid_command)

@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
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
    config: ConfigOpt = None,
) -> None:
    """Build the counts cube (time x cell) of a store on a square grid; saves STORE/cube.zarr."""
    from hotspot.features.cube import cube_periods
    from hotspot.pipeline import cube_from_store, save_store_cube, settings_area

    settings = load_settings(config, store=store, cell_size_m=cell, area=area,
                             area_filter=area_filter, crs=crs, freq=freq,
                             max_cube_gb=max_cube_gb)
    built = cube_from_store(settings.store, settings.cell_size_m, settings.freq,
                            settings_area(settings), max_cube_gb=settings.max_cube_gb)
    path = save_store_cube(built, settings.store)
    periods = cube_periods(built)
    console.print(
        f"cube: {built.sizes['time']} periods ({periods[0]}..{periods[-1]}) x "
        f"{built.sizes['cell']} cells of {settings.cell_size_m:g} m, "
        f"{int(built['counts'].sum())} events counted -> {path}"
    )


@app.command()
@handle_errors
def backtest(
    store: StoreOpt,
    models: ModelsOpt,
    from_: FromOpt,
    to: ToOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for metrics and predictions.")],
    cube_path: Annotated[
        Path | None, typer.Option("--cube", help="Cube to use; default STORE/cube.zarr.")
    ] = None,
    covariates: Annotated[
        str | None,
        typer.Option("--covariates", help="Ablation: run covariate-taking models (glm, gbm) "
                     "with each of none|calendar|weather|all (comma-separated) and report "
                     "paired differences against none."),
    ] = None,
    param: ParamOpt = None,
    seed: SeedOpt = None,
    n_bootstrap: NBootstrapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Rolling-origin backtest: refit at each origin, score the next period."""
    from hotspot.models import parse_model_names, parse_model_params
    from hotspot.pipeline import open_store_cube, run_backtest, run_covariate_ablation

    settings = load_settings(config, store=store, out=out, seed=seed, n_bootstrap=n_bootstrap)
    names = parse_model_names(models)
    model_params = parse_model_params(param, settings.model_params)
    options = {"cube": open_store_cube(settings.store, cube_path),
               "settings": settings.backtest, "model_params": model_params}
    with rich_progress() as progress:
        if covariates:
            ablation = run_covariate_ablation(settings.store, names, from_, to, covariates,
                                              progress=progress, **options)
            result = ablation.backtest
        else:
            result = run_backtest(settings.store, names, from_, to, progress=progress,
                                  **options)
    paths = ablation.save(settings.out) if covariates else result.save(settings.out)
    _print_summary(result)
    if covariates:
        _print_ablation(ablation.differences)
        console.print(f"ablation: {paths['ablation']}")
    console.print(f"metrics: {paths['metrics']}\nsummary: {paths['summary']}"
                  f"\npredictions: {paths['predictions']}")


@app.command()
@handle_errors
def forecast(
    store: StoreOpt,
    model: Annotated[str, typer.Option("--model", help="Model to publish.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the published forecast.")],
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
    config: ConfigOpt = None,
) -> None:
    """Fit on all data and publish next period's forecast (gpkg, geojson, map, report)."""
    from hotspot.models import parse_model_params
    from hotspot.pipeline import open_store_cube, run_forecast

    settings = load_settings(config, store=store, out=out, model=model,
                             backtest_periods=backtest_periods, seed=seed,
                             n_bootstrap=n_bootstrap)
    model_params = parse_model_params(param, settings.model_params)
    cube_ = open_store_cube(settings.store, cube_path)
    with rich_progress() as progress:
        run = run_forecast(settings, cube=cube_, model_params=model_params, progress=progress)
    if run.backtest is not None:
        _print_summary(run.backtest)
    _print_outputs(f"forecast for {run.target_period} ({settings.forecast.model})",
                   run.outputs)


@app.command()
@handle_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for every output.")] = Path(
        "out/demo"
    ),
    model: Annotated[str | None, typer.Option("--model", help="Model to publish.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Run the main job on the embedded City of London sample: ingest, cube, backtest the
    baselines over the last 6 months, publish next month's forecast."""
    from hotspot.demo import run_demo
    from hotspot.models import parse_model_params

    settings = load_settings(config, out=out, model=model)
    parse_model_params(None, settings.model_params)
    with rich_progress() as progress:
        run = run_demo(settings, progress=progress)
    console.print(run.ingest.summary())
    console.print(f"cube: {run.cube_path}")
    _print_summary(run.backtest)
    console.print(f"backtest: {run.backtest_dir}")
    _print_outputs(f"forecast for {run.forecast.target_period} ({settings.forecast.model})",
                   run.forecast.outputs)


def _print_summary(result: BacktestResult) -> None:
    coverage = 0.05
    table = Table(title=f"backtest {result.settings['first_target']}.."
                        f"{result.settings['last_target']}: mean [95% bootstrap CI]")
    for column in ("model", "PAI@5%", "hit rate@5%", "PEI@5%", "deviance"):
        table.add_column(column)
    summary = result.summary_table
    for name in summary["model"].unique():
        cells = [str(name)]
        for metric in ("pai", "hit_rate", "pei", "poisson_deviance"):
            rows = summary[(summary["model"] == name) & (summary["metric"] == metric)]
            if metric != "poisson_deviance":
                rows = rows[(rows["coverage"] - coverage).abs() < 1e-9]
            row = rows.iloc[0]
            cells.append(f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]")
        table.add_row(*cells)
    console.print(table)


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
