"""``hotspot nightly`` (one pass now) and ``hotspot serve`` (the pass on a schedule).

Registered by ``hotspot.cli`` as ``app.command("nightly")(nightly_command)`` and
``app.command("serve")(serve_command)``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from hotspot.cli.common import console, handle_errors, styled, warn

NightlyConfigOpt = Annotated[
    Path, typer.Option("--config", help="TOML settings with a \\[hotspot.nightly] section "
                                        "(see examples/nightly.toml).")
]


def _print_result(result: dict) -> None:
    if result["status"] == "nothing_new":
        console.print(styled(("nothing to do", "bold"), f": {result['message']}"))
        return
    console.print(styled((result["message"], "bold green"), f" -> {result['run_dir']}"))
    if result.get("new_months"):
        console.print(f"  new months: {', '.join(result['new_months'])}")
    for warning in result.get("warnings", []):
        warn(warning)
    if result.get("pruned"):
        console.print(f"  removed old runs: {', '.join(result['pruned'])}")


@handle_errors
def nightly_command(
    config: NightlyConfigOpt,
    no_prefect: Annotated[
        bool,
        typer.Option("--no-prefect",
                     help="Run the same steps as plain functions, without a Prefect flow run."),
    ] = False,
) -> None:
    """Run one nightly pass now: ingest new police.uk months (drop folder and API), refit,
    backtest against the baselines, publish a dated run folder and move 'latest'. With
    nothing new it says so and writes nothing."""
    from hotspot.nightly import nightly_settings, run_nightly

    settings = nightly_settings(config)  # fail fast, before Prefect starts
    if no_prefect:
        result = run_nightly(settings)
    else:
        # Prefect gives its temporary server 20 s to start, which a busy machine can miss,
        # failing the night's run; a user's own setting still wins. Read at Prefect import.
        os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
        from hotspot.flows.nightly import nightly_flow

        result = nightly_flow(str(config.resolve()))
    _print_result(result)


@handle_errors
def serve_command(
    config: NightlyConfigOpt,
    cron: Annotated[
        str | None,
        typer.Option("--cron", help='Cron schedule; default the config\'s (e.g. "0 2 * * *").'),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Deployment name; default the config's.")
    ] = None,
) -> None:
    """Serve the nightly flow as a Prefect deployment on a cron schedule until Ctrl-C.
    Needs a Prefect server: set PREFECT_API_URL (see docs/nightly.md)."""
    from hotspot.flows.nightly import serve_nightly
    from hotspot.nightly import nightly_settings

    schedule = nightly_settings(config).nightly.schedule
    if not os.environ.get("PREFECT_API_URL"):
        warn("PREFECT_API_URL is not set: Prefect would start a temporary server that "
             "cannot run schedules. Start one with 'prefect server start --host 127.0.0.1 "
             "--port 4200' and export PREFECT_API_URL=http://127.0.0.1:4200/api")
    console.print(f"serving hotspot-nightly/{name or schedule.deployment} on "
                  f"'{cron or schedule.cron}'"
                  + (f" ({schedule.timezone})" if schedule.timezone else "")
                  + "; Ctrl-C to stop (the deployment is then paused)")
    serve_nightly(config, cron=cron, name=name)
