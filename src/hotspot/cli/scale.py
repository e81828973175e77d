"""``hotspot backtest-grid``: models x parameter sets x cell sizes x origins on Dask.

Registered by ``hotspot.cli`` as ``app.command("backtest-grid")(backtest_grid_command)``.
The shared options and the console are used through the ``common`` module rather than
imported one by one, so this file does not repeat the command module's import list.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hotspot.cli import common
from hotspot.core.errors import ConfigError
from hotspot.settings import load_settings


def _floats(text: str, option: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text!r} must be numbers separated by commas") from None
    if not values or any(v <= 0 for v in values):
        raise ConfigError(f"{option} {text!r} must be positive numbers separated by commas")
    return values


@common.handle_errors
def backtest_grid_command(
    store: common.StoreOpt,
    models: common.ModelsOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder for cubes, units and metrics.")],
    from_: common.FromOpt = None,
    to: common.ToOpt = None,
    cells: Annotated[
        str, typer.Option("--cells", help="Cell sizes in metres, comma-separated: one cube each.")
    ] = "150",
    param: common.ParamOpt = None,
    dask_address: Annotated[
        str | None,
        typer.Option("--dask-address",
                     help="Scheduler of an existing Dask cluster, e.g. tcp://10.0.0.5:8786 "
                          "(default: a local cluster)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Workers of the local cluster.")
    ] = 2,
    processes: Annotated[
        bool,
        typer.Option("--processes/--threads",
                     help="Local workers as processes (for CPU-heavy models) or threads "
                          "(default: starts at once, enough for light models)."),
    ] = False,
    n_bootstrap: common.NBootstrapOpt = None,
    seed: common.SeedOpt = None,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Ignore finished units of an earlier run in --out.")
    ] = False,
    units_per_task: Annotated[
        int, typer.Option("--units-per-task", min=1,
                          help="Work units per Dask task (more: less scheduling overhead).")
    ] = 4,
    config: common.ConfigOpt = None,
    start: common.StartAliasOpt = None,
    end: common.EndAliasOpt = None,
) -> None:
    """Backtest every model (and parameter set) at every cell size and origin, in parallel
    on Dask; the numbers equal 'hotspot backtest' run one by one. Re-running after a crash
    resumes: finished units are kept in OUT/units. Grids: --param MODEL.KEY=V1|V2.
    Runs as a Prefect flow when PREFECT_API_URL names a Prefect server, else without
    Prefect (no temporary server)."""
    from hotspot.models import parse_model_names, parse_param_grid

    from_, to = common.held_out(from_, to, start, end)
    settings = load_settings(config, store=store, out=out, seed=seed, n_bootstrap=n_bootstrap)
    names = parse_model_names(models)
    sizes = _floats(cells, "--cells")
    configured = {name: settings.model_params[name] for name in names
                  if name in settings.model_params}
    grid = parse_param_grid(param, configured)
    # A flow run only where a Prefect server is running: without one, Prefect would start
    # a temporary server (~10 s) for a run nobody can look at afterwards.
    as_flow = bool(os.environ.get("PREFECT_API_URL"))
    where = dask_address or (f"local cluster, {workers} "
                             f"{'process' if processes else 'thread'} workers")
    common.console.print(f"backtest grid on {where}" + (" (Prefect flow)" if as_flow else ""),
                         highlight=False, markup=False)
    # the grid reports no count of its units: a spinner says it is working
    with common.rich_progress(stage="loading libraries") as progress:
        if as_flow:
            from hotspot.flows.backtest_grid import backtest_grid_flow as run_grid
        else:
            from hotspot.grid_backtest import run_backtest_grid as run_grid
        progress.stage(f"backtest grid: {len(names)} model(s) x {len(sizes)} cell size(s), "
                       f"{from_}..{to}")
        paths = run_grid(
            backtest=settings.backtest, dask_address=dask_address, n_workers=workers,
            processes=processes, store=str(settings.store), models=names,
            first_target=from_, last_target=to, out=str(settings.out), cell_sizes=sizes,
            param_grid=grid, freq=settings.freq, resume=not fresh,
            units_per_task=units_per_task,
        )
    _print_summary(Path(paths["summary"]))
    for key, path in paths.items():
        common.console.print(f"{key}: {path}")


def _print_summary(path: Path, coverage: float = 0.05) -> None:
    import pandas as pd
    from rich.table import Table

    summary = pd.read_csv(path)
    summary["param_set"] = summary["param_set"].astype("string").fillna("")
    rows = summary[(summary["metric"] == "pai") & ((summary["coverage"] - coverage).abs() < 1e-9)]
    table = Table(title=f"PAI@{coverage:.0%}: mean [95% bootstrap CI]")
    for column in ("cube", "model", "params", "PAI"):
        table.add_column(column)
    for row in rows.itertuples(index=False):
        table.add_row(str(row.cube), str(row.model), row.param_set or "-",
                      f"{row.mean:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]")
    common.console.print(table)
