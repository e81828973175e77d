"""National-scale benchmark: how cost grows with events and cells.

    .venv/bin/python benchmarks/bench_scale.py [--out DIR] [--work DIR] [--quick]

On synthetic police.uk data for the 43 forces + BTP (``synthetic_national.py``), 12 months
at three volumes (1/10, 1/3 and 1x of ~500,000 crimes a month) and three grids over
England and Wales (10k, 30k and 100k cells), it measures

- ingest (streaming police.uk ingest): rows/s;
- cube build, chunked month by month (``features.cube_lazy``) and in memory
  (``features.cube.build_cube`` on the whole event table), on the 100k-cell grid;
- grid build and assignment of every event to a cell, at each cell count;
- backtest throughput (6 origins x 4 models), serial vs Dask with 2 workers (threads and
  processes), at each cell count, checking the numbers are identical;

each in its own subprocess, so every peak RSS (``ru_maxrss``) is that step's alone (Dask
process workers are reported separately). Writes ``scale.json`` and ``scale.md``
(``scale-quick.*`` with ``--quick``) under ``--out`` (default ``benchmarks/results``). The
generated data, stores and cubes go to a temporary folder removed at the end, or to
``--work DIR`` (kept, and reused by a later run with the same ``--work``). Takes ~15
minutes on 2 cores; ``--quick`` runs tiny sizes to check the script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import make_parser, write_json, write_text
from scale_report import markdown

MONTHS = 12
EVENT_SIZES = {"1/10": 50_000, "1/3": 166_667, "1x": 500_000}  # crimes per month
CELL_SIZES = {"10k": 10_000, "30k": 30_000, "100k": 100_000}
MODELS = ["naive-last", "naive-mean", "glm", "gbm"]
FIRST_TARGET, LAST_TARGET = "2019-07", "2019-12"
COVERAGES = (0.01, 0.02, 0.05, 0.1, 0.2)
ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1", "PREFECT_LOGGING_LEVEL": "WARNING",
    "DASK_LOGGING__DISTRIBUTED": "warning", "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
}


def _peak_mb(who=resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def _cell_size(n_cells: int) -> float:
    from synthetic_national import england_wales_area

    return round(math.sqrt(england_wales_area().area_m2 / n_cells))


# --------------------------------------------------------------------------- children
# Each child imports only what its step needs, inside the function: its peak RSS is the
# step's own.


def child_ingest(src: str, store: str) -> dict:
    import datetime

    from hotspot.ingest.police_uk import ingest_police_uk

    started = time.perf_counter()
    report = ingest_police_uk([src], store, today=datetime.date(2030, 1, 1))
    seconds = time.perf_counter() - started
    return {"rows": report.n_rows, "events": report.n_events, "seconds": round(seconds, 2),
            "rows_per_s": round(report.n_rows / seconds), "peak_rss_mb": _peak_mb()}


def child_cube_chunked(store: str, n_cells: int, path: str) -> dict:
    from synthetic_national import england_wales_area

    from hotspot.features.cube_lazy import build_cube_chunked
    from hotspot.features.grid import build_grid

    grid = build_grid(england_wales_area(), _cell_size(n_cells))
    started = time.perf_counter()
    build_cube_chunked(store, grid, "M", path)
    seconds = time.perf_counter() - started
    return {"cells": grid.n_cells, "seconds": round(seconds, 2), "peak_rss_mb": _peak_mb()}


def child_cube_memory(store: str, n_cells: int) -> dict:
    from synthetic_national import england_wales_area

    from hotspot.features.cube import build_cube
    from hotspot.features.grid import build_grid
    from hotspot.ingest.store import read_events

    grid = build_grid(england_wales_area(), _cell_size(n_cells))
    started = time.perf_counter()
    events = read_events(Path(store))
    cube = build_cube(events, grid, "M")
    seconds = time.perf_counter() - started
    return {"cells": grid.n_cells, "events": len(events), "counted": int(cube["counts"].sum()),
            "seconds": round(seconds, 2), "peak_rss_mb": _peak_mb()}


def child_grid(store: str, n_cells: int) -> dict:
    import numpy as np
    import pyarrow.dataset as ds
    from synthetic_national import england_wales_area

    from hotspot.features.grid import build_grid

    area = england_wales_area()
    started = time.perf_counter()
    grid = build_grid(area, _cell_size(n_cells))
    build_s = time.perf_counter() - started
    table = ds.dataset(str(Path(store) / "events"), format="parquet").to_table(columns=["x", "y"])
    x, y = table.column("x").to_numpy(), table.column("y").to_numpy()
    started = time.perf_counter()
    position = grid.assign(x, y)
    assign_s = time.perf_counter() - started
    return {"cells": grid.n_cells, "cell_m": _cell_size(n_cells), "build_s": round(build_s, 2),
            "points": len(x), "assign_s": round(assign_s, 2),
            "points_per_s": round(len(x) / assign_s), "inside": int(np.sum(position >= 0)),
            "peak_rss_mb": _peak_mb()}


def _warm_worker(cube_path: str) -> float:
    """Import the models and open the cube once in a worker (first-task costs)."""
    started = time.perf_counter()
    import hotspot.models  # noqa: F401
    from hotspot.evaluation import parallel

    parallel.cube_at(cube_path)
    return time.perf_counter() - started


def child_backtest(cube_path: str, mode: str, workers: int = 2) -> dict:
    import pandas as pd

    import hotspot.models  # noqa: F401
    from hotspot.evaluation import parallel
    from hotspot.features.cube import open_cube

    cube = open_cube(cube_path)
    units = parallel.grid_units({"c": cube}, MODELS, FIRST_TARGET, LAST_TARGET, "M")
    extra: dict = {}
    if mode == "serial":
        started = time.perf_counter()
        results = [parallel.score_unit(cube, u, COVERAGES, keep_predictions=False)
                   for u in units]
        seconds = time.perf_counter() - started
    else:
        from distributed import Client, LocalCluster

        cold = time.perf_counter()
        with LocalCluster(n_workers=workers, threads_per_worker=1,
                          processes=mode == "dask-processes", dashboard_address=":0") as cluster:
            extra["cluster_start_s"] = round(time.perf_counter() - cold, 2)
            with Client(cluster) as client:
                warm = client.run(_warm_worker, cube_path)
                extra["worker_warmup_s"] = round(max(warm.values()), 2)
                started = time.perf_counter()
                results = parallel.run_units_dask(client, {"c": cube_path}, units, COVERAGES)
                seconds = time.perf_counter() - started
        extra["seconds_with_startup"] = round(time.perf_counter() - cold, 2)
        extra["worker_peak_rss_mb"] = (_peak_mb(resource.RUSAGE_CHILDREN)
                                       if mode == "dask-processes" else None)
    metrics = pd.concat([r.metrics for r in results], ignore_index=True)
    return {"cells": int(cube.sizes["cell"]), "units": len(units), "seconds": round(seconds, 2),
            "units_per_s": round(len(units) / seconds, 2),
            "unit_seconds": round(sum(r.seconds for r in results), 2),
            "metrics_sha": str(pd.util.hash_pandas_object(metrics, index=False).sum()),
            "peak_rss_mb": _peak_mb(), **extra}


CHILDREN = {"ingest": child_ingest, "cube_chunked": child_cube_chunked,
            "cube_memory": child_cube_memory, "grid": child_grid, "backtest": child_backtest}


# --------------------------------------------------------------------------- parent


def run_child(task: str, work: Path, **kwargs) -> dict:
    """Run one step in its own process (Prefect's home under ``work``) and return its result."""
    env = {**os.environ, **ENV, "PREFECT_HOME": str(work / "prefect")}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", task, json.dumps(kwargs)],
                          capture_output=True, text=True, env=env, cwd=work, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"{task} {kwargs} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(time.perf_counter() - started, 2)
    print(f"  {task} {kwargs}: {result}", flush=True)
    return result


def _wall(node) -> float:
    """Sum of every step's wall time (``wall_s``) in the results."""
    if isinstance(node, dict):
        return node.get("wall_s", 0.0) + sum(_wall(v) for v in node.values())
    return 0.0


def growth(xs: list[float], ys: list[float]) -> float | None:
    """Exponent b of y ~ x^b between the smallest and largest size."""
    if len(xs) < 2 or min(ys) <= 0 or xs[0] == xs[-1]:
        return None
    return round(math.log(ys[-1] / ys[0]) / math.log(xs[-1] / xs[0]), 2)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__, data=False)
    parser.add_argument("--work", type=Path,
                        help="keep the generated data here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the script")
    parser.add_argument("--steps", default="ingest,cube,grid,backtest",
                        help="steps to run; the others are taken from the last results file")
    args = parser.parse_args(argv)
    if args.work is not None:
        run(args, args.work)
        return
    with tempfile.TemporaryDirectory(prefix="hotspot-bench-scale-") as work:
        run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> None:
    """Every step, scratch files under ``work``; the results under ``args.out``."""
    steps = set(args.steps.split(","))
    from synthetic_national import generate

    event_sizes = ({"1/10": 2_000, "1/3": 6_000, "1x": 20_000} if args.quick
                   else EVENT_SIZES)
    cell_sizes = {"1k": 1_000, "3k": 3_000, "10k": 10_000} if args.quick else CELL_SIZES
    big_cells = max(cell_sizes.values())
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, python "
                                f"{platform.python_version()}",
                     "months": MONTHS, "models": MODELS, "ingest": {}, "cube": {}, "grid": {},
                     "backtest": {}}
    name = "scale-quick" if args.quick else "scale"
    out = args.out
    if steps != {"ingest", "cube", "grid", "backtest"}:
        previous = json.loads((out / f"{name}.json").read_text())
        for step in {"ingest", "cube", "grid", "backtest"} - steps:
            results[step] = previous[step]

    print("generate + ingest", flush=True)
    for label, per_month in event_sizes.items():
        if "ingest" not in steps:
            break
        src = work / f"gen-{per_month}"
        if not (src / "done.json").exists():
            summary = generate(src, n_months=MONTHS, per_month=per_month, seed=0)
            (src / "done.json").write_text(json.dumps(summary))
        summary = json.loads((src / "done.json").read_text())
        store = work / f"store-{per_month}"
        if store.exists():
            shutil.rmtree(store)
        result = run_child("ingest", work, src=str(src), store=str(store))
        result["csv_mb"] = round(summary["bytes"] / 2**20, 1)
        results["ingest"][label] = result

    print("cube build", flush=True)
    for label, per_month in event_sizes.items():
        if "cube" not in steps:
            break
        store = str(work / f"store-{per_month}")
        path = str(work / f"cube-{per_month}-{big_cells}.zarr")
        results["cube"][label] = {
            "events": results["ingest"][label]["events"],
            "chunked": run_child("cube_chunked", work, store=store, n_cells=big_cells, path=path),
            "in_memory": run_child("cube_memory", work, store=store, n_cells=big_cells),
        }

    print("grid build + assign", flush=True)
    big_store = str(work / f"store-{max(event_sizes.values())}")
    for label, n_cells in cell_sizes.items():
        if "grid" not in steps:
            break
        results["grid"][label] = run_child("grid", work, store=big_store, n_cells=n_cells)

    print("backtest serial vs Dask", flush=True)
    for label, n_cells in cell_sizes.items():
        if "backtest" not in steps:
            break
        path = str(work / f"cube-{max(event_sizes.values())}-{n_cells}.zarr")
        if not Path(path).exists():
            run_child("cube_chunked", work, store=big_store, n_cells=n_cells, path=path)
        runs = {mode: run_child("backtest", work, cube_path=path, mode=mode)
                for mode in ("serial", "dask-threads", "dask-processes")}
        serial = runs["serial"]["seconds"]
        for mode in ("dask-threads", "dask-processes"):
            runs[mode]["speedup"] = round(serial / runs[mode]["seconds"], 2)
            runs[mode]["speedup_with_startup"] = round(
                serial / runs[mode]["seconds_with_startup"], 2)
            runs[mode]["identical_to_serial"] = (runs[mode]["metrics_sha"]
                                                 == runs["serial"]["metrics_sha"])
        results["backtest"][label] = runs

    events = [results["ingest"][k]["rows"] for k in event_sizes]
    cells = [results["grid"][k]["cells"] for k in cell_sizes]
    results["growth_exponents"] = {
        "ingest_s_vs_rows": growth(events, [results["ingest"][k]["seconds"] for k in event_sizes]),
        "ingest_peak_vs_rows": growth(events, [results["ingest"][k]["peak_rss_mb"]
                                               for k in event_sizes]),
        "cube_chunked_s_vs_events": growth(events, [results["cube"][k]["chunked"]["seconds"]
                                                    for k in event_sizes]),
        "cube_memory_s_vs_events": growth(events, [results["cube"][k]["in_memory"]["seconds"]
                                                   for k in event_sizes]),
        "cube_chunked_peak_vs_events": growth(events, [results["cube"][k]["chunked"]
                                                       ["peak_rss_mb"] for k in event_sizes]),
        "cube_memory_peak_vs_events": growth(events, [results["cube"][k]["in_memory"]
                                                      ["peak_rss_mb"] for k in event_sizes]),
        "grid_build_s_vs_cells": growth(cells, [results["grid"][k]["build_s"]
                                                for k in cell_sizes]),
        "grid_assign_s_vs_cells": growth(cells, [results["grid"][k]["assign_s"]
                                                 for k in cell_sizes]),
        "backtest_serial_s_vs_cells": growth(cells, [results["backtest"][k]["serial"]["seconds"]
                                                     for k in cell_sizes]),
    }
    results["total_minutes"] = round(_wall(results) / 60, 1)
    write_json(out, f"{name}.json", results)
    write_text(out, f"{name}.md", markdown(results, event_sizes, cell_sizes))
    print(f"written to {out / name}.json and .md")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]](**json.loads(sys.argv[3]))))
    else:
        main()
