"""Foundation benchmark: ingest throughput against plain pandas, cube build and a
12-origin baseline backtest on the real City of London data (``--data``, default
../shared/data beside the checkout).

    .venv/bin/python benchmarks/bench_foundation.py [--out benchmarks/results] [--data DIR]

Writes ``foundation.json`` under ``--out`` (and nothing elsewhere) and prints a table.
Timings, not tests.
"""

from __future__ import annotations

import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from _common import city_area, make_parser, need, write_json

from hotspot.evaluation.backtest import backtest
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.pipeline import cube_from_store

BASELINES = ["naive-last", "naive-mean", "naive-longrun"]


def _best_of(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``n`` runs of ``fn`` (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(n):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def main(argv: list[str] | None = None) -> None:
    args = make_parser(__doc__).parse_args(argv)
    police_uk = need(args.data, "police-uk")
    files = sorted(police_uk.glob("*/*-street.csv"))
    area = city_area(args.data)
    pandas_s, frames = _best_of(3, lambda: [pd.read_csv(f) for f in files])
    n_rows = sum(len(f) for f in frames)

    with tempfile.TemporaryDirectory() as tmp:
        ingest_s, report = _best_of(
            3, lambda: ingest_police_uk([police_uk], Path(tmp) / "store", area=area))
        assert report.n_rows == n_rows
        cube_s, cube = _best_of(3, lambda: cube_from_store(Path(tmp) / "store", 150.0, "M"))
        backtest_s, result = _best_of(
            3, lambda: backtest(cube, BASELINES, "2020-01", "2020-12", n_bootstrap=2000))

    pai5 = result.summary_table.query("metric == 'pai' and coverage == 0.05")
    figures = {
        "machine": f"{platform.machine()}, python {platform.python_version()}",
        "files": len(files),
        "rows": n_rows,
        "pandas_read_csv_s": round(pandas_s, 3),
        "pandas_rows_per_s": round(n_rows / pandas_s),
        "ingest_s": round(ingest_s, 3),
        "ingest_rows_per_s": round(n_rows / ingest_s),
        "ingest_events": report.n_events,
        "ingest_quarantined": report.n_quarantined,
        "cube_s": round(cube_s, 3),
        "cube_shape": dict(cube.sizes),
        "backtest_12_origins_3_models_s": round(backtest_s, 3),
        "pai_at_5pct_2020": {
            row.model: [round(row.mean, 3), round(row.ci_low, 3), round(row.ci_high, 3)]
            for row in pai5.itertuples()
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out = write_json(args.out, "foundation.json", figures, indent=2)
    for key, value in figures.items():
        print(f"{key:>32}: {value}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
