"""How much signal the held-out data leaves beyond the best baseline: the limits issue 4's
performance targets run into, in numbers.

Issue 4 asks for `etas-grid` or `sepp` to beat the best baseline (`naive-longrun`) on
PAI@1 %, PAI@5 % and deviance for daily forecasts in Chicago police district 7, and the best
model to beat the best baseline (`naive-mean`) on PAI@5 % and deviance on the City of
London, 2020 held out. On the same stores and target periods as `bench_models.py`:

1. **Near-repeat (Knox) table** (Chicago; the City has no times within a month): pairs of
   events within ``d`` metres and ``t`` days, observed over expected, the expectation from
   20 random permutations of the event times (seeded). Values near 1 mean no space-time
   clustering to exploit.
2. **The fitted triggering** (Chicago): `etas-grid` fitted at the last origin; θ (share of
   events triggered), ω (mean lag) and the share of the next day's forecast that comes
   from triggering rather than the background.
3. **A clairvoyant check**: each cell's mean over the *other* target periods of the test
   window itself (it knows the held-out period's own rates, which no forecast can) against
   the best baseline, paired over the same periods.
4. **Power**: the period-to-period standard deviation of those paired differences, and the
   smallest mean difference detectable with 80 % power at the number of target periods
   (``2.8 · sd / √n``).

    .venv/bin/python benchmarks/limits.py [--out benchmarks/results] [--data DIR]

Writes ``limits.{md,json}`` under ``--out`` and nothing elsewhere; the data come from
``--data`` (default ../shared/data beside the checkout).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from _common import ingest_city, make_parser, write_json, write_text
from chicago_store import build as build_chicago
from scipy.spatial import cKDTree

from hotspot.core.periods import to_period
from hotspot.evaluation.bootstrap import bootstrap_mean_ci
from hotspot.evaluation.metrics import score_forecast
from hotspot.features.cube import cube_periods
from hotspot.ingest.store import read_events
from hotspot.models.registry import make_model
from hotspot.pipeline import cube_from_store

DISTANCES_M = (1.0, 50.0, 150.0, 300.0)
LAGS_DAYS = (1, 3, 7, 14, 30)
SEED = 20240601


@dataclass(frozen=True)
class HeldOut:
    """One data set's test window and the baseline to beat there."""

    name: str
    first: str
    last: str
    reference: str


CHICAGO = HeldOut("Chicago district 7 (daily)", "2016-07-01", "2016-12-31", "naive-longrun")
CITY = HeldOut("City of London (monthly)", "2020-01", "2020-12", "naive-mean")


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


def triggering(cube: xr.Dataset, events: pd.DataFrame, cutoff: pd.Period) -> dict[str, float]:
    model = make_model("etas-grid").fit(cube, cutoff, events=events)
    params = model.fitted_params()
    total = float(model.predict(1).values.sum())
    return {"theta": params["theta"], "omega_per_day": params["omega_per_day"],
            "mean_lag_hours": 24.0 / params["omega_per_day"],
            "next_day_total": total,
            "next_day_triggered_share": 1.0 - params["mu_total_per_day"] / total}


def clairvoyant(cube: xr.Dataset, held_out: HeldOut) -> pd.DataFrame:
    """Per target period: PAI@1/5 % and deviance of the reference baseline and of the
    leave-one-out mean of the target periods themselves."""
    freq = cube.attrs["freq"]
    counts = cube["counts"].values.astype(float)
    area, ids = cube["area_m2"].values, cube["cell"].values
    periods = cube_periods(cube)
    first, last = to_period(held_out.first, freq), to_period(held_out.last, freq)
    targets = [i for i, p in enumerate(periods) if first <= p <= last]
    test = counts[targets]
    rows = []
    for j, i in enumerate(targets):
        reference = make_model(held_out.reference).fit(cube, periods[i - 1]).predict(1)
        forecasts = {"reference": reference.values[0],
                     "clairvoyant": (test.sum(axis=0) - test[j]) / (len(targets) - 1)}
        for name, expected in forecasts.items():
            scored = score_forecast(expected, counts[i], area, ids, [0.01, 0.05])
            scored = scored[scored["metric"].isin(["pai", "poisson_deviance"])]
            for _, r in scored.iterrows():
                label = r["metric"] if np.isnan(r["coverage"]) else \
                    f"{r['metric']}@{r['coverage']:.0%}"
                rows.append({"period": j, "forecast": name, "metric": label,
                             "value": r["value"]})
    return paired(pd.DataFrame(rows))


