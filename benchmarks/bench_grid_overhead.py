"""What a Dask grid costs over the serial backtest: wall time of whole commands.

    .venv/bin/python benchmarks/bench_grid_overhead.py [--out DIR] [--repeat N]
        [--modes serial,threads,processes] [--label NAME] [--pythonpath TREE]

On the shipped sample (``data/police-uk``, City wards), ``hotspot backtest`` (serial, on
the store's cube) against ``hotspot backtest-grid --fresh`` (its own cube, then the same
units on a local Dask cluster of ``--workers`` thread or process workers): by default 2
models x 12 targets = 24 units. Each command runs as its own process, the way a user runs
it, and is timed from start to exit (imports, Prefect, cluster start-up and shut-down
included); modes are interleaved within each repeat so a busy machine slows them alike,
and the median is reported. A run that leaves a process of its session behind is
flagged.

``--pythonpath TREE`` runs the commands on another source tree laid out as the installed
package (``TREE/hotspot/...``), e.g. an older checkout, to measure before and after a
change. Writes ``grid_overhead[-LABEL].json`` and ``.md`` under ``--out`` and the store
and run folders under ``--out/work`` (nothing elsewhere).
"""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import make_parser, write_json, write_text

from hotspot.core.resources import embedded_path

CLI = "from hotspot.cli import app; app()"
MODES = ("serial", "threads", "processes")


def _session_left(sid: int) -> list[str]:
    """Live processes of session ``sid`` (Linux ``/proc``; empty elsewhere)."""
    left = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            left.append(entry.name)
    return left


def run_command(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> dict:
    """Run ``hotspot ARGS`` in its own session; wall seconds, exit code, leftovers."""
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", CLI, *args], cwd=cwd, env=env,
                                   stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        code = process.wait()
    seconds = time.perf_counter() - started
    left = _session_left(process.pid)
    for pid in left:  # counted, then ended, so they do not slow the next runs
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGTERM)
    return {"seconds": round(seconds, 2), "exit_code": code, "left_behind": len(left)}


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__, data=False)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--models", default="naive-last,naive-mean")
    parser.add_argument("--from", dest="first", default="2020-01")
    parser.add_argument("--to", dest="last", default="2020-12")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--label", default="", help="suffix of the result files")
    parser.add_argument("--pythonpath", type=Path, default=None,
                        help="a source tree to run the commands on (TREE/hotspot/...)")
    opts = parser.parse_args(argv)
    modes = [m for m in opts.modes.split(",") if m]
    if unknown := sorted(set(modes) - set(MODES)):
        sys.exit(f"--modes: unknown {', '.join(unknown)}; choose from {', '.join(MODES)}")
    work = (opts.out / "work").resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(work / "prefect-home"),
           "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("PREFECT_API_URL", None)  # the default user: no Prefect server running
    # a busy machine can miss Prefect's 20 s for a temporary server: time it, not fail
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    if opts.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(opts.pythonpath.resolve()), *filter(None, [env.get("PYTHONPATH")])])

    store = work / "store"
    if not (store / "cube.zarr").exists():
        for args in (["ingest", "police-uk", str(embedded_path("police-uk")), "--store",
                      str(store), "--area",
                      str(embedded_path("boundaries", "city-of-london-wards.gpkg"))],
                     ["cube", "--store", str(store)]):
            result = run_command(args, env, work, work / "setup.log")
            if result["exit_code"]:
                sys.exit(f"setup failed: hotspot {' '.join(args)}; see {work / 'setup.log'}")

    common = ["--store", str(store), "--models", opts.models, "--from", opts.first,
              "--to", opts.last]
    commands = {
        "serial": ["backtest", *common, "--out", "serial"],
        "threads": ["backtest-grid", *common, "--out", "grid-threads", "--fresh",
                    "--workers", str(opts.workers), "--threads"],
        "processes": ["backtest-grid", *common, "--out", "grid-processes", "--fresh",
                      "--workers", str(opts.workers), "--processes"],
    }
    runs: dict[str, list[dict]] = {mode: [] for mode in modes}
    for i in range(opts.repeat):
        for mode in modes:
            result = run_command(commands[mode], env, work, work / f"{mode}-{i}.log")
            if result["exit_code"]:
                sys.exit(f"{mode} failed (exit {result['exit_code']}); see "
                         f"{work / f'{mode}-{i}.log'}")
            runs[mode].append(result)
            print(f"{mode:>9} run {i + 1}: {result['seconds']:6.1f} s"
                  + (f", {result['left_behind']} process(es) left" if result["left_behind"]
                     else ""), flush=True)

    n_units = len(opts.models.split(",")) * (
        int(opts.last[:4]) * 12 + int(opts.last[5:7])
        - int(opts.first[:4]) * 12 - int(opts.first[5:7]) + 1)
    summary = {mode: {"median_s": statistics.median(r["seconds"] for r in rs),
                      "runs_s": [r["seconds"] for r in rs],
                      "left_behind": max(r["left_behind"] for r in rs)}
               for mode, rs in runs.items()}
    payload = {"label": opts.label, "n_units": n_units, "workers": opts.workers,
               "models": opts.models, "targets": f"{opts.first}..{opts.last}",
               "pythonpath": str(opts.pythonpath) if opts.pythonpath else None,
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_1min": round(os.getloadavg()[0], 2)},
               "modes": summary}
    name = "grid_overhead" + (f"-{opts.label}" if opts.label else "")
    write_json(opts.out, f"{name}.json", payload)
    lines = [f"# backtest-grid overhead{f' ({opts.label})' if opts.label else ''}", "",
             f"{n_units} units ({opts.models}, targets {opts.first}..{opts.last}), "
             f"{opts.workers} workers, {opts.repeat} runs each, whole commands "
             f"(load {payload['machine']['load_1min']} on {os.cpu_count()} CPUs).", "",
             "| mode | median s | runs s | processes left |", "|---|---|---|---|"]
    lines += [f"| {mode} | {s['median_s']:.1f} | {', '.join(f'{x:.1f}' for x in s['runs_s'])}"
              f" | {s['left_behind']} |" for mode, s in summary.items()]
    write_text(opts.out, f"{name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
