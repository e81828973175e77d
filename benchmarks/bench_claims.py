"""Validation of the claim-check estimators on real data (``--data``, default
../shared/data beside the checkout).

    .venv/bin/python benchmarks/bench_claims.py            # full run (3-10 minutes, 2 cores)
    .venv/bin/python benchmarks/bench_claims.py --quick    # a smoke run (~1 minute)

For each data set, repeatedly draw a random treated area of real polygons and a random
six-month window:

* Chicago aggravated assaults 2010-2016 (timestamped, counted by month): one police
  district; the other districts are the candidate controls (500 m ring);
* City of London police.uk 2017-2020 (monthly): 1 to 3 neighbouring wards; the other
  wards are the candidate controls (100 m ring: a 500 m one leaves almost none);

and run every effect method (ITS, comparative ITS, structural time series, DiD by hand
and by pyfixest, synthetic control by hand and - on the first ``--pysyncon-draws`` draws -
with pysyncon's weights, placebo in time). Each draw is analysed

* unmodified - a *null* test: nothing happened, so a p-value below 0.05 is a false
  positive and an interval should contain 1;
* after thinning the treated area's events in the window at random by 12 % and by 25 %
  (seeded; each event kept with probability 0.88 / 0.75) - a *planted* effect whose true
  rate ratio is known: bias (mean estimate - truth), 95 % CI coverage and the share
  detected (p < 0.05), next to the mean power the power module predicted.

The calibration rule (``hotspot.evaluation.claims.calibration.judge``) then marks each
method calibrated or not, and the verdict of every analysis is recomputed under that new
table. The two data sets run in two processes (``nice`` them on a shared machine).

Writes ``claims.json``, ``claims.md`` and a new calibration table ``calibration.json``
under ``--out`` (default ``benchmarks/results``) and nothing anywhere else. The table
``evaluate_claim`` ships (its notes carry each method's measured false-positive rate and
coverage, and it marks badly calibrated methods) is not touched: to adopt a new one from a
full run, copy it over the shipped one,

    cp benchmarks/results/calibration.json evaluation/claims/calibration.json

and commit it with ``claims.md``. The BEFORE columns come from ``claims_before.json`` in
``--out`` (the previous run's ``claims.json``), when present. Everything is seeded
(``--seed``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny matrices: BLAS threads only cost
os.environ.setdefault("OMP_NUM_THREADS", "1")

import json
import multiprocessing
import platform
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
from _common import make_parser, write_json, write_text
from claims_draws import LOADERS, run_dataset, verdict_rows
from claims_summary import (
    calibration,
    covid_split,
    markdown,
    summarise,
    verdict_table,
)


def _one(name: str, data_dir: Path, n_null: int, n_effect: int, seed: int,
         n_slow: int) -> tuple[list, list, list]:
    """Load and run one data set (in its own process)."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data = LOADERS[name](data_dir, Path(tmp))
        print(f"{name}: {len(data.events)} events, {len(data.months)} months, "
              f"{len(data.units)} units (loaded in {time.perf_counter() - t0:.0f} s)",
              flush=True)
        kept: list[dict[str, Any]] = []
        timings: list[dict[str, Any]] = []
        rows = run_dataset(data, n_null, n_effect, seed, n_slow=n_slow, kept=kept,
                           timings=timings)
    return rows, kept, timings


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--null", type=int, default=200, help="null draws per data set")
    parser.add_argument("--effect", type=int, default=60,
                        help="draws per data set that also get the planted effects")
    parser.add_argument("--datasets", default="chicago,city")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--pysyncon-draws", type=int, default=30,
                        help="draws per data set that also run synth_pysyncon (slow)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (one per data set)")
    parser.add_argument("--quick", action="store_true", help="20 null / 10 planted draws")
    args = parser.parse_args(argv)
    if args.quick:
        args.null, args.effect, args.pysyncon_draws = 20, 10, 5
    started = time.perf_counter()
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    jobs = [(name, args.data, args.null, min(args.effect, args.null), args.seed + k,
             args.pysyncon_draws) for k, name in enumerate(names)]
    if min(args.jobs, len(jobs)) > 1:
        # spawn, not fork: a forked child of a process with BLAS/numba threads can deadlock
        with ProcessPoolExecutor(min(args.jobs, len(jobs)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_one, *zip(*jobs, strict=True)))
    else:
        results = [_one(*job) for job in jobs]
    rows = [r for res in results for r in res[0]]
    kept = [k for res in results for k in res[1]]
    timings = [t for res in results for t in res[2]]
    frame = pd.DataFrame(rows)
    summary = summarise(frame)
    n_by = {d: int(frame[(frame["dataset"] == d) & (frame["condition"] == "null")]["draw"]
                   .nunique()) for d in names}
    cal = calibration(summary, n_by)
    verdicts = verdict_table(pd.DataFrame(verdict_rows(kept, cal["methods"])))
    runtime = time.perf_counter() - started
    before_path = args.out / "claims_before.json"
    before = json.loads(before_path.read_text()) if before_path.is_file() else None
    meta = {"seed": args.seed, "runtime_s": runtime, "n_null": args.null,
            "n_effect": args.effect, "n_slow": args.pysyncon_draws, "datasets": names,
            "machine": f"{platform.machine()} {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}", "calibration": cal,
            "timings": timings, "before": before, "rows": frame}
    if "city" in names:
        meta["covid_null"] = covid_split(frame)
    payload = {"meta": {k: v for k, v in meta.items()
                        if k not in ("calibration", "before", "rows")},
               "summary": summary.to_dict(orient="records"),
               "verdicts": verdicts.to_dict(orient="records"), "calibration": cal}
    write_json(args.out, "claims.json", payload)
    text = markdown(summary, verdicts, meta)
    write_text(args.out, "claims.md", text)
    table = write_json(args.out, "calibration.json", cal)
    print(text)
    print(f"runtime {runtime:.0f} s; results in {args.out}; to ship the new calibration "
          f"table: cp {table} evaluation/claims/calibration.json")


if __name__ == "__main__":
    main()