def paired(table: pd.DataFrame) -> pd.DataFrame:
    wide = table.pivot_table(index=["metric", "period"], columns="forecast", values="value")
    rows = []
    for metric in wide.index.get_level_values(0).unique():
        part = wide.loc[metric].dropna()
        diff = (part["clairvoyant"] - part["reference"]).to_numpy()
        mean, low, high = bootstrap_mean_ci(diff, 2000, seed=0)
        sd = float(np.std(diff, ddof=1))
        rows.append({"metric": metric, "reference": part["reference"].mean(),
                     "clairvoyant": part["clairvoyant"].mean(), "difference": mean,
                     "ci_low": low, "ci_high": high, "sd_of_difference": sd,
                     "n_periods": int(diff.size),
                     "detectable_80pct": 2.8 * sd / np.sqrt(diff.size)})
    return pd.DataFrame(rows)


def _grid(table: pd.DataFrame, column: str, fmt: str) -> list[str]:
    wide = table.pivot(index="distance_m", columns="lag_days", values=column)
    lines = ["| within | " + " | ".join(f"{lag} d" for lag in wide.columns) + " |",
             "|---|" + "---|" * len(wide.columns)]
    for distance, row in wide.iterrows():
        lines.append(f"| {distance:g} m | " + " | ".join(format(v, fmt) for v in row) + " |")
    return lines


def _checks(held_out: HeldOut, checks: pd.DataFrame) -> list[str]:
    lines = [f"| metric | {held_out.reference} | clairvoyant | difference [95 % CI] "
             "| sd of difference | detectable with 80 % power |", "|---|---|---|---|---|---|"]
    for _, r in checks.iterrows():
        d = 5 if r["metric"] == "poisson_deviance" else 3
        lines.append(f"| {r['metric']} | {r['reference']:.{d}f} | {r['clairvoyant']:.{d}f}"
                     f" | {r['difference']:+.{d}f} [{r['ci_low']:+.{d}f}, {r['ci_high']:+.{d}f}]"
                     f" | {r['sd_of_difference']:.{d}f} | ±{r['detectable_80pct']:.{d}f} |")
    return lines


def markdown(knox: pd.DataFrame, trig: dict[str, float], checks: dict[str, pd.DataFrame],
             n_events: int) -> str:
    lines = ["## The signal left beyond the best baseline", "",
             f"### Chicago district 7: {n_events:,} events 2010–2016; target days "
             f"{CHICAGO.first}..{CHICAGO.last}", "",
             "Near-repeat (Knox) ratios, observed / expected pairs:", "",
             *_grid(knox, "ratio", ".2f"), "",
             "Excess pairs as a share of all events, (observed − expected) / N:", "",
             *_grid(knox, "excess_share_of_events", ".3f"), "",
             f"Fitted triggering (etas-grid at the last origin): θ = {trig['theta']:.4f}, "
             f"ω = {trig['omega_per_day']:.2f} per day (mean lag "
             f"{trig['mean_lag_hours']:.1f} h); share of the next day's expected "
             f"{trig['next_day_total']:.2f} events that comes from triggering: "
             f"{trig['next_day_triggered_share']:.2%}.", "",
             "Clairvoyant check and power (paired over the target days):", "",
             *_checks(CHICAGO, checks[CHICAGO.name]), "",
             "The clairvoyant forecasts 0 in cells with no event on the other target days, "
             "which the deviance punishes: the check is about ranking (PAI).", "",
             f"### City of London: target months {CITY.first}..{CITY.last}", "",
             "Clairvoyant check and power (paired over the target months):", "",
             *_checks(CITY, checks[CITY.name])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = make_parser(__doc__).parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = build_chicago(args.data, 7, Path(tmp) / "chicago-d7")
        chicago = cube_from_store(store, 150.0, "D")
        events = read_events(store).dropna(subset=["x", "y"])
        ingest_city(args.data, Path(tmp) / "city")
        city = cube_from_store(Path(tmp) / "city", 150.0, "M")
    knox = knox_table(events)
    trig = triggering(chicago, events, pd.Period(CHICAGO.last, "D") - 1)
    checks = {CHICAGO.name: clairvoyant(chicago, CHICAGO), CITY.name: clairvoyant(city, CITY)}
    text = markdown(knox, trig, checks, len(events))
    write_text(args.out, "limits.md", text)
    write_json(args.out, "limits.json",
               {"knox": knox.to_dict("records"), "triggering": trig,
                "clairvoyant": {name: table.to_dict("records")
                                for name, table in checks.items()}}, indent=2)
    print(text)


if __name__ == "__main__":
    main()
