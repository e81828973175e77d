"""Choose the model to publish from its backtest record (``forecast --model auto``).

The rule, applied to one score (and coverage) and one target of a long metrics table
(``model, target, origin, target_period, metric, coverage, value``):

1. **Common periods.** Each candidate's mean score is taken over the held-out periods every
   candidate was scored on. A period where any candidate's score is NaN (no crimes, so hit
   rate is undefined) is dropped for all, so every mean is over the same periods. Several
   rows for one period (grids at several offsets) are averaged first.
2. **The best record.** ``best`` is the candidate with the best mean (highest; lowest for
   ``poisson_deviance``); an exact tie goes to the simpler model (:data:`SIMPLICITY`; names
   not in it come last, alphabetically).
3. **A model must earn its complexity.** When ``best`` is not a baseline (a model tagged
   ``baseline`` in the registry; a name the registry does not know is not one), its paired
   difference to the best-scoring baseline (period by period, 95 % percentile-bootstrap CI
   over periods, seeded) must lie wholly on its better side; otherwise that baseline — simpler
   than every non-baseline — is published instead, and the report says nothing beat it.
   With fewer than two common periods no CI exists, so a baseline is published.

Choosing the simplest model whose CI against the best merely *includes* zero was tried
first: on short records every CI is wide and it published the weakest model (naive-last on
a 3-period burglary backtest). Taking the best record, and falling back only to the best
baseline, keeps the choice from rewarding noise in either direction.

Every candidate bootstraps with the same seed over the same periods, so the resampled
periods are the same for all of them (a paired design) and the choice is reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.bootstrap import bootstrap_mean_ci
from hotspot.evaluation.compare import HIGHER_IS_BETTER, is_baseline, model_name

#: Models from simplest to most complex: a near-tie is published as the earlier one.
SIMPLICITY: tuple[str, ...] = (
    "naive-last", "naive-mean", "naive-longrun", "hotspot-map", "kde", "prospective-hotspot",
    "glm", "self-exciting-counts", "sepp", "etas-grid", "gbm", "rfg-harm", "ensemble",
)

#: Scores ``auto`` can select on: whether a coverage picks the row, and the wording used.
SCORES: dict[str, tuple[bool, str]] = {
    "box_hit_rate": (False, "top-{boxes}-box hit rate"),
    "box_pai": (False, "top-{boxes}-box PAI"),
    "hit_rate": (True, "hit rate at {coverage} of the area"),
    "pai": (True, "PAI at {coverage} of the area"),
    "pei": (True, "PEI at {coverage} of the area"),
    "log_score": (False, "Poisson log score"),
    "poisson_deviance": (False, "Poisson deviance"),
}

#: Scores where a smaller value is better (the direction ``compare`` defines once).
LOWER_IS_BETTER = frozenset(m for m, higher in HIGHER_IS_BETTER.items() if not higher)

#: The rule in one sentence, closing every :meth:`Selection.explain` paragraph.
RULE = ("Rule: the candidate with the best mean over the periods all were scored on is "
        "published if it is a baseline or its paired 95% bootstrap CI against the best "
        "baseline is clear of zero; otherwise that baseline is.")

TABLE_COLUMNS = ["model", "rank", "simplicity", "baseline", "n_periods", "mean", "ci_low",
                 "ci_high", "diff_vs_best", "diff_ci_low", "diff_ci_high", "tied_with_best"]


def simplicity_key(label: str) -> tuple[int, str]:
    """Sort key: position in :data:`SIMPLICITY` (of the label's model, so ``glm[weather]``
    sorts as ``glm``), unknown names after all known ones, then the label."""
    name = model_name(label)
    position = SIMPLICITY.index(name) if name in SIMPLICITY else len(SIMPLICITY)
    return position, label


@dataclass(frozen=True)
class Selection:
    """What ``auto`` chose, why, and by how much; ``table`` has one row per candidate."""

    winner: str
    score: str
    coverage: float | None
    target: str | None
    n_periods: int
    table: pd.DataFrame = field(repr=False)
    best: str
    best_baseline: str | None
    diff_vs_baseline: float | None
    ci_vs_baseline: tuple[float, float] | None
    winner_is_baseline: bool
    beats_baseline_clearly: bool
    baseline_mean: float | None = None
    boxes: int = 20
    unscored: tuple[str, ...] = ()
    #: What the caller decided before selecting (e.g. candidates it dropped, and why).
    notes: tuple[str, ...] = ()

    @property
    def score_label(self) -> str:
        """The score in words, e.g. ``top-20-box hit rate``."""
        coverage = f"{self.coverage:.1%}".replace(".0%", "%") if self.coverage is not None else ""
        return SCORES[self.score][1].format(boxes=self.boxes, coverage=coverage)

    def _mean(self, model: str) -> float:
        return float(self.table.set_index("model").loc[model, "mean"])

    def explain(self) -> str:
        """One paragraph: the rule's outcome, the winner's margin over the best baseline and
        its CI, and what the choice rests on."""
        what = f"{self.score_label}" + (f" for target {self.target}" if self.target else "")
        periods = f"{self.n_periods} period" + ("" if self.n_periods == 1 else "s")
        head = f"auto chose {self.winner} on {what} over {periods}"
        direction = " (lower is better)" if self.score in LOWER_IS_BETTER else ""
        parts = []
        if self.best_baseline is None:
            parts.append(f"{head}: {self._mean(self.winner):.3f}; no baseline was scored, so "
                         "it is not compared with one")
        elif self.winner_is_baseline:
            if self.best == self.winner:
                parts.append(f"{head}: the baseline {self.winner} scored best "
                             f"({self._mean(self.winner):.3f}), so it is published")
            else:
                # the winner's row holds winner − best; the reader wants best − winner
                row = self.table.set_index("model").loc[self.winner]
                gap = -float(row["diff_vs_best"])
                ci = _ci_text(-float(row["diff_ci_high"]), -float(row["diff_ci_low"]))
                parts.append(f"{head}: no candidate beat the baselines clearly, so the "
                             f"baseline {self.winner} is published (best was {self.best}, "
                             f"{gap:+.3f}{ci}{direction})")
        else:
            diff = self.diff_vs_baseline if self.diff_vs_baseline is not None else np.nan
            low, high = self.ci_vs_baseline or (np.nan, np.nan)
            verdict = ("clear of zero" if self.beats_baseline_clearly
                       else "not clear of zero, so it may be no better than the baseline")
            parts.append(f"{head}: {self._mean(self.winner):.3f} vs best baseline "
                         f"{self.best_baseline} {self.baseline_mean:.3f}, "
                         f"{diff:+.3f}{_ci_text(low, high)}{direction}, {verdict}")
        if self.n_periods < 2:
            parts.append("; with under two periods there is no CI, so no model can beat the "
                         "baselines clearly")
        if self.unscored:
            parts.append(f"; not scored, left out: {', '.join(self.unscored)}")
        parts += [f"; {note}" for note in self.notes]
        return "".join(parts) + ". " + RULE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (NaN becomes null)."""
        def clean(value: Any) -> Any:
            if isinstance(value, float | np.floating):
                return None if not np.isfinite(value) else float(value)
            if isinstance(value, np.integer):
                return int(value)
            if isinstance(value, np.bool_):
                return bool(value)
            return value

        rows = [{k: clean(v) for k, v in row.items()} for row in self.table.to_dict("records")]
        ci = None if self.ci_vs_baseline is None else [clean(v) for v in self.ci_vs_baseline]
        out = {
            "winner": self.winner, "score": self.score, "score_label": self.score_label,
            "coverage": clean(self.coverage), "target": self.target,
            "n_periods": self.n_periods, "best": self.best, "best_baseline": self.best_baseline,
            "diff_vs_baseline": clean(self.diff_vs_baseline), "ci_vs_baseline": ci,
            "winner_is_baseline": self.winner_is_baseline,
            "beats_baseline_clearly": self.beats_baseline_clearly,
            "baseline_mean": clean(self.baseline_mean),
            "unscored": list(self.unscored), "notes": list(self.notes), "table": rows,
            "explanation": self.explain(),
        }
        json.dumps(out)  # fail here, not in the caller's writer, if anything is not JSON
        return out


