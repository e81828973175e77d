"""Model comparison on real data (issue 4): every model against the baselines.

- City of London police.uk (monthly, 150 m cells, 2020 held out: 12 origins);
- Chicago aggravated assaults, police district 7 hull (daily, 150 m cells, origins over
  the last 6 months of 2016, every ``--chicago-step`` days). Model variants were chosen
  on the year before (``--chicago-first 2015-07-01 --chicago-last 2016-06-30 --tag
  _validation``) and run once on the test half-year (``--chicago-step 1 --tag _test``).

For each data set: mean and 95 % bootstrap CI of PAI@1/5/10 %, PEI@5 % and deviance per
model, fit+predict seconds per origin, and the paired difference (with CI) of each model
against the best baseline. Results go to ``models_<data>.{csv,md}`` under ``--out``
(default ``benchmarks/results``) and nowhere else; the data come from ``--data`` (default
../shared/data beside the checkout).

    .venv/bin/python benchmarks/bench_models.py [--only city|chicago] [--chicago-step 7]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import ingest_city, make_parser, write_text
from chicago_store import build as build_chicago

from hotspot.evaluation.backtest import backtest
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.compare import best_baseline, paired_differences
from hotspot.evaluation.parallel import param_set_label
from hotspot.features.cube import cube_periods
from hotspot.ingest.store import read_events
from hotspot.models.params import parse_param_grid
from hotspot.pipeline import cube_from_store

CITY_MODELS = ["naive-last", "naive-mean", "naive-longrun", "etas-grid", "sepp",
               "self-exciting-counts", "prospective-hotspot", "kde", "glm", "gbm", "ensemble",
               "rfg-harm"]
# The ensemble's internal backtest refits glm and gbm 7 times per origin (~25 s per daily
# origin here): with every model, run the weekly origins (the default step).
CHICAGO_MODELS = ["naive-last", "naive-mean", "naive-longrun", "etas-grid",
                  "etas-grid:background_time=seasonal", "sepp",
                  "sepp:background_time=seasonal", "self-exciting-counts",
                  "prospective-hotspot", "kde", "glm", "gbm", "ensemble"]
TABLE = [("pai", 0.01), ("pai", 0.05), ("pai", 0.10), ("pei", 0.05),
         ("poisson_deviance", None)]


def _cell(summary: pd.DataFrame, model: str, metric: str, coverage: float | None) -> str:
    rows = summary[(summary["model"] == model) & (summary["metric"] == metric)]
    if coverage is not None:
        rows = rows[np.isclose(rows["coverage"].astype(float), coverage)]
    r = rows.iloc[0]
    digits = _digits(metric)
    return f"{r['mean']:.{digits}f} [{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}]"


def _digits(metric: str) -> int:
    """Deviance per cell-day is ~0.04 on daily data, and differences ~1e-4: show them."""
    return 5 if metric == "poisson_deviance" else 3


def report(name: str, metrics: pd.DataFrame, fit_seconds: pd.DataFrame, note: str) -> str:
    """The markdown section of one data set: the metrics table and paired differences."""
    summary = summarise(metrics, n_resamples=2000, seed=0)
    times = fit_seconds.groupby("model")["seconds"].agg(["mean", "max"])
    header = ["model", *[f"{m}@{c:.0%}" if c else m for m, c in TABLE], "fit+predict s (mean/max)"]
    lines = [f"## {name}", "", note, "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for model in metrics["model"].unique():
        cells = [_cell(summary, model, m, c) for m, c in TABLE]
        t = times.loc[model]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {t['mean']:.2f} / {t['max']:.2f} |")
    lines += ["", "Paired difference against the best baseline on that metric "
              "(mean over origins, 95 % bootstrap CI; * = CI clear of zero in the model's "
              "favour):", "", "| model | metric | best baseline | difference |",
              "|---|---|---|---|"]
    for metric, coverage in (("pai", 0.01), ("pai", 0.05), ("poisson_deviance", None)):
        reference = best_baseline(summary, metric, coverage)
        for model in metrics["model"].unique():
            if model.startswith("naive-"):
                continue
            diff = paired_differences(metrics, model, reference, seed=0)
            row = diff[diff["metric"] == metric]
            if coverage is not None:
                row = row[np.isclose(row["coverage"].astype(float), coverage)]
            r = row.iloc[0]
            label = f"{metric}@{coverage:.0%}" if coverage else metric
            star = " *" if r["better"] else ""
            d = _digits(metric)
            lines.append(f"| {model} | {label} | {reference} | {r['mean_diff']:+.{d}f} "
                         f"[{r['ci_low']:+.{d}f}, {r['ci_high']:+.{d}f}]{star} |")
    return "\n".join(lines) + "\n"


def run_city(data: Path, tmp: Path, out: Path) -> str:
    """Backtest every model on the City of London; the metrics go to ``out``."""
    ingest_city(data, tmp / "city")
    cube = cube_from_store(tmp / "city", 150.0, "M")
    events = read_events(tmp / "city")
    started = time.perf_counter()
    result = backtest(cube, CITY_MODELS, "2020-01", "2020-12", events=events, n_bootstrap=2000)
    note = (f"City of London, {cube.sizes['cell']} cells of 150 m, monthly; targets 2020-01.."
            f"2020-12 (12 origins); total {time.perf_counter() - started:.0f} s.")
    write_text(out, "models_city.csv", result.metrics.to_csv(index=False))
    return report("City of London (police.uk, monthly), 2020 held out", result.metrics,
                  result.fit_seconds, note)


def model_variants(models: list[str], params: list[str] | None) -> list[tuple[str, str, dict]]:
    """``(label, model, parameters)`` for each model and each parameter set the one
    ``--param MODEL.KEY=V1|V2`` grammar gives it, e.g. ``etas-grid[background_time=seasonal]``
    (a model may appear several times with different parameters)."""
    grid = parse_param_grid(params)
    variants = []
    for name in models:
        for values in grid.get(name) or [{}]:
            label = f"{name}[{param_set_label(values)}]" if values else name
            variants.append((label, name, values))
    return variants


def backtest_variants(cube: Any, variants: list[tuple[str, str, dict]], target: pd.Period,
                      events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One backtest per model variant, labelled by the variant."""
    metrics, fits = [], []
    for label, name, params in variants:
        result = backtest(cube, [name], target, target, events=events, n_bootstrap=100,
                          model_params={name: params})
        metrics.append(result.metrics.assign(model=label))
        fits.append(result.fit_seconds.assign(model=label))
    return pd.concat(metrics, ignore_index=True), pd.concat(fits, ignore_index=True)


