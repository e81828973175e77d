"""The report's "Model choice" section: what ``forecast --model auto`` published and why.

A reader deciding whether to trust the map needs three things first: which model won,
by how much over the best baseline (with its interval), and whether the win is real. When
a baseline is published because no candidate beat it, the section says so in plain words:
that is a finding about the data, not a failure of the run.
"""

from __future__ import annotations

import math

from hotspot.core.markdown import escape_cell, escape_text, markdown_table
from hotspot.evaluation.selection import Selection
from hotspot.publish.track_record import number_text


def _interval(mean: object, low: object, high: object, sign: bool = False) -> str:
    text = number_text(mean, sign=sign)
    if text == "n/a":
        return text
    low_text, high_text = number_text(low, sign=sign), number_text(high, sign=sign)
    if "n/a" in (low_text, high_text):
        return f"{text} [no CI]"
    return f"{text} [{low_text}, {high_text}]"


def verdict(selection: Selection) -> str:
    """One plain sentence on what the published choice means for the reader."""
    winner, score = selection.winner, selection.score_label
    candidates = selection.table["model"].tolist()
    others = [m for m, base in zip(candidates, selection.table["baseline"], strict=True)
              if not base]
    if selection.winner_is_baseline:
        if not others:
            return (f"A baseline is published: {winner}. Only baselines were candidates, so "
                    "no model was tried against them.")
        return (f"A baseline is published: {winner}. No candidate model beat the baselines "
                f"clearly on the {score}, so the simpler baseline map is the forecast.")
    if selection.best_baseline is None:
        return (f"{winner} is published; no baseline was scored alongside it, so the "
                "backtest cannot say whether it beats a simple map.")
    low, high = selection.ci_vs_baseline or (math.nan, math.nan)
    margin = _interval(selection.diff_vs_baseline, low, high, sign=True)
    if selection.beats_baseline_clearly:
        return (f"{winner} is published: it beat the best baseline {selection.best_baseline} "
                f"on the {score} by {margin}, an interval clear of zero.")
    return (f"{winner} is published, but its margin over the best baseline "
            f"{selection.best_baseline} on the {score}, {margin}, is not clear of zero: treat "
            "it as no better than the baseline.")


def choice_section(selection: Selection | None) -> list[str]:
    """Markdown lines of the section; none when the model was named, not chosen."""
    if selection is None:
        return []
    lines = ["## Model choice", "", f"**{escape_text(verdict(selection))}**", "",
             escape_text(selection.explain()), ""]
    rows = []
    for row in selection.table.itertuples(index=False):
        name = escape_cell(row.model)
        rows.append([
            f"**{name}**" if row.model == selection.winner else name,
            "baseline" if row.baseline else "candidate",
            _interval(row.mean, row.ci_low, row.ci_high),
            "0 (best)" if row.model == selection.best
            else _interval(row.diff_vs_best, row.diff_ci_low, row.diff_ci_high, sign=True),
            "yes" if row.tied_with_best else "no",
        ])
    lines += markdown_table(["candidate", "role", f"mean {selection.score_label} [95 % CI]",
                             "difference to best [95 % CI]", "CI includes the best"],
                            rows, raw=(0,))
    lines += ["", f"Over {selection.n_periods} backtest period(s) common to every candidate. "
              "The best mean is published when it is a baseline or beats the best baseline "
              "with a paired 95 % CI clear of zero; otherwise that baseline is.", ""]
    return lines