def _ci_text(low: float, high: float) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return " [no CI]"
    return f" [{low:+.3f}, {high:+.3f}]"


def _check_score(score: str, coverage: float | None, rows: pd.DataFrame) -> float | None:
    """The coverage that picks ``score``'s rows (None where coverage is ignored)."""
    if score not in SCORES:
        raise ConfigError(f"unknown selection score {score!r}: choose from "
                          f"{', '.join(SCORES)}")
    takes_coverage = SCORES[score][0]
    if not takes_coverage:
        return None
    present = sorted(float(c) for c in rows["coverage"].dropna().unique())
    if coverage is None:
        if len(present) == 1:
            return present[0]
        raise ConfigError(f"score {score} needs a coverage: give one of "
                          f"{', '.join(f'{c:g}' for c in present) or '(none scored)'}")
    return float(coverage)


def _score_rows(metrics: pd.DataFrame, score: str, coverage: float | None,
                target: str | None) -> tuple[pd.DataFrame, float | None, str | None]:
    """Rows of one score, coverage and target; resolves a missing coverage or target."""
    missing = {"model", "target_period", "metric", "value"} - set(metrics.columns)
    if missing:
        raise DataError(f"metrics table lacks columns {', '.join(sorted(missing))}: pass the "
                        "backtest's metrics.csv (model,target,origin,target_period,metric,"
                        "coverage,value)")
    rows = metrics[metrics["metric"] == score]
    coverage = _check_score(score, coverage, rows)
    if coverage is not None:
        rows = rows[np.isclose(rows["coverage"].astype(float), coverage)]
    if "target" in rows.columns:
        targets = sorted(str(t) for t in rows["target"].dropna().unique())
        if target is None and len(targets) > 1:
            raise ConfigError(f"the metrics hold several targets ({', '.join(targets)}): "
                              "choose one to select on")
        if target is None and targets:
            target = targets[0]
        if target is not None:
            rows = rows[rows["target"].astype(str) == target]
    return rows, coverage, target


