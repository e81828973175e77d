"""Summaries of the claim-check validation (``bench_claims.py``): false-positive rates,
bias, coverage and detection per method, the calibration table ``evaluate_claim`` reads,
and the markdown report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from claims_draws import BUFFER_M, MAX_WARDS, METHODS, MIN_PRE, WINDOW
from scipy import stats

from hotspot.evaluation.claims.calibration import RULE, judge

ALPHA = 0.05


def binom_ci(k: int, n: int) -> tuple[float, float]:
    """Exact 95 % binomial CI of ``k`` successes in ``n`` (NaN when ``n`` is 0)."""
    if n == 0:
        return np.nan, np.nan
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return float(ci.low), float(ci.high)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Per data set, method and condition: bias, coverage, share significant, power."""
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
    """How often each verdict came out, per data set and condition."""
    v = rows[rows["method"] == "verdict"].copy()
    v["verdict"] = v["verdict"].str.replace(r" \(MDE .*\)$", " (MDE ...)", regex=True)
    table = (v.groupby(["dataset", "condition", "verdict"]).size()
             .rename("n").reset_index())
    table["share"] = table["n"] / table.groupby(["dataset", "condition"])["n"].transform("sum")
    return table


def calibration(summary: pd.DataFrame, n_by_dataset: dict[str, int]) -> dict[str, Any]:
    """The calibration table (``load_calibration`` reads its ``methods``; the rule is
    :func:`hotspot.evaluation.claims.calibration.judge`)."""
    methods = {}
    for method in METHODS:
        s = summary[summary["method"] == method]
        parts, detail = [], {}
        for ds, g in s.groupby("dataset", sort=False):
            null = g[g["condition"] == "null"].iloc[0]
            planted = g[g["condition"] != "null"]
            n_cov = int(planted["n_ci"].sum())
            cov = (float((planted["coverage"] * planted["n_ci"]).sum() / n_cov)
                   if n_cov else np.nan)
            cov_lo, cov_hi = binom_ci(int(round(cov * n_cov)), n_cov) if n_cov else (np.nan,
                                                                                      np.nan)
            n_est = int(planted["n"].sum())
            bias = (float((planted["bias"] * planted["n"]).sum() / n_est) if n_est
                    else np.nan)
            fpr = float(null["share_significant"]) if null["n_p"] else np.nan
            ci_fpr = 1 - float(null["coverage"]) if null["n_ci"] else np.nan
            detail[ds] = {"false_positive_rate": fpr, "ci_false_positive_rate": ci_fpr,
                          "false_drop_rate": float(null["share_significant_drop"]),
                          "fpr_ci": [null["significant_ci_low"], null["significant_ci_high"]],
                          "n_null_tests": int(null["n_p"]), "planted_coverage": cov,
                          "coverage_ci": [cov_lo, cov_hi], "n_planted": n_cov,
                          "planted_bias": bias}
            parts.append(f"{ds}: false positives {fpr:.1%} "
                         f"[{null['significant_ci_low']:.1%}, {null['significant_ci_high']:.1%}] "
                         f"at alpha 5 % (false drops {null['share_significant_drop']:.1%}) "
                         f"over {int(null['n_p'])} null tests, 95 % CI coverage "
                         f"{cov:.0%} over {n_cov} planted effects")
        ok, why = judge(detail)
        methods[method] = {"calibrated": ok, "badly_calibrated": not ok, "why": why,
                           "datasets": detail, "summary": "; ".join(parts)}
    return {"generated_by": "benchmarks/bench_claims.py", "alpha": ALPHA, "rule": RULE,
            "n_null_draws": n_by_dataset, "methods": methods}


def _pct(value: float, digits: int = 1) -> str:
    return "-" if value is None or not np.isfinite(value) else f"{value * 100:.{digits}f} %"