def run_chicago(data: Path, tmp: Path, out: Path, step: int,
                variants: list[tuple[str, str, dict]], tag: str, first: str, last: str) -> str:
    """Backtest ``models`` on Chicago district 7, one target every ``step`` days."""
    store = build_chicago(data, 7, tmp / "chicago-d7")
    cube = cube_from_store(store, 150.0, "D")
    events = read_events(store)
    periods = cube_periods(cube)
    targets = [p for p in periods if pd.Period(first, "D") <= p <= pd.Period(last, "D")][::step]
    metrics, fits = [], []
    started = time.perf_counter()
    for target in targets:  # one target per backtest call: origins every `step` days
        target_metrics, target_fits = backtest_variants(cube, variants, target, events)
        metrics.append(target_metrics)
        fits.append(target_fits)
        print(f"chicago {target}: done", flush=True)
    metrics_all = pd.concat(metrics, ignore_index=True)
    write_text(out, f"models_chicago{tag}.csv", metrics_all.to_csv(index=False))
    note = (f"Chicago district 7 hull, {cube.sizes['cell']} cells of 150 m, daily; "
            f"{len(targets)} next-day targets {first}..{last} every {step} days; "
            f"total {time.perf_counter() - started:.0f} s.")
    return report("Chicago aggravated assaults (daily)", metrics_all,
                  pd.concat(fits, ignore_index=True), note)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--only", choices=["city", "chicago"])
    parser.add_argument("--chicago-step", type=int, default=7)
    parser.add_argument("--chicago-models", help="comma-separated models for the Chicago run")
    parser.add_argument("--param", action="append", metavar="MODEL.KEY=V1|V2",
                        help="model parameters, repeatable; each value is one variant, e.g. "
                             "etas-grid.background_time=constant|seasonal")
    parser.add_argument("--chicago-first", default="2016-07-01", help="first target day")
    parser.add_argument("--chicago-last", default="2016-12-31", help="last target day")
    parser.add_argument("--tag", default="", help="suffix for the result files")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (("city", lambda: run_city(args.data, Path(tmp), args.out)),
                          ("chicago", lambda: run_chicago(
                              args.data, Path(tmp), args.out, args.chicago_step,
                              model_variants(args.chicago_models.split(",")
                                             if args.chicago_models else CHICAGO_MODELS,
                                             args.param), args.tag, args.chicago_first,
                              args.chicago_last))):
            if args.only in (None, name):
                text = run()
                suffix = args.tag if name == "chicago" else ""
                write_text(args.out, f"models_{name}{suffix}.md", text)
                print(text)


if __name__ == "__main__":
    main()