def _by_period(rows: pd.DataFrame) -> pd.DataFrame:
    """Wide table: one row per held-out period, one column per model (offsets averaged)."""
    keys = ["origin", "target_period"] if "origin" in rows.columns else ["target_period"]
    keyed = rows.assign(**{k: rows[k].astype(str) for k in keys},
                        value=pd.to_numeric(rows["value"], errors="coerce"))
    # groupby keeps a period whose values are all NaN (as NaN), which pivot_table would drop
    return keyed.groupby([*keys, "model"])["value"].mean().unstack("model")


def select_model(
    metrics: pd.DataFrame,
    candidates: Sequence[str],
    *,
    score: str = "box_hit_rate",
    coverage: float | None = None,
    target: str | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    boxes: int = 20,
) -> Selection:
    """Apply the module's rule to ``candidates`` and return the :class:`Selection`.

    ``coverage`` picks the rows of ``hit_rate``/``pai``/``pei`` (may be omitted when only one
    was scored) and is ignored for the others. ``target`` picks the target when the table
    holds several. ``boxes`` is the N of the top-N box scores, used only in the wording.
    Candidates with no rows at all are left out and named in ``unscored``.
    """
    if not candidates:
        raise ConfigError("no candidate models to select from: give one or more names")
    rows, coverage, target = _score_rows(metrics, score, coverage, target)
    wide = _by_period(rows)
    scored = [c for c in dict.fromkeys(candidates) if c in wide.columns
              and wide[c].notna().any()]
    unscored = tuple(c for c in dict.fromkeys(candidates) if c not in scored)
    where = f" for target {target}" if target else ""
    if not scored:
        raise DataError(f"no candidate ({', '.join(candidates)}) has {score} scores{where}: "
                        "backtest them first (or choose another --score)")
    common = wide[scored].dropna()
    if common.empty:
        raise DataError(f"the candidates share no period with a finite {score}{where}: "
                        "backtest them over the same periods")
    sign = -1.0 if score in LOWER_IS_BETTER else 1.0
    means = common.mean()
    # an exact tie in the mean goes to the simpler model already here
    best = max(scored, key=lambda c: (sign * means[c], -simplicity_key(c)[0]))
    table = _table(common, scored, best, sign, n_bootstrap, seed)
    baseline, diff, ci, baseline_mean = _vs_best_baseline(wide, common, scored, best, sign,
                                                          n_bootstrap, seed)
    clear = (baseline is not None and not is_baseline(best) and ci is not None
             and bool(np.isfinite(ci[0])) and min(sign * ci[0], sign * ci[1]) > 0)
    winner = best
    if baseline is not None and not is_baseline(best) and not clear and baseline in scored:
        winner = baseline
        _, diff, ci, baseline_mean = _vs_best_baseline(wide, common, scored, winner, sign,
                                                       n_bootstrap, seed)
    winner_is_baseline = is_baseline(winner)
    return Selection(
        winner=winner, score=score, coverage=coverage, target=target,
        n_periods=len(common), table=table, best=best, best_baseline=baseline,
        diff_vs_baseline=diff, ci_vs_baseline=ci, winner_is_baseline=winner_is_baseline,
        beats_baseline_clearly=bool(clear), baseline_mean=baseline_mean, boxes=boxes,
        unscored=unscored,
    )


