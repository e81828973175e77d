"""Validation of the claim-check estimators on real data (../shared/data).

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

Writes ``benchmarks/results/claims.json``, ``benchmarks/results/claims.md`` and the
calibration file ``evaluation/claims/calibration.json`` that ``evaluate_claim`` reads to
put each method's measured false-positive rate and coverage in its note (and to mark a
badly calibrated method). Everything is seeded (``--seed``).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # tiny matrices: BLAS threads only cost
os.environ.setdefault("OMP_NUM_THREADS", "1")

import dataclasses
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotspot.core.area import load_area  # noqa: E402
from hotspot.core.atomic import write_text_atomic  # noqa: E402
from hotspot.evaluation.claims import analyse_series  # noqa: E402
from hotspot.evaluation.claims.series import (  # noqa: E402
    build_series,
    check_window,
    month_codes,
    square_around,
    store_months,
)
from hotspot.ingest.store import read_events, read_store_meta  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CHICAGO = SHARED / "chicago" / "aggravated-assaults-2010-2016.csv.gz"
POLICE_UK = SHARED / "police-uk"
WARDS = SHARED / "boundaries" / "london_wards.zip"
RESULTS = ROOT / "benchmarks" / "results"
CALIBRATION = ROOT / "evaluation" / "claims" / "calibration.json"

ALPHA = 0.05
WINDOW = 6
MIN_PRE = 24  # drawn windows have at least this many pre-period months
EFFECTS = (0.88, 0.75)
#: Effect methods whose rate ratio, interval and p-value are validated.
METHODS = ("its", "did", "synthetic_control", "placebo_time")
RUN = ("its", "did", "synthetic_control", "placebo_time", "power", "mde")
SQUARE_M = 3000.0
MIN_TREATED_MEAN = 3.0
#: A method is badly calibrated when, on some data set, its false-positive rate at 5 % is
#: above 10 % with a binomial CI entirely above 5 %, or its planted-effect CI coverage is
#: below 85 % with a binomial CI entirely below 95 %.
BAD_FPR, BAD_COVERAGE = 0.10, 0.85


# ----------------------------------------------------------------------------- data sets
def load_chicago(tmp: Path) -> dict:
    from hotspot.ingest.csv_source import ingest_csv

    store = tmp / "chicago"
    ingest_csv(CHICAGO, store, time_col="date", lon_col="longitude", lat_col="latitude",
               category_col="loc_cat")
    events = read_events(store)
    # centres: the middles of the 500 m cells holding >= 100 events (about 1.2 a month),
    # drawn uniformly, so draws spread over the city instead of piling onto its densest
    # blocks (event-weighted draws repeat the same few places and correlate the tests)
    cell = 500.0
    ix = np.floor(events["x"].to_numpy() / cell).astype(int)
    iy = np.floor(events["y"].to_numpy() / cell).astype(int)
    cells, counts = np.unique(np.column_stack([ix, iy]), axis=0, return_counts=True)
    centres = (cells[counts >= 100] + 0.5) * cell
    return {"name": "chicago", "events": events, "months": store_months(events, {}),
            "meta": read_store_meta(store), "centres": centres}


def load_city(tmp: Path) -> dict:
    from hotspot.ingest.police_uk import ingest_police_uk

    store = tmp / "city"
    city = load_area(WARDS, "BOROUGH=City of London")
    ingest_police_uk([POLICE_UK], store, area=city)
    events = read_events(store)
    wards = city.parts[["NAME", "geometry"]].reset_index(drop=True)
    return {"name": "city", "events": events, "months": store_months(events, {}),
            "meta": read_store_meta(store), "wards": wards}


def draw_area(data: dict, rng: np.random.Generator):
    """A random treated area and its label."""
    if data["name"] == "chicago":
        centres = data["centres"]
        x, y = centres[int(rng.integers(len(centres)))]
        return square_around(x, y, SQUARE_M), f"square@{x:.0f},{y:.0f}"
    wards = data["wards"]
    i = int(rng.integers(len(wards)))
    geom = wards.geometry.iat[i]
    names = [wards["NAME"].iat[i]]
    if rng.random() < 0.5:
        touching = [j for j in range(len(wards))
                    if j != i and wards.geometry.iat[j].touches(geom)]
        if touching:
            j = int(rng.choice(touching))
            geom = geom.union(wards.geometry.iat[j])
            names.append(wards["NAME"].iat[j])
    return geom, "+".join(names)


def draw_window(months: pd.PeriodIndex, rng: np.random.Generator) -> tuple[pd.Period, pd.Period]:
    first_start = MIN_PRE
    last_start = len(months) - WINDOW
    s = int(rng.integers(first_start, last_start + 1))
    return months[s], months[s + WINDOW - 1]


# ----------------------------------------------------------------------------- one draw
def thin(series, codes: np.ndarray, keep_rr: float, rng: np.random.Generator):
    """The series with the treated area's window events each kept with prob ``keep_rr``."""
    post_idx = np.flatnonzero(series.post)
    in_window = (codes >= post_idx[0]) & (codes <= post_idx[-1])
    kept = rng.random(int(in_window.sum())) < keep_rr
    treated = series.treated.copy()
    removed = np.bincount(codes[in_window][~kept], minlength=len(treated))
    treated -= removed[: len(treated)]
    return dataclasses.replace(series, treated=treated)


