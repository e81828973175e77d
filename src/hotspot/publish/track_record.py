"""The report's backtest section: how each model did, per target, against the baselines.

Per target of the record: each model's mean [95 % CI] of the scores a patrol plan turns on
(top-N box hit rate next to the oracle at the boxes' area, box PAI, PAI at 0.5 % and 5 %,
hit rate at 5 % next to its oracle, log score); then every model that is not a baseline
paired with the best baseline on each score (``evaluation.compare.comparison_table``), and
the share of the oracle-over-baseline gap it captures (``oracle_share``). The plain
sentence about the published model (:func:`baseline_comparison`) is for the cube's target.

A record without a ``target`` column predates targets: it is read as the cube's target.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hotspot.core.markdown import escape_cell, markdown_table
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.compare import comparison_table, is_baseline, oracle_share
from hotspot.evaluation.metrics import box_rows
from hotspot.publish.cells import percent_label

#: (column header, metric, coverage) of the per-target table. ``None`` coverage: the
#: metric has one row per model (box rows, log score); ``"box"``: the oracle at the boxes'.
BACKTEST_COLUMNS: list[tuple[str, str, float | str | None]] = [
    ("top-{boxes} box hit rate", "box_hit_rate", None),
    ("oracle at the boxes' area", "oracle_hit_rate", "box"),
    ("box PAI", "box_pai", None),
    ("PAI@0.5 %", "pai", 0.005),
    ("PAI@5 %", "pai", 0.05),
    ("hit rate@5 %", "hit_rate", 0.05),
    ("oracle@5 %", "oracle_hit_rate", 0.05),
    ("log score", "log_score", None),
]
#: (metric, coverage) of the comparison and oracle-share tables, in this order.
COMPARED = [("box_hit_rate", None), ("box_pai", None), ("pai", 0.005), ("pai", 0.05),
            ("hit_rate", 0.05), ("log_score", None)]
CLEAR_MARK = "*"


def _row(table: pd.DataFrame, model: str, metric: str, coverage: float | None) -> pd.Series | None:
    mask = (table["model"] == model) & (table["metric"] == metric)
    if coverage is not None:
        mask &= np.isclose(table["coverage"].astype(float), coverage)
    rows = table[mask]
    return None if rows.empty else rows.iloc[0]


def number_text(value: Any, digits: int = 3, sign: bool = False) -> str:
    """A number as the reports print it (``sign``: with + or −), ``n/a`` when it is not
    a finite number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"



def _with_ci(row: pd.Series | None) -> str:
    if row is None or not math.isfinite(float(row["mean"])):
        return "n/a"
    return (f"{number_text(row['mean'])} [{number_text(row['ci_low'])}, "
            f"{number_text(row['ci_high'])}]")


def _overlap(a: pd.Series, b: pd.Series) -> bool | None:
    bounds = [float(a["ci_low"]), float(a["ci_high"]), float(b["ci_low"]), float(b["ci_high"])]
    if not all(math.isfinite(v) for v in bounds):
        return None
    return bounds[0] <= bounds[3] and bounds[2] <= bounds[1]


def _compare_clause(
    table: pd.DataFrame, model: str, baselines: list[str], metric: str,
    coverage: float | None, label: str, higher_is_better: bool,
) -> str:
    own = _row(table, model, metric, coverage)
    candidates = [(name, _row(table, name, metric, coverage)) for name in baselines]
    candidates = [(name, row) for name, row in candidates
                  if row is not None and math.isfinite(float(row["mean"]))]
    if own is None or not math.isfinite(float(own["mean"])) or not candidates:
        return f"on {label} there is no value to compare"
    pick = max if higher_is_better else min
    best_name, best = pick(candidates, key=lambda item: float(item[1]["mean"]))
    mine, theirs = float(own["mean"]), float(best["mean"])
    if mine == theirs:
        verdict = "tied with"
    elif (mine > theirs) == higher_is_better:
        verdict = "beat"
    else:
        verdict = "did not beat"
    overlap = _overlap(own, best)
    if overlap is None:
        intervals = "their intervals are not available (too few periods)"
    elif overlap:
        intervals = "their 95 % intervals overlap, so the backtest does not clearly separate them"
    else:
        intervals = "their 95 % intervals do not overlap"
    return (f"on {label} {model} ({number_text(mine)}) {verdict} the best baseline {best_name} "
            f"({number_text(theirs)}), and {intervals}")