def _table(common: pd.DataFrame, scored: list[str], best: str, sign: float,
           n_bootstrap: int, seed: int) -> pd.DataFrame:
    rows = []
    for model in scored:
        mean, low, high = bootstrap_mean_ci(common[model].to_numpy(), n_bootstrap, seed=seed)
        diff = (common[model] - common[best]).to_numpy()
        d_mean, d_low, d_high = bootstrap_mean_ci(diff, n_bootstrap, seed=seed)
        # no CI (one period) cannot tell the model from the best: a tie
        tied = model == best or not np.isfinite(d_low) or d_low <= 0 <= d_high
        rows.append({"model": model, "simplicity": simplicity_key(model)[0],
                     "baseline": is_baseline(model), "n_periods": len(common), "mean": mean,
                     "ci_low": low, "ci_high": high, "diff_vs_best": d_mean,
                     "diff_ci_low": d_low, "diff_ci_high": d_high,
                     "tied_with_best": bool(tied)})
    table = pd.DataFrame(rows)
    table["rank"] = (sign * table["mean"]).rank(ascending=False, method="min").astype(int)
    return table.sort_values(["rank", "simplicity", "model"])[TABLE_COLUMNS].reset_index(
        drop=True)


def _vs_best_baseline(
    wide: pd.DataFrame, common: pd.DataFrame, scored: list[str], winner: str, sign: float,
    n_bootstrap: int, seed: int,
) -> tuple[str | None, float | None, tuple[float, float] | None, float | None]:
    """Best baseline (among the candidates, else any in the table), and the winner's paired
    difference to it with its CI, over the periods both were scored on."""
    pool = [c for c in scored if is_baseline(c)]
    if pool:
        periods = common
    else:  # no baseline among the candidates: measure against one backtested alongside
        pool = [str(c) for c in wide.columns if is_baseline(str(c)) and wide[c].notna().any()]
        periods = wide
    if not pool:
        return None, None, None, None
    paired = {b: periods[list(dict.fromkeys([winner, b]))].dropna() for b in pool}
    paired = {b: p for b, p in paired.items() if not p.empty}
    if not paired:
        return None, None, None, None
    baseline = max(paired, key=lambda b: (sign * paired[b][b].mean(),
                                          -simplicity_key(b)[0]))
    pair = paired[baseline]
    diff, low, high = bootstrap_mean_ci((pair[winner] - pair[baseline]).to_numpy(),
                                        n_bootstrap, seed=seed)
    return baseline, diff, (low, high), float(pair[baseline].mean())
