"""Validation of the claim-check estimators on real data (``--data``, default
../shared/data beside the checkout).

    .venv/bin/python benchmarks/bench_claims.py            # full run (~10 minutes)
    .venv/bin/python benchmarks/bench_claims.py --quick    # a smoke run (~1 minute)

For each data set, repeatedly draw a random treated area and a random six-month window:

* Chicago aggravated assaults 2010-2016 (timestamped, counted by month): a 3 km square
  centred on a random 500 m cell holding at least 100 events (uniform over such cells);
* City of London police.uk 2017-2020 (monthly): one random City ward, or it and a
  neighbouring ward (a set of wards).

and run every method with the defaults of ``evaluate_claim`` (auto controls, 500 m
buffer, up to 48 pre-period months). Each draw is analysed

* unmodified - a *null* test: nothing happened, so a p-value below 0.05 is a false
  positive and an interval should contain 1;
* after thinning the treated area's events in the window at random by 12 % and by 25 %
  (seeded; each event kept with probability 0.88 / 0.75) - a *planted* effect whose true
  rate ratio is known: bias (mean estimate - truth), 95 % CI coverage and the share
  detected (p < 0.05), next to the mean power the power module predicted.

Writes ``claims.json``, ``claims.md`` and a new calibration table ``calibration.json``
under ``--out`` (default ``benchmarks/results``) and nothing anywhere else. The table
``evaluate_claim`` ships (its notes carry each method's measured false-positive rate and
coverage, and it marks badly calibrated methods) is not touched: to adopt a new one from a
full run, copy it over the shipped one,

    cp benchmarks/results/calibration.json evaluation/claims/calibration.json

and commit it with ``claims.md``. Everything is seeded (``--seed``).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny matrices: BLAS threads only cost
os.environ.setdefault("OMP_NUM_THREADS", "1")

import platform
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import make_parser, write_json, write_text
from claims_draws import LOADERS, run_dataset
from claims_summary import (
    calibration,
    covid_split,
    markdown,
    summarise,
    verdict_table,
)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--null", type=int, default=200, help="null draws per data set")
    parser.add_argument("--effect", type=int, default=60,
                        help="draws per data set that also get the planted effects")
    parser.add_argument("--datasets", default="chicago,city")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--quick", action="store_true", help="20 null / 10 planted draws")
    args = parser.parse_args(argv)
    if args.quick:
        args.null, args.effect = 20, 10
    started = time.perf_counter()
    rows: list[dict] = []
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        for k, name in enumerate(names):
            t0 = time.perf_counter()
            data = LOADERS[name](args.data, Path(tmp))
            print(f"{name}: {len(data.events)} events, {len(data.months)} months "
                  f"(loaded in {time.perf_counter() - t0:.0f} s)", flush=True)
            rows += run_dataset(data, args.null, min(args.effect, args.null), args.seed + k)
    frame = pd.DataFrame(rows)
    summary = summarise(frame)
    verdicts = verdict_table(frame)
    n_by = {d: int(frame[(frame["dataset"] == d) & (frame["condition"] == "null")]["draw"]
                   .nunique()) for d in names}
    cal = calibration(summary, n_by)
    runtime = time.perf_counter() - started
    meta = {"seed": args.seed, "runtime_s": runtime, "n_null": args.null,
            "n_effect": args.effect, "datasets": names,
            "machine": f"{platform.machine()} {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}", "calibration": cal}
    if "city" in names:
        meta["covid_null"] = covid_split(frame)
    payload = {"meta": {k: v for k, v in meta.items() if k != "calibration"},
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