def baseline_comparison(table: pd.DataFrame, model: str, target: str | None = None) -> str:
    """One plain sentence: did ``model`` beat the best baseline on PAI@5 % and on deviance?
    ``target`` picks one target of a summary holding several."""
    if target is not None and "target" in table.columns:
        table = table[table["target"] == target]
    models = list(dict.fromkeys(table["model"]))
    if model not in models:
        return (f"The published model {model} is not in this backtest record, so it cannot be "
                "compared with the baselines.")
    baselines = [name for name in models if is_baseline(name) and name != model]
    if not baselines:
        return (f"This backtest record has no baseline other than {model}, so there is nothing "
                "to compare it with.")
    pai = _compare_clause(table, model, baselines, "pai", 0.05, "PAI@5 %", True)
    deviance = _compare_clause(table, model, baselines, "poisson_deviance", None,
                               "mean Poisson deviance (lower is better)", False)
    prefix = (f"The published model {model} is itself a baseline, so it is compared with the "
              "best of the other baselines: " if is_baseline(model)
              else "Compared with the best baseline on each measure: ")
    return f"{prefix}{pai}; {deviance}."


# ------------------------------------------------------------------------ tables


def _with_target(table: pd.DataFrame, target: str) -> pd.DataFrame:
    return table if "target" in table.columns else table.assign(target=target)