def rows_for(result, dataset: str, draw: int, condition: str, true_rr: float,
             extra: dict) -> list[dict]:
    out = []
    for m in METHODS:
        e = result.details.get(m)
        if e is None:
            continue
        out.append({"dataset": dataset, "draw": draw, "condition": condition,
                    "true_rr": true_rr, "method": m, "estimate": e.estimate,
                    "ci_low": e.ci_low, "ci_high": e.ci_high, "p_value": e.p_value, **extra})
    power = result.details.get("power")
    out.append({"dataset": dataset, "draw": draw, "condition": condition, "true_rr": true_rr,
                "method": "power", "estimate": power.estimate if power else np.nan,
                "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan, **extra})
    out.append({"dataset": dataset, "draw": draw, "condition": condition, "true_rr": true_rr,
                "method": "verdict", "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "p_value": np.nan, "verdict": result.verdict.category, **extra})
    return out


def run_dataset(data: dict, n_null: int, n_effect: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    events = data["events"]
    months_all = data["months"]
    x = events["x"].to_numpy(float)
    y = events["y"].to_numpy(float)
    rows: list[dict] = []
    draw = 0
    attempts = 0
    started = time.perf_counter()
    while draw < n_null:
        attempts += 1
        geom, label = draw_area(data, rng)
        start, end = draw_window(months_all, rng)
        window = check_window(months_all, start, end, 12)
        series = build_series(events, geom, window, start, end)
        if series.treated[series.pre].mean() < MIN_TREATED_MEAN:
            continue
        inside = shapely.contains_xy(geom, x, y)
        codes = month_codes(events["time"][inside], window[0])
        covid = bool(start <= pd.Period("2020-06", "M") and end >= pd.Period("2020-03", "M"))
        extra = {"area": label, "start": str(start), "n_controls": series.n_controls,
                 "treated_mean": float(series.treated[series.pre].mean()), "covid": covid}
        for condition, rr in [("null", 1.0)] + ([(f"drop{round((1 - r) * 100)}", r)
                                                 for r in EFFECTS] if draw < n_effect else []):
            s = series if rr == 1.0 else thin(series, codes, rr, rng)
            claimed = rr if rr < 1 else EFFECTS[0]
            result = analyse_series(s, claimed, methods=RUN)
            rows += rows_for(result, data["name"], draw, condition, rr, extra)
        draw += 1
        if draw % 25 == 0:
            print(f"  {data['name']}: {draw}/{n_null} draws "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)
    print(f"  {data['name']}: {draw} draws from {attempts} attempts "
          f"({attempts - draw} areas with < {MIN_TREATED_MEAN:g} events/month redrawn)")
    return rows


# ----------------------------------------------------------------------------- summaries
def binom_ci(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return float(ci.low), float(ci.high)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    effect_rows = rows[rows["method"].isin(METHODS)]
    null_est = (effect_rows[effect_rows["condition"] == "null"]
                .set_index(["dataset", "method", "draw"])["estimate"])
    for (ds, method, cond), g in effect_rows.groupby(["dataset", "method", "condition"],
                                                     sort=False):
        true = float(g["true_rr"].iat[0])
        est = g["estimate"].to_numpy(float)
        ok = np.isfinite(est)
        has_ci = ok & np.isfinite(g["ci_low"].to_numpy(float))
        p = g["p_value"].to_numpy(float)
        sig = np.isfinite(p) & (p < ALPHA)
        sig_drop = sig & (est < 1)
        covered = (g["ci_low"] <= true) & (true <= g["ci_high"])
        n_ci = int(has_ci.sum())
        k_cov = int(covered[has_ci].sum())
        n_p = int(np.isfinite(p).sum())
        k_sig = int(sig.sum())
        cov_lo, cov_hi = binom_ci(k_cov, n_ci)
        sig_lo, sig_hi = binom_ci(k_sig, n_p)
        power = rows[(rows["dataset"] == ds) & (rows["condition"] == cond)
                     & (rows["method"] == "power")]["estimate"]
        paired = np.nan
        if cond != "null":  # planted / same draw's unmodified estimate: the estimator alone
            base = null_est.reindex(pd.MultiIndex.from_arrays(
                [g["dataset"], g["method"], g["draw"]])).to_numpy(float)
            ratio = est / base
            ratio = ratio[np.isfinite(ratio) & (base > 0)]
            paired = float(np.median(ratio)) if len(ratio) else np.nan
        out.append({
            "dataset": ds, "method": method, "condition": cond, "true_rr": true,
            "n": int(ok.sum()), "n_draws": len(g),
            "mean_estimate": float(np.mean(est[ok])) if ok.any() else np.nan,
            "bias": float(np.mean(est[ok]) - true) if ok.any() else np.nan,
            "median_bias": float(np.median(est[ok]) - true) if ok.any() else np.nan,
            "rmse_log": float(np.sqrt(np.mean((np.log(np.maximum(est[ok], 1e-9))
                                               - np.log(true)) ** 2))) if ok.any() else np.nan,
            "n_ci": n_ci, "coverage": k_cov / n_ci if n_ci else np.nan,
            "coverage_ci_low": cov_lo, "coverage_ci_high": cov_hi,
            "n_p": n_p, "share_significant": k_sig / n_p if n_p else np.nan,
            "significant_ci_low": sig_lo, "significant_ci_high": sig_hi,
            "share_significant_drop": float(sig_drop.sum() / n_p) if n_p else np.nan,
            "paired_ratio": paired,
            "mean_predicted_power": float(power.mean()) if cond != "null" else np.nan,
        })
    return pd.DataFrame(out)


def verdict_table(rows: pd.DataFrame) -> pd.DataFrame:
    v = rows[rows["method"] == "verdict"].copy()
    v["verdict"] = v["verdict"].str.replace(r" \(MDE .*\)$", " (MDE ...)", regex=True)
    table = (v.groupby(["dataset", "condition", "verdict"]).size()
             .rename("n").reset_index())
    table["share"] = table["n"] / table.groupby(["dataset", "condition"])["n"].transform("sum")
    return table


def calibration(summary: pd.DataFrame, n_by_dataset: dict[str, int]) -> dict:
    methods = {}
    for method in METHODS:
        s = summary[summary["method"] == method]
        parts, bad, detail = [], False, {}
        for ds, g in s.groupby("dataset", sort=False):
            null = g[g["condition"] == "null"].iloc[0]
            planted = g[g["condition"] != "null"]
            n_cov = int(planted["n_ci"].sum())
            cov = (float((planted["coverage"] * planted["n_ci"]).sum() / n_cov)
                   if n_cov else np.nan)
            cov_lo, cov_hi = binom_ci(int(round(cov * n_cov)), n_cov) if n_cov else (np.nan,
                                                                                      np.nan)
            fpr = float(null["share_significant"])
            too_many = fpr > BAD_FPR and null["significant_ci_low"] > ALPHA
            too_narrow = n_cov > 0 and cov < BAD_COVERAGE and cov_hi < 0.95
            bad = bad or bool(too_many or too_narrow)
            detail[ds] = {"false_positive_rate": fpr,
                          "false_drop_rate": float(null["share_significant_drop"]),
                          "fpr_ci": [null["significant_ci_low"], null["significant_ci_high"]],
                          "n_null_tests": int(null["n_p"]), "planted_coverage": cov,
                          "coverage_ci": [cov_lo, cov_hi], "n_planted": n_cov,
                          "too_many_false_positives": bool(too_many),
                          "intervals_too_narrow": bool(too_narrow)}
            parts.append(f"{ds}: false positives {fpr:.1%} "
                         f"[{null['significant_ci_low']:.1%}, {null['significant_ci_high']:.1%}] "
                         f"at alpha 5 % (false drops {null['share_significant_drop']:.1%}) "
                         f"over {int(null['n_p'])} null tests, 95 % CI coverage "
                         f"{cov:.0%} over {n_cov} planted effects")
        methods[method] = {"badly_calibrated": bad, "datasets": detail,
                           "summary": "; ".join(parts)}
    return {"generated_by": "benchmarks/bench_claims.py", "alpha": ALPHA,
            "rule": (f"badly calibrated: false-positive rate > {BAD_FPR:.0%} with its CI above "
                     f"5 %, or planted-effect coverage < {BAD_COVERAGE:.0%} with its CI below "
                     "95 %, on any data set"),
            "n_null_draws": n_by_dataset, "methods": methods}


def markdown(summary: pd.DataFrame, verdicts: pd.DataFrame, meta: dict) -> str:
    lines = ["# Claim-check validation", "",
             f"Generated by `benchmarks/bench_claims.py` (seed {meta['seed']}, "
             f"{meta['runtime_s']:.0f} s on {meta['machine']}). Random treated areas and "
             f"{WINDOW}-month windows with >= {MIN_PRE} pre-period months; Chicago: "
             f"{SQUARE_M / 1000:g} km squares (centred on a random 500 m cell with >= 100 "
             "events) of aggravated assaults 2010-2016 (monthly); City "
             "of London: one ward or two neighbouring wards, police.uk 2017-2020. Planted "
             "effects thin the treated area's window events at random (each kept with "
             "probability 0.88 or 0.75). Significant: p < 0.05.", "",
             "## False-positive rate (null: unmodified data)", "",
             "False-positive rate: share with p < 0.05 (two-sided; nominal 5 %). False drops: "
             "share significant *and* below 1 - what a claimed drop would wrongly be backed "
             "by (nominal 2.5 %). Random draws of real places include real local surges and "
             "dips, so these rates are an upper bound on pure miscalibration.", "",
             "| data set | method | n | false-positive rate [95 % CI] | false drops | "
             "CI covers 1 | mean estimate |", "|---|---|---|---|---|---|---|"]
    null = summary[summary["condition"] == "null"]
    for r in null.itertuples():
        lines.append(f"| {r.dataset} | {r.method} | {r.n_p} | {r.share_significant:.1%} "
                     f"[{r.significant_ci_low:.1%}, {r.significant_ci_high:.1%}] | "
                     f"{r.share_significant_drop:.1%} | "
                     f"{r.coverage:.1%} (n={r.n_ci}) | {r.mean_estimate:.3f} |")
    lines += ["", "## Planted effects: bias, coverage, detection", "",
              "Bias = mean estimate - true rate ratio; it includes whatever really happened "
              "in the draw's window. Paired = median of (estimate after thinning / the same "
              "draw's unmodified estimate): the estimator's own recovery of the planted "
              "multiplier. Predicted power: mean of the `power` row (design-adjusted NB test) "
              "at the planted size, to compare with the share detected by DiD.", "",
              "| data set | method | true rate ratio | n | mean estimate | bias | median bias "
              "| paired | RMSE (log) | 95 % CI coverage [CI] | detected (p<0.05) | "
              "predicted power |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary[summary["condition"] != "null"].itertuples():
        lines.append(f"| {r.dataset} | {r.method} | {r.true_rr:.2f} | {r.n} | "
                     f"{r.mean_estimate:.3f} | {r.bias:+.3f} | {r.median_bias:+.3f} | "
                     f"{r.paired_ratio:.3f} | "
                     f"{r.rmse_log:.3f} | {r.coverage:.1%} [{r.coverage_ci_low:.1%}, "
                     f"{r.coverage_ci_high:.1%}] | {r.share_significant:.1%} | "
                     f"{r.mean_predicted_power:.1%} |")
    if "covid_null" in meta:
        lines += ["", "## City of London: null tests with and without the Covid-19 dip", "",
                  "| method | windows touching 2020-03..06: false-positive rate (n) | other "
                  "windows (n) |", "|---|---|---|"]
        for m, (a, na, b, nb) in meta["covid_null"].items():
            lines.append(f"| {m} | {a:.1%} ({na}) | {b:.1%} ({nb}) |")
    lines += ["", "## Verdicts (claimed size: the planted one; for null draws a 12 % drop)", "",
              "| data set | condition | verdict | share |", "|---|---|---|---|"]
    for r in verdicts.itertuples():
        lines.append(f"| {r.dataset} | {r.condition} | {r.verdict} | {r.share:.1%} |")
    lines += ["", "## Calibration verdicts", ""]
    for m, c in meta["calibration"]["methods"].items():
        flag = "BADLY CALIBRATED" if c["badly_calibrated"] else "calibrated"
        lines.append(f"- **{m}**: {flag} - {c['summary']}")
    lines += ["", f"Rule: {meta['calibration']['rule']}.", ""]
    return "\n".join(lines)


def covid_split(rows: pd.DataFrame) -> dict:
    city = rows[(rows["dataset"] == "city") & (rows["condition"] == "null")
                & rows["method"].isin(METHODS)]
    out = {}
    for m, g in city.groupby("method", sort=False):
        sig = g["p_value"] < ALPHA
        valid = g["p_value"].notna()
        a = g["covid"] & valid
        b = ~g["covid"] & valid
        out[m] = (float(sig[a].mean()) if a.any() else np.nan, int(a.sum()),
                  float(sig[b].mean()) if b.any() else np.nan, int(b.sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--null", type=int, default=200, help="null draws per data set")
    parser.add_argument("--effect", type=int, default=60,
                        help="draws per data set that also get the planted effects")
    parser.add_argument("--datasets", default="chicago,city")
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--quick", action="store_true", help="20 null / 10 planted draws")
    parser.add_argument("--no-calibration", action="store_true",
                        help="do not write evaluation/claims/calibration.json")
    args = parser.parse_args()
    if args.quick:
        args.null, args.effect = 20, 10
    if not SHARED.exists():
        sys.exit(f"needs {SHARED}: run from a checkout with ../shared/data beside it")
    started = time.perf_counter()
    rows: list[dict] = []
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        for k, name in enumerate(names):
            t0 = time.perf_counter()
            data = {"chicago": load_chicago, "city": load_city}[name](Path(tmp))
            print(f"{name}: {len(data['events'])} events, {len(data['months'])} months "
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
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"meta": {k: v for k, v in meta.items() if k != "calibration"},
               "summary": summary.to_dict(orient="records"),
               "verdicts": verdicts.to_dict(orient="records"), "calibration": cal}
    write_text_atomic(RESULTS / "claims.json",
                      json.dumps(payload, indent=1, default=_jsonable, allow_nan=True))
    text = markdown(summary, verdicts, meta)
    write_text_atomic(RESULTS / "claims.md", text)
    if not args.no_calibration and not args.quick:
        write_text_atomic(CALIBRATION, json.dumps(cal, indent=1, default=_jsonable))
    print(text)
    print(f"runtime {runtime:.0f} s")


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


if __name__ == "__main__":
    main()
