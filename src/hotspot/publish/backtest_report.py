"""A saved backtest's own report: ``report.md`` and ``report.html`` in its out folder.

What ``hotspot backtest --out DIR`` found, for a reader who opens the folder: the settings,
per target each model's scores with their intervals, each model that is not a baseline
against the best baseline, the share of the oracle gap, and (in the HTML) the charts of
:mod:`hotspot.publish.charts`. The tables are the forecast report's
(:mod:`hotspot.publish.track_record`), with no model marked published.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from hotspot.core.markdown import escape_cell, escape_text
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.compare import comparison_table, oracle_share
from hotspot.evaluation.metrics import box_rows
from hotspot.publish.charts import backtest_charts
from hotspot.publish.html_report import html_document
from hotspot.publish.report import HOW_TO_READ, charts_section
from hotspot.publish.track_record import comparison_lines, oracle_lines, scores_table

__all__ = ["render_backtest_html", "render_backtest_report"]


def _targets(table: pd.DataFrame, default: str) -> pd.DataFrame:
    return table if "target" in table.columns else table.assign(target=default)


def _box_oracle(metrics: pd.DataFrame, n_bootstrap: int, seed: int) -> pd.DataFrame:
    """Mean [CI] of the oracle at each forecast's own boxes' area share, per model."""
    if not (metrics["metric"] == "box_hit_rate").any():
        return pd.DataFrame(columns=["model", "target", "metric", "mean", "ci_low", "ci_high"])
    summary = summarise(metrics[box_rows(metrics)], n_resamples=n_bootstrap, seed=seed)
    return summary[summary["metric"] == "oracle_hit_rate"]


def _target_lines(result: BacktestResult, target: str, boxes: int) -> list[str]:
    default = str(result.settings.get("target", "all"))
    summary = _targets(result.summary_table, default)
    summary = summary[summary["target"] == target]
    metrics = _targets(result.metrics, default)
    metrics = metrics[metrics["target"] == target]
    n_bootstrap = int(result.settings.get("n_bootstrap", 2000))
    seed = int(result.settings.get("seed", 0))
    lines = [f"## Target `{escape_cell(target)}`", ""]
    lines += scores_table(summary, _box_oracle(metrics, n_bootstrap, seed), "", boxes)
    lines += ["", "Values are mean [95 % interval] over the backtest periods; the oracle ranks "
              "cells by what happened (the ceiling any forecast could reach).", ""]
    comparison = comparison_table(metrics, n_bootstrap=n_bootstrap, seed=seed)
    if comparison.empty:
        return [*lines, "Every model here is a baseline: there is no candidate to compare "
                "with the best baseline.", ""]
    lines += ["### Each model against the best baseline", "",
              *comparison_lines(comparison, boxes), "",
              "Difference = model − best baseline, paired period by period (mean and 95 % "
              "bootstrap interval); `*` marks an interval clear of zero in the model's "
              "favour.", ""]
    shares = oracle_share(metrics)
    if not shares.empty:
        lines += ["### Share of the oracle gap", "", *oracle_lines(shares, boxes), "",
                  "Share = (model − best baseline) / (oracle − best baseline): 0 % is no "
                  "better than the baseline, 100 % as good as knowing where crime would be.",
                  ""]
    return lines


def render_backtest_report(result: BacktestResult, files: Sequence[str] = ()) -> str:
    """The markdown report of a backtest record; ``files`` are listed at the end."""
    settings = result.settings
    boxes = int(settings.get("boxes", 20))
    models = list(settings.get("models") or dict.fromkeys(result.metrics["model"]))
    metrics = _targets(result.metrics, str(settings.get("target", "all")))
    targets = list(dict.fromkeys(metrics["target"])) or list(settings.get("targets", []))
    coverages = ", ".join(f"{float(c) * 100:g} %" for c in settings.get("coverages", []))
    lines = [f"# Backtest {escape_text(settings.get('first_target', '?'))} to "
             f"{escape_text(settings.get('last_target', '?'))}", "",
             f"- models: {escape_text(', '.join(models))}",
             f"- targets: {escape_text(', '.join(map(str, targets)))}",
             f"- held-out periods: {settings.get('n_targets', '?')} "
             f"({escape_text(settings.get('freq', '?'))}), each model refitted before every "
             "period on the periods before it",
             f"- top-N boxes: {boxes}; set coverages: {coverages or 'none recorded'}",
             f"- bootstrap: {settings.get('n_bootstrap', '?')} resamples, seed "
             f"{settings.get('seed', '?')}"]
    if int(settings.get("offsets", 1) or 1) > 1:
        lines.append(f"- scored on {settings['offsets']} grid offsets: see `offsets.csv` and "
                     "`offset_spread.csv`")
    lines.append("")
    lines += charts_section(result)
    for target in targets:
        lines += _target_lines(result, str(target), boxes)
    lines += ["## How to read this", "", *(f"- {text}" for text in HOW_TO_READ), ""]
    if files:
        lines += ["## Files", "", *(f"- `{escape_text(name)}`" for name in files), ""]
    return "\n".join(lines)


def render_backtest_html(report_md: str, result: BacktestResult,
                         cell_area_m2: pd.Series | None) -> str:
    """``report.html`` of a backtest: ``report_md`` as one page with the charts inline."""
    first = report_md.lstrip().splitlines()[0] if report_md.strip() else "Backtest"
    return html_document(report_md, title=html.unescape(first.lstrip("# ").strip()),
                         charts=backtest_charts(result, cell_area_m2))
