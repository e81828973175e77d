"""How much next-day signal the Chicago data leaves beyond each cell's long-run rate.

Issue 4 asks for `etas-grid` or `sepp` to beat the best baseline (here `naive-longrun`) on
PAI@1 %, PAI@5 % and deviance for daily forecasts in police district 7. This script puts
numbers on why that does not happen, on the same store and target days as
`bench_models.py`:

1. **Near-repeat (Knox) table**: pairs of events within ``d`` metres and ``t`` days,
   observed over expected, the expectation from 20 random permutations of the event times
   (seeded). Values near 1 mean no space-time clustering to exploit.
2. **The fitted triggering**: `etas-grid` fitted at the last origin; θ (share of events
   triggered), ω (mean lag) and the share of the next day's forecast that comes from
   triggering rather than the background.
3. **A clairvoyant check**: each cell's mean over the *other* target days of the test
   half-year itself (it knows the test period's rates, which no forecast can) against
   `naive-longrun`, paired over the same days.
4. **Power**: the day-to-day standard deviation of paired PAI differences, and the
   smallest mean difference detectable with 80 % power at the number of target days
   (``2.8 · sd / √n``).

    .venv/bin/python benchmarks/chicago_limits.py

Writes ``benchmarks/results/chicago_limits.{md,json}``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chicago_store import build as build_chicago  # noqa: E402
from evaluation.bootstrap import bootstrap_mean_ci  # noqa: E402
from evaluation.metrics import score_forecast  # noqa: E402
from features.cube import cube_periods  # noqa: E402
from hotspot.pipeline import cube_from_store  # noqa: E402
from ingest.store import read_events  # noqa: E402
from models.registry import make_model  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
FIRST, LAST = "2016-07-01", "2016-12-31"
DISTANCES_M = (1.0, 50.0, 150.0, 300.0)
LAGS_DAYS = (1, 3, 7, 14, 30)
SEED = 20240601


def knox_table(events: pd.DataFrame, n_permutations: int = 20) -> pd.DataFrame:
    """Observed / expected pairs within each distance and lag (time-permutation null)."""
    xy = events[["x", "y"]].to_numpy(dtype=float)
    t = ((events["time"] - events["time"].min()) / pd.Timedelta(days=1)).to_numpy()
    tree = cKDTree(xy)
    rng = np.random.default_rng(SEED)
    lags = np.asarray(LAGS_DAYS, dtype=float)
    rows = []
    for distance in DISTANCES_M:
        pairs = tree.query_pairs(distance, output_type="ndarray")

        def close_in_time(times: np.ndarray, pairs: np.ndarray = pairs) -> np.ndarray:
            gap = np.abs(times[pairs[:, 0]] - times[pairs[:, 1]])
            return (gap[:, None] <= lags[None, :]).sum(axis=0)

        observed = close_in_time(t)
        expected = np.mean([close_in_time(rng.permutation(t))
                            for _ in range(n_permutations)], axis=0)
        for lag, obs, exp in zip(LAGS_DAYS, observed, expected, strict=True):
            rows.append({"distance_m": distance, "lag_days": lag, "observed": int(obs),
                         "expected": float(exp), "ratio": float(obs / exp),
                         "excess_share_of_events": float((obs - exp) / len(t))})
    return pd.DataFrame(rows)


def triggering(cube, events: pd.DataFrame, cutoff: pd.Period) -> dict[str, float]:
    model = make_model("etas-grid").fit(cube, cutoff, events=events)
    params = model.fitted_params()
    total = float(model.predict(1).values.sum())
    return {"theta": params["theta"], "omega_per_day": params["omega_per_day"],
            "mean_lag_hours": 24.0 / params["omega_per_day"],
            "next_day_total": total,
            "next_day_triggered_share": 1.0 - params["mu_total_per_day"] / total}


def clairvoyant(cube) -> tuple[pd.DataFrame, int]:
    """Per target day: PAI@1/5 % and deviance of naive-longrun and of the leave-one-out
    mean of the test days themselves."""
    counts = cube["counts"].values.astype(float)
    area, ids = cube["area_m2"].values, cube["cell"].values
    periods = cube_periods(cube)
    days = [i for i, p in enumerate(periods)
            if pd.Period(FIRST, "D") <= p <= pd.Period(LAST, "D")]
    test = counts[days]
    rows = []
    for j, i in enumerate(days):
        forecasts = {"naive-longrun": counts[:i].mean(axis=0),
                     "clairvoyant": (test.sum(axis=0) - test[j]) / (len(days) - 1)}
        for name, expected in forecasts.items():
            scored = score_forecast(expected, counts[i], area, ids, [0.01, 0.05])
            scored = scored[scored["metric"].isin(["pai", "poisson_deviance"])]
            for _, r in scored.iterrows():
                label = r["metric"] if np.isnan(r["coverage"]) else \
                    f"{r['metric']}@{r['coverage']:.0%}"
                rows.append({"day": j, "forecast": name, "metric": label, "value": r["value"]})
    return pd.DataFrame(rows), len(days)


def paired(table: pd.DataFrame) -> pd.DataFrame:
    wide = table.pivot_table(index=["metric", "day"], columns="forecast", values="value")
    rows = []
    for metric in wide.index.get_level_values(0).unique():
        part = wide.loc[metric].dropna()
        diff = (part["clairvoyant"] - part["naive-longrun"]).to_numpy()
        mean, low, high = bootstrap_mean_ci(diff, 2000, seed=0)
        sd = float(np.std(diff, ddof=1))
        rows.append({"metric": metric, "naive_longrun": part["naive-longrun"].mean(),
                     "clairvoyant": part["clairvoyant"].mean(), "difference": mean,
                     "ci_low": low, "ci_high": high, "sd_of_difference": sd,
                     "n_days": int(diff.size),
                     "detectable_80pct": 2.8 * sd / np.sqrt(diff.size)})
    return pd.DataFrame(rows)


def markdown(knox: pd.DataFrame, trig: dict[str, float], checks: pd.DataFrame,
             n_events: int) -> str:
    ratio = knox.pivot(index="distance_m", columns="lag_days", values="ratio")
    excess = knox.pivot(index="distance_m", columns="lag_days", values="excess_share_of_events")
    lines = ["## Chicago district 7: the next-day signal beyond the long-run rate", "",
             f"{n_events:,} events 2010–2016 in the district 7 hull; target days {FIRST}.."
             f"{LAST}.", "", "### 1. Near-repeat (Knox) ratios, observed / expected pairs",
             "", "| within | " + " | ".join(f"{lag} d" for lag in ratio.columns) + " |",
             "|---|" + "---|" * len(ratio.columns)]
    for distance, row in ratio.iterrows():
        lines.append(f"| {distance:g} m | " + " | ".join(f"{v:.2f}" for v in row) + " |")
    lines += ["", "Excess pairs as a share of all events (observed − expected) / N:", "",
              "| within | " + " | ".join(f"{lag} d" for lag in excess.columns) + " |",
              "|---|" + "---|" * len(excess.columns)]
    for distance, row in excess.iterrows():
        lines.append(f"| {distance:g} m | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    lines += ["", "### 2. Fitted triggering (etas-grid at the last origin)", "",
              f"θ = {trig['theta']:.4f}, ω = {trig['omega_per_day']:.2f} per day (mean lag "
              f"{trig['mean_lag_hours']:.1f} h); share of the next day's expected "
              f"{trig['next_day_total']:.2f} events that comes from triggering: "
              f"{trig['next_day_triggered_share']:.2%}.", "",
              "### 3–4. Clairvoyant check and power (paired over target days)", "",
              "| metric | naive-longrun | clairvoyant | difference [95 % CI] | sd of difference "
              "| detectable with 80 % power |", "|---|---|---|---|---|---|"]
    for _, r in checks.iterrows():
        d = 5 if r["metric"] == "poisson_deviance" else 3
        lines.append(f"| {r['metric']} | {r['naive_longrun']:.{d}f} | {r['clairvoyant']:.{d}f}"
                     f" | {r['difference']:+.{d}f} [{r['ci_low']:+.{d}f}, {r['ci_high']:+.{d}f}]"
                     f" | {r['sd_of_difference']:.{d}f} | ±{r['detectable_80pct']:.{d}f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = build_chicago(7, Path(tmp) / "chicago-d7")
        cube = cube_from_store(store, 150.0, "D")
        events = read_events(store).dropna(subset=["x", "y"])
    knox = knox_table(events)
    trig = triggering(cube, events, pd.Period(LAST, "D") - 1)
    table, _ = clairvoyant(cube)
    checks = paired(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = markdown(knox, trig, checks, len(events))
    (RESULTS / "chicago_limits.md").write_text(text)
    (RESULTS / "chicago_limits.json").write_text(json.dumps(
        {"knox": knox.to_dict("records"), "triggering": trig,
         "clairvoyant": checks.to_dict("records")}, indent=2))
    print(text)


if __name__ == "__main__":
    main()
