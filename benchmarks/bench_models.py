"""Model comparison on real data (issue 4): every model against the baselines.

- City of London police.uk (monthly, 150 m cells, 2020 held out: 12 origins);
- Chicago aggravated assaults, police district 7 hull (daily, 150 m cells, origins over
  the last 6 months of 2016, every ``--chicago-step`` days). Model variants were chosen
  on the year before (``--chicago-first 2015-07-01 --chicago-last 2016-06-30 --tag
  _validation``) and run once on the test half-year (``--chicago-step 1 --tag _test``).

For each data set: mean and 95 % bootstrap CI of PAI@1/5/10 %, PEI@5 % and deviance per
model, fit+predict seconds per origin, and the paired difference (with CI) of each model
against the best baseline. Results go to ``benchmarks/results/models_<data>.{csv,md}``.

    .venv/bin/python benchmarks/bench_models.py [--only city|chicago] [--chicago-step 7]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chicago_store import build as build_chicago  # noqa: E402
from hotspot.core.area import load_area  # noqa: E402
from hotspot.evaluation.backtest import backtest  # noqa: E402
from hotspot.evaluation.bootstrap import summarise  # noqa: E402
from hotspot.evaluation.compare import best_baseline, paired_differences  # noqa: E402
from hotspot.features.cube import cube_periods  # noqa: E402
from hotspot.ingest.police_uk import ingest_police_uk  # noqa: E402
from hotspot.ingest.store import read_events  # noqa: E402
from hotspot.models.registry import parse_param_value  # noqa: E402
from hotspot.pipeline import cube_from_store  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
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


def run_city(tmp: Path) -> str:
    area = load_area(SHARED / "boundaries" / "london_wards.zip", "BOROUGH=City of London")
    ingest_police_uk([SHARED / "police-uk"], tmp / "city", area=area)
    cube = cube_from_store(tmp / "city", 150.0, "M")
    events = read_events(tmp / "city")
    started = time.perf_counter()
    result = backtest(cube, CITY_MODELS, "2020-01", "2020-12", events=events, n_bootstrap=2000)
    note = (f"City of London, {cube.sizes['cell']} cells of 150 m, monthly; targets 2020-01.."
            f"2020-12 (12 origins); total {time.perf_counter() - started:.0f} s.")
    result.metrics.to_csv(RESULTS / "models_city.csv", index=False)
    return report("City of London (police.uk, monthly), 2020 held out", result.metrics,
                  result.fit_seconds, note)


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``etas-grid:background_time=seasonal:theta_init=0.2`` → name and parameters."""
    name, *pairs = spec.split(":")
    return name, {key: parse_param_value(text)
                  for key, _, text in (pair.partition("=") for pair in pairs)}


def backtest_specs(cube: Any, specs: list[str], target: pd.Period, events: pd.DataFrame
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One backtest per model spec, labelled by the spec (a model may appear twice with
    different parameters)."""
    metrics, fits = [], []
    for spec in specs:
        name, params = parse_spec(spec)
        result = backtest(cube, [name], target, target, events=events, n_bootstrap=100,
                          model_params={name: params})
        metrics.append(result.metrics.assign(model=spec))
        fits.append(result.fit_seconds.assign(model=spec))
    return pd.concat(metrics, ignore_index=True), pd.concat(fits, ignore_index=True)


def run_chicago(tmp: Path, step: int, models: list[str], tag: str, first: str, last: str
                ) -> str:
    store = build_chicago(7, tmp / "chicago-d7")
    cube = cube_from_store(store, 150.0, "D")
    events = read_events(store)
    periods = cube_periods(cube)
    targets = [p for p in periods if pd.Period(first, "D") <= p <= pd.Period(last, "D")][::step]
    metrics, fits = [], []
    started = time.perf_counter()
    for target in targets:  # one target per backtest call: origins every `step` days
        target_metrics, target_fits = backtest_specs(cube, models, target, events)
        metrics.append(target_metrics)
        fits.append(target_fits)
        print(f"chicago {target}: done", flush=True)
    metrics_all = pd.concat(metrics, ignore_index=True)
    metrics_all.to_csv(RESULTS / f"models_chicago{tag}.csv", index=False)
    note = (f"Chicago district 7 hull, {cube.sizes['cell']} cells of 150 m, daily; "
            f"{len(targets)} next-day targets {first}..{last} every {step} days; "
            f"total {time.perf_counter() - started:.0f} s.")
    return report("Chicago aggravated assaults (daily)", metrics_all,
                  pd.concat(fits, ignore_index=True), note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["city", "chicago"])
    parser.add_argument("--chicago-step", type=int, default=7)
    parser.add_argument("--chicago-models",
                        help="comma-separated model specs for the Chicago run; a spec may set "
                             "parameters: etas-grid:background_time=seasonal")
    parser.add_argument("--chicago-first", default="2016-07-01", help="first target day")
    parser.add_argument("--chicago-last", default="2016-12-31", help="last target day")
    parser.add_argument("--tag", default="", help="suffix for the result files")
    args = parser.parse_args()
    if not SHARED.exists():
        sys.exit(f"needs {SHARED}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, run in (("city", lambda: run_city(Path(tmp))),
                          ("chicago", lambda: run_chicago(
                              Path(tmp), args.chicago_step,
                              args.chicago_models.split(",") if args.chicago_models
                              else CHICAGO_MODELS, args.tag, args.chicago_first,
                              args.chicago_last))):
            if args.only in (None, name):
                text = run()
                suffix = args.tag if name == "chicago" else ""
                (RESULTS / f"models_{name}{suffix}.md").write_text(text)
                print(text)


if __name__ == "__main__":
    main()
