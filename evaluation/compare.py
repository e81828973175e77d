"""Paired comparisons of models scored on the same held-out periods.

Differences are taken period by period (model minus reference) and their mean gets a
percentile-bootstrap CI over periods, so the period-to-period swings that both models
share do not widen the interval. Pairing keeps only the periods both have a value for
(a period without crimes has no hit rate: it drops out of that pair, not of every pair).

Every model that is not a baseline is compared with the **best baseline** (a model tagged
``baseline`` in the registry) per target and per score: the baseline with the best mean
over the periods it shares with the model (highest, except deviance: lowest), so a
candidate is never flattered by a weak baseline. Rows at the boxes' coverage (box hit
rate, box PAI) are paired by period whatever the area share each model's boxes covered.

The **oracle share** says how much of the room above the best baseline a model fills:
``(model − baseline) / (oracle − baseline)``, means over the periods all three share, with
the oracle hit rate (``evaluation.metrics``) at the same coverage — for the box hit rate,
the oracle at the model's own boxes' area share. NaN when the oracle is not above the
baseline (there was no room to fill).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hotspot.evaluation.bootstrap import bootstrap_mean_ci
from hotspot.evaluation.metrics import box_rows
from hotspot.models.registry import MODELS, model_tag

#: Metrics where a larger value is better; for the others (deviance) smaller is better.
HIGHER_IS_BETTER = {"hit_rate": True, "pai": True, "pei": True, "box_hit_rate": True,
                    "box_pai": True, "log_score": True, "oracle_hit_rate": True,
                    "poisson_deviance": False}

#: Scores ``comparison_table`` compares, in report order (hit rate and PAI at each coverage).
COMPARED_SCORES = ("box_hit_rate", "box_pai", "hit_rate", "pai", "log_score",
                   "poisson_deviance")

COMPARISON_COLUMNS = ["target", "model", "metric", "coverage", "baseline", "n_periods",
                      "model_mean", "baseline_mean", "mean_diff", "ci_low", "ci_high",
                      "clear"]
ORACLE_SHARE_COLUMNS = ["target", "model", "metric", "coverage", "baseline", "n_periods",
                        "model_mean", "baseline_mean", "oracle_mean", "share"]

#: Group key of scores without a set coverage (box rows, log score, deviance).
NO_COVERAGE = -1.0


def keyed_by_coverage(metrics: pd.DataFrame) -> pd.DataFrame:
    """The table with ``target`` (``all`` when absent) and a ``_coverage`` key: the set
    coverage, or :data:`NO_COVERAGE` for box rows and coverage-free scores (a box row's
    coverage is its forecast's own area share, so it cannot be a group key)."""
    table = metrics if "target" in metrics.columns else metrics.assign(target="all")
    coverage = table["coverage"].astype(float)
    key = np.where(box_rows(table) | coverage.isna().to_numpy(), NO_COVERAGE, coverage)
    return table.assign(_coverage=key)


def _one_target(table: pd.DataFrame, target: str | None) -> pd.DataFrame:
    targets = list(dict.fromkeys(table["target"]))
    if target is None:
        if len(targets) > 1:
            raise ValueError(f"the metrics hold targets {', '.join(map(str, targets))}: "
                             "say which one to compare (target=...)")
        return table
    return table[table["target"] == target]


def _wide(table: pd.DataFrame) -> pd.DataFrame:
    """Periods × models per (target, metric, coverage key); several rows of one period
    (e.g. grids at several offsets) are averaged."""
    return table.pivot_table(index=["target", "metric", "_coverage", "target_period"],
                             columns="model", values="value", aggfunc="mean")


def _sign(metric: str) -> float:
    return 1.0 if HIGHER_IS_BETTER.get(metric, True) else -1.0


def _diff_row(diff: np.ndarray, metric: str, n_bootstrap: int, seed: int) -> dict:
    mean, low, high = bootstrap_mean_ci(diff, n_bootstrap, seed=seed)
    sign = _sign(metric)
    return {"n_periods": int(np.isfinite(diff).sum()), "mean_diff": mean, "ci_low": low,
            "ci_high": high,
            "clear": bool(np.isfinite(low) and min(sign * low, sign * high) > 0)}


def paired_differences(
    metrics: pd.DataFrame, model: str, reference: str, n_bootstrap: int = 2000, seed: int = 0,
    *, target: str | None = None,
) -> pd.DataFrame:
    """Per metric and coverage: mean of ``model − reference`` over shared periods, with CI.

    Columns ``metric, coverage, model, reference, n_periods, mean_diff, ci_low, ci_high,
    better`` — ``better`` is True when the whole CI lies on the model's better side.
    ``target`` picks one target of the table (needed only when it holds several). The
    oracle hit rate is no score of a model and is left out.
    """
    table = _one_target(keyed_by_coverage(metrics), target)
    table = table[table["metric"] != "oracle_hit_rate"]
    wide = _wide(table)
    for name in (model, reference):
        if name not in wide.columns:
            raise KeyError(f"model {name!r} is not in the metrics table")
    rows = []
    for (metric, coverage), group in wide.groupby(level=["metric", "_coverage"], sort=False):
        diff = (group[model] - group[reference]).to_numpy(dtype=float)
        row = _diff_row(diff, metric, n_bootstrap, seed)
        rows.append({"metric": metric,
                     "coverage": np.nan if coverage == NO_COVERAGE else coverage,
                     "model": model, "reference": reference,
                     "n_periods": row["n_periods"], "mean_diff": row["mean_diff"],
                     "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                     "better": row["clear"]})
    return pd.DataFrame(rows)


def model_name(label: str) -> str:
    """The registered model behind a results label: ``glm[weather]`` → ``glm`` (ablation
    variants and parameter sets are written as ``NAME[...]``)."""
    return label.partition("[")[0]


def is_baseline(label: str) -> bool:
    """Whether a results label is a model tagged ``baseline`` (any other label, a model this
    installation does not know included, is not)."""
    name = model_name(label)
    return name in MODELS and model_tag(name, "baseline")


def best_baseline(summary: pd.DataFrame, metric: str, coverage: float | None = None,
                  *, target: str | None = None) -> str:
    """The baseline (a model tagged ``baseline``) with the best mean on ``metric`` (at
    ``coverage``) in a summary table; ``target`` picks one target (needed only when the
    summary holds several)."""
    if "target" in summary.columns:
        summary = _one_target(summary, target)
    baselines = [label for label in summary["model"].unique() if is_baseline(str(label))]
    rows = summary[summary["model"].isin(baselines) & (summary["metric"] == metric)]
    if coverage is not None:
        rows = rows[np.isclose(rows["coverage"].astype(float), coverage)]
    if rows.empty:
        raise KeyError(f"no baseline scored on {metric}")
    ordered = rows.sort_values("mean", ascending=not HIGHER_IS_BETTER.get(metric, True),
                               kind="stable")
    return str(ordered["model"].iloc[0])


def _best_paired_baseline(group: pd.DataFrame, model: str, baselines: list[str],
                          metric: str) -> tuple[str | None, float]:
    """The baseline with the best mean over the periods it shares with ``model`` (ties:
    the first name in sorted order), and that mean."""
    best, best_mean = None, np.nan
    sign = _sign(metric)
    for name in sorted(baselines):
        both = group[[model, name]].dropna()
        if both.empty:
            continue
        mean = float(both[name].mean())
        if best is None or sign * mean > sign * best_mean:
            best, best_mean = name, mean
    return best, best_mean


def _score_groups(metrics: pd.DataFrame, scores: tuple[str, ...], coverage: float | None):
    """(target, metric, coverage key, periods × models) for each score to compare."""
    table = keyed_by_coverage(metrics)
    table = table[table["metric"].isin(scores)]
    if coverage is not None:  # one set coverage; scores without one are always kept
        keep = (table["_coverage"] == NO_COVERAGE) | np.isclose(table["_coverage"], coverage)
        table = table[keep]
    wide = _wide(table)
    order = {name: i for i, name in enumerate(scores)}
    targets = {name: i for i, name in enumerate(dict.fromkeys(table["target"]))}
    keys = sorted(wide.groupby(level=["target", "metric", "_coverage"], sort=False).groups,
                  key=lambda k: (targets[k[0]], order[k[1]], k[2]))
    for target, metric, cov in keys:
        group = wide.xs((target, metric, cov), level=["target", "metric", "_coverage"])
        yield target, metric, cov, group.dropna(axis=1, how="all")


def comparison_table(metrics: pd.DataFrame, *, n_bootstrap: int = 2000, seed: int = 0,
                     coverage: float | None = None) -> pd.DataFrame:
    """Every model that is not a baseline against the best baseline, per target and score.

    Scores: box hit rate, box PAI, hit rate and PAI at each coverage (only ``coverage``
    when given), log score and Poisson deviance. Per row: the best baseline on the periods
    both have, both means there, the paired mean difference (model − baseline) with its
    95 % bootstrap CI, and ``clear`` — the CI excludes zero on the model's better side.
    A model with no baseline to compare with gets ``baseline`` None and NaN numbers.
    Columns :data:`COMPARISON_COLUMNS`.
    """
    rows = []
    for target, metric, cov, group in _score_groups(metrics, COMPARED_SCORES, coverage):
        baselines = [str(c) for c in group.columns if is_baseline(str(c))]
        for model in (str(c) for c in group.columns if not is_baseline(str(c))):
            row = {"target": target, "model": model, "metric": metric,
                   "coverage": np.nan if cov == NO_COVERAGE else float(cov)}
            baseline, _ = _best_paired_baseline(group, model, baselines, metric)
            if baseline is None:
                rows.append({**row, "baseline": None, "n_periods": 0, "model_mean": np.nan,
                             "baseline_mean": np.nan, "mean_diff": np.nan, "ci_low": np.nan,
                             "ci_high": np.nan, "clear": False})
                continue
            both = group[[model, baseline]].dropna()
            diff = (both[model] - both[baseline]).to_numpy(dtype=float)
            rows.append({**row, "baseline": baseline,
                         "model_mean": float(both[model].mean()),
                         "baseline_mean": float(both[baseline].mean()),
                         **_diff_row(diff, metric, n_bootstrap, seed)})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _oracle_by_period(metrics: pd.DataFrame) -> pd.DataFrame:
    """Oracle hit rate per (target, metric it bounds, coverage key, period) × model: at set
    coverages it bounds ``hit_rate``, at the boxes' share ``box_hit_rate``."""
    table = keyed_by_coverage(metrics)
    oracle = table[table["metric"] == "oracle_hit_rate"]
    bounds = np.where(oracle["_coverage"] == NO_COVERAGE, "box_hit_rate", "hit_rate")
    return _wide(oracle.assign(metric=bounds))


def oracle_share(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per target and model that is not a baseline, for the box hit rate and the hit rate
    at each coverage: the share of the oracle-over-best-baseline gap the model captures,
    ``(model − baseline) / (oracle − baseline)`` on the means over the periods all three
    share (the best baseline chosen on those periods). NaN when the gap is ≤ 0.
    Columns :data:`ORACLE_SHARE_COLUMNS`."""
    oracle = _oracle_by_period(metrics)
    rows = []
    for target, metric, cov, group in _score_groups(metrics, ("box_hit_rate", "hit_rate"),
                                                    None):
        baselines = [str(c) for c in group.columns if is_baseline(str(c))]
        try:
            bound = oracle.xs((target, metric, cov), level=["target", "metric", "_coverage"])
        except KeyError:
            continue  # a table without oracle rows: nothing to measure against
        for model in (str(c) for c in group.columns if not is_baseline(str(c))):
            if model not in bound.columns:
                continue
            with_oracle = group.assign(_oracle=bound[model].reindex(group.index))
            kept = with_oracle[with_oracle["_oracle"].notna()]
            baseline, _ = _best_paired_baseline(kept, model, baselines, metric)
            row = {"target": target, "model": model, "metric": metric,
                   "coverage": np.nan if cov == NO_COVERAGE else float(cov),
                   "baseline": baseline}
            if baseline is None:
                rows.append({**row, "n_periods": 0, "model_mean": np.nan,
                             "baseline_mean": np.nan, "oracle_mean": np.nan, "share": np.nan})
                continue
            three = kept[[model, baseline, "_oracle"]].dropna()
            means = three.mean()
            gap = means["_oracle"] - means[baseline]
            share = (means[model] - means[baseline]) / gap if gap > 0 else np.nan
            rows.append({**row, "n_periods": len(three), "model_mean": float(means[model]),
                         "baseline_mean": float(means[baseline]),
                         "oracle_mean": float(means["_oracle"]), "share": float(share)})
    return pd.DataFrame(rows, columns=ORACLE_SHARE_COLUMNS)