def _box_oracle_summary(metrics: pd.DataFrame, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """Mean [CI] of the oracle hit rate at each forecast's boxes' area share. The summary
    table keeps it as one more ``oracle_hit_rate`` row whose coverage is a mean share, which
    could coincide with a set coverage; re-summarising the box rows alone is unambiguous."""
    if metrics.empty or not (metrics["metric"] == "box_hit_rate").any():
        return pd.DataFrame(columns=["model", "target", "metric", "mean", "ci_low", "ci_high"])
    boxed = metrics[box_rows(metrics)]
    summary = summarise(boxed, n_resamples=n_bootstrap, seed=seed)
    return summary[summary["metric"] == "oracle_hit_rate"]


def _score_name(metric: str, coverage: float | None, boxes: int) -> str:
    names = {"box_hit_rate": f"top-{boxes} box hit rate", "box_pai": f"top-{boxes} box PAI",
             "log_score": "log score", "poisson_deviance": "Poisson deviance"}
    if metric in names:
        return names[metric]
    label = {"hit_rate": "hit rate", "pai": "PAI", "pei": "PEI"}.get(metric, metric)
    return f"{label}@{percent_label(coverage)}" if coverage is not None else label


def _pick(frame: pd.DataFrame, metric: str, coverage: float | None) -> pd.DataFrame:
    """Rows of a comparison or oracle-share table: coverage-free rows (NaN) when
    ``coverage`` is None, else those at ``coverage``."""
    rows = frame[frame["metric"] == metric]
    if coverage is None:
        return rows[rows["coverage"].isna()]
    return rows[np.isclose(rows["coverage"].astype(float), coverage)]


def _role(name: str, published: str) -> str:
    if name == published:
        return "**published**" + (" (baseline)" if is_baseline(name) else "")
    return "baseline" if is_baseline(name) else "candidate"


def _model_label(name: str, published: str) -> str:
    return f"**{escape_cell(name)}**" if name == published else escape_cell(name)


def scores_table(summary: pd.DataFrame, box_oracle: pd.DataFrame, published: str,
                 boxes: int) -> list[str]:
    """Markdown lines: one row per model of one target's summary, :data:`BACKTEST_COLUMNS`."""
    rows = []
    for name in dict.fromkeys(summary["model"]):
        cells = []
        for _, metric, coverage in BACKTEST_COLUMNS:
            if coverage == "box":
                cells.append(_with_ci(_row(box_oracle, name, metric, None)))
            else:
                cells.append(_with_ci(_row(summary, name, metric, coverage)))
        rows.append([_model_label(name, published), _role(name, published), *cells])
    header = ["model", "role", *(h.format(boxes=boxes) for h, _, _ in BACKTEST_COLUMNS)]
    return markdown_table(header, rows, raw=(0, 1))


def comparison_lines(comparison: pd.DataFrame, boxes: int) -> list[str]:
    """Markdown lines: each model that is not a baseline against the best baseline per
    score; the difference marked :data:`CLEAR_MARK` when its CI is clear of zero in the
    model's favour."""
    rows = []
    for model in dict.fromkeys(comparison["model"]):
        for metric, coverage in COMPARED:
            picked = _pick(comparison[comparison["model"] == model], metric, coverage)
            if picked.empty:
                continue
            row = picked.iloc[0]
            if row["baseline"] is None or not isinstance(row["baseline"], str):
                rows.append([model, _score_name(metric, coverage, boxes), "none scored",
                             "n/a", "n/a", "n/a", 0])
                continue
            diff = (f"{number_text(row['mean_diff'], sign=True)} "
                    f"[{number_text(row['ci_low'], sign=True)}, "
                    f"{number_text(row['ci_high'], sign=True)}]")
            if bool(row["clear"]):
                diff += f" {CLEAR_MARK}"
            rows.append([model, _score_name(metric, coverage, boxes), row["baseline"],
                         number_text(row["model_mean"]), number_text(row["baseline_mean"]), diff,
                         int(row["n_periods"])])
    header = ["model", "score", "best baseline", "model mean", "baseline mean",
              "difference [95 % CI]", "periods"]
    return markdown_table(header, rows)


def oracle_lines(shares: pd.DataFrame, boxes: int) -> list[str]:
    """Markdown lines: the share of the oracle-over-best-baseline gap each model captures."""
    rows = []
    for _, row in shares.iterrows():
        coverage = None if pd.isna(row["coverage"]) else float(row["coverage"])
        if row["metric"] == "hit_rate" and not (coverage is not None
                                                and np.isclose(coverage, 0.05)):
            continue
        share = row["share"]
        share_text = "n/a (no gap)" if not math.isfinite(float(share)) else f"{share * 100:.0f} %"
        rows.append([row["model"], _score_name(str(row["metric"]), coverage, boxes),
                     row["baseline"] or "none", number_text(row["model_mean"]),
                     number_text(row["baseline_mean"]), number_text(row["oracle_mean"]),
                     share_text])
    header = ["model", "score", "best baseline", "model", "baseline", "oracle",
              "share of the gap"]
    return markdown_table(header, rows)


def _target_block(backtest: BacktestResult, target: str, title: str, published: str,
                  boxes: int, is_cube_target: bool) -> list[str]:
    summary = _with_target(backtest.summary_table, target)
    summary = summary[summary["target"] == target]
    metrics = backtest.metrics
    if not metrics.empty:
        metrics = _with_target(metrics, target)
        metrics = metrics[metrics["target"] == target]
    n_bootstrap = int(backtest.settings.get("n_bootstrap", 2000))
    seed = int(backtest.settings.get("seed", 0))
    lines = [f"### {escape_cell(title)} (`{escape_cell(target)}`)", ""]
    lines += scores_table(summary, _box_oracle_summary(metrics, n_bootstrap, seed),
                          published, boxes)
    lines += ["", "Values are mean [95 % interval] over the backtest periods. The oracle is "
              "the hit rate of the cells that turned out to have the most crime per km² over "
              "the same area: the ceiling any forecast could reach.", ""]
    if is_cube_target:
        lines += [baseline_comparison(summary, published), ""]
    lines += [f"#### {escape_cell(title)}: each model against the best baseline", ""]
    if metrics.empty:
        return [*lines, "This record keeps no per-period scores, so no paired comparison "
                "can be made.", ""]
    comparison = comparison_table(metrics, n_bootstrap=n_bootstrap, seed=seed)
    if comparison.empty:
        return [*lines, "Every model in this record is a baseline, so there is no candidate "
                "to compare with the best baseline.", ""]
    lines += comparison_lines(comparison, boxes)
    lines += ["", "Difference = model − best baseline, period by period over the periods "
              "both were scored on (mean and 95 % bootstrap interval); the best baseline is "
              "chosen per score on those periods. "
              f"`{CLEAR_MARK}` marks a difference whose interval is clear of zero in the "
              "model's favour (for every score here higher is better).", ""]
    shares = oracle_share(metrics)
    if not shares.empty:
        lines += [f"#### {escape_cell(title)}: share of the oracle gap", ""]
        lines += oracle_lines(shares, boxes)
        lines += ["", "Share = (model − best baseline) / (oracle − best baseline) on the "
                  "means: 0 % is no better than the baseline, 100 % as good as knowing where "
                  "the crime would be.", ""]
    return lines


def backtest_section(backtest: BacktestResult | None, model: str, *,
                     target: str = "all", target_title: str = "All categories",
                     boxes: int = 20) -> list[str]:
    """The report's backtest section for the published ``model`` forecasting ``target``."""
    lines = ["## Backtest", ""]
    if backtest is None:
        lines += ["No backtest record is available for this forecast: run `hotspot backtest` "
                  "to see how well the model and the baselines would have done.", ""]
        return lines
    settings = backtest.settings
    first, last = settings.get("first_target", "?"), settings.get("last_target", "?")
    n = settings.get("n_targets", "?")
    boxes = int(settings.get("boxes", boxes))
    lines += [f"Rolling-origin backtest over target periods {first} to {last} ({n} periods); "
              f"each model refitted before every period. Boxes are each forecast's top {boxes} "
              "cells.", ""]
    summary = _with_target(backtest.summary_table, target)
    targets = list(dict.fromkeys(summary["target"])) or [target]
    if target not in targets:
        lines += [f"This record does not score the published target {target}; its targets "
                  f"are shown below.", ""]
    # the published target first, then the others in the record's order
    for name in sorted(targets, key=lambda t: t != target):
        title = target_title if name == target else str(name)
        lines += _target_block(backtest, str(name), title, model, boxes, name == target)
    return lines