def _before_numbers(before: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, float]]:
    """(data set, method) -> FPR, coverage and bias of the previous run's ``claims.json``."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    if not before:
        return out
    summary = pd.DataFrame(before["summary"])
    for (ds, m), g in summary.groupby(["dataset", "method"]):
        null = g[g["condition"] == "null"]
        planted = g[g["condition"] != "null"]
        n_ci = planted["n_ci"].sum()
        out[ds, m] = {
            "fpr": float(null["share_significant"].iat[0]) if len(null) else np.nan,
            "coverage": float((planted["coverage"] * planted["n_ci"]).sum() / n_ci)
            if n_ci else np.nan,
            "bias": float((planted["bias"] * planted["n"]).sum() / planted["n"].sum())
            if planted["n"].sum() else np.nan}
    return out


def calibration_table(cal: dict[str, Any], before: dict[str, Any] | None) -> list[str]:
    """Markdown rows: per method and data set, before and after."""
    prev = _before_numbers(before)
    lines = ["| method | data set | false positives before | after | coverage before | after "
             "| planted bias before | after | n null / planted | calibrated |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for m, c in cal["methods"].items():
        for ds, d in c["datasets"].items():
            b = prev.get((ds, m), {})
            lines.append(
                f"| {m} | {ds} | {_pct(b.get('fpr', np.nan))} | "
                f"{_pct(d['false_positive_rate'])} | {_pct(b.get('coverage', np.nan), 0)} | "
                f"{_pct(d['planted_coverage'], 0)} | "
                f"{b.get('bias', np.nan):+.3f} | {d['planted_bias']:+.3f} | "
                f"{d['n_null_tests']} / {d['n_planted']} | "
                f"{'yes' if c['calibrated'] else 'no'} |".replace("| +nan |", "| - |"))
    return lines


def donor_table(rows: pd.DataFrame) -> list[str]:
    """How many controls the draws kept, and the units used most often, per data set."""
    lines = ["| data set | buffer | treated units per draw | controls kept: min / median / max "
             "| most used donors (share of draws) |", "|---|---|---|---|---|"]
    null = rows[(rows["condition"] == "null") & (rows["method"] == "its")]
    for ds, g in null.groupby("dataset"):
        counts = pd.Series("|".join(g["controls"].fillna("")).split("|")).value_counts()
        counts = counts[counts.index != ""]
        top = ", ".join(f"{u} ({n / len(g):.0%})" for u, n in counts.head(5).items())
        units = g["n_units"].value_counts().sort_index()
        per = ", ".join(f"{k}: {v}" for k, v in units.items())
        lines.append(f"| {ds} | {BUFFER_M.get(ds, 500.0):g} m | {per} | "
                     f"{g['n_controls'].min()} / {g['n_controls'].median():g} / "
                     f"{g['n_controls'].max()} | {top} |")
    return lines


def timing_table(timings: list[dict[str, Any]]) -> list[str]:
    """Median seconds per claim for each method (ITS's own fit included in every row, as
    analyse_series always runs it)."""
    frame = pd.DataFrame(timings)
    lines = ["| data set | " + " | ".join(METHODS) + " |",
             "|---|" + "---|" * len(METHODS)]
    for ds, g in frame.groupby("dataset"):
        lines.append(f"| {ds} | " + " | ".join(f"{g[m].median():.2f}" if m in g else "-"
                                               for m in METHODS) + " |")
    return lines


def markdown(summary: pd.DataFrame, verdicts: pd.DataFrame, meta: dict[str, Any]) -> str:
    """The report ``claims.md``."""
    lines = ["# Claim-check validation", "",
             f"Generated by `benchmarks/bench_claims.py` (seed {meta['seed']}, "
             f"{meta['runtime_s']:.0f} s on {meta['machine']}). Random treated areas of real "
             f"polygons and {WINDOW}-month windows with >= {MIN_PRE} pre-period months; the "
             "other polygons are the candidate controls (passed as `controls=`), minus those "
             "overlapping the buffer ring. Chicago: one police district (aggravated assaults "
             "2010-2016, monthly), the other districts as controls; City of London: 1 to "
             f"{MAX_WARDS} neighbouring wards (police.uk 2017-2020), the other wards as "
             "controls. Planted effects thin the treated area's window events at random "
             "(each kept with probability 0.88 or 0.75). Significant: p < 0.05. "
             f"`synth_pysyncon` runs on the first {meta.get('n_slow', 0)} draws of each data "
             "set only (run time). Covid-19: single-series methods (its, placebo_time) add "
             "a lockdown indicator (2020-03..2020-12) to the pre-period fit and are not "
             "estimated when the window overlaps those months; the comparative methods take "
             "the dip from their controls.", "",
             "## Calibration: before and after", "",
             f"Rule: {meta['calibration']['rule']}. Before: the previous run "
             "(`claims_before.json`: grid-block controls with a 500 m ring, Chicago 3 km "
             "squares, City 1-2 wards). Bias: mean estimate - true rate ratio over the "
             "planted effects.", "",
             *calibration_table(meta["calibration"], meta.get("before")), "",
             "## Donor pools", "", *donor_table(meta["rows"]), "",
             "## Run time per claim (seconds, median of the first draws)", "",
             *timing_table(meta.get("timings", [])), "",
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
        lines += ["", "## City of London: null tests with and without the Covid-19 months", "",
                  "| method | windows touching 2020-03..12: false-positive rate (n) | other "
                  "windows (n) |", "|---|---|---|"]
        for m, (a, na, b, nb) in meta["covid_null"].items():
            lines.append(f"| {m} | {a:.1%} ({na}) | {b:.1%} ({nb}) |")
    lines += ["", "## Verdicts (claimed size: the planted one; for null draws a 12 % drop)", "",
              "Verdicts under the calibration table measured here (only its calibrated "
              "methods drive them).", "",
              "| data set | condition | verdict | share |", "|---|---|---|---|"]
    for r in verdicts.itertuples():
        lines.append(f"| {r.dataset} | {r.condition} | {r.verdict} | {r.share:.1%} |")
    lines += ["", "## Calibration verdicts", ""]
    for m, c in meta["calibration"]["methods"].items():
        flag = "calibrated" if c["calibrated"] else "UNCALIBRATED (" + "; ".join(c["why"]) + ")"
        lines.append(f"- **{m}**: {flag} - {c['summary']}")
    lines += ["", f"Rule: {meta['calibration']['rule']}.", ""]
    return "\n".join(lines)


def covid_split(rows: pd.DataFrame) -> dict[str, tuple[float, int, float, int]]:
    """City null false-positive rates (and counts) with and without the Covid-19 dip."""
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
