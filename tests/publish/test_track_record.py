"""The report's backtest section (per target, comparison with `*`, oracle share) and the
model-choice section, on seeded synthetic metrics with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from hotspot.core.markdown import escape_text
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.selection import select_model
from hotspot.features.targets import apply_target, resolve_target
from hotspot.publish import publish_forecast
from hotspot.publish.choice import choice_section
from hotspot.publish.track_record import backtest_section, baseline_comparison

PERIODS = [str(p) for p in pd.period_range("2020-01", "2020-10", freq="M")]
BOX_SHARE = 0.03


def _metrics(target: str, kde_box_gain: float, seed: int = 3) -> pd.DataFrame:
    """Long metrics of kde (a candidate) and two baselines over 10 periods.

    kde's box hit rate is ``kde_box_gain`` above naive-mean's every period (plus ±0.005
    noise); its PAI@5 % is clearly *below* the baselines'; its log score differs from
    naive-mean's by symmetric noise only (not clear either way).
    """
    rng = np.random.default_rng(seed)
    base = 0.40 + 0.05 * np.sin(np.arange(len(PERIODS)))
    box = {"naive-mean": base, "naive-last": base - 0.05,
           "kde": base + kde_box_gain + rng.uniform(-0.005, 0.005, len(PERIODS))}
    pai5 = {"naive-mean": 8 + base, "naive-last": 7.5 + base, "kde": 7 + base}
    log = {"naive-mean": -0.5 + 0 * base, "naive-last": -0.6 + 0 * base,
           "kde": -0.5 + rng.normal(0, 0.05, len(PERIODS))}
    rows = []
    for model in box:
        for i, period in enumerate(PERIODS):
            origin = str(pd.Period(period, "M") - 1)
            values = [("pai", 0.005, 2 * pai5[model][i]), ("pai", 0.05, pai5[model][i]),
                      ("hit_rate", 0.05, pai5[model][i] * 0.05),
                      ("oracle_hit_rate", 0.05, 0.7),
                      ("oracle_hit_rate", BOX_SHARE, 0.9),
                      ("box_hit_rate", BOX_SHARE, box[model][i]),
                      ("box_pai", BOX_SHARE, box[model][i] / BOX_SHARE),
                      ("log_score", np.nan, log[model][i]),
                      ("poisson_deviance", np.nan, -log[model][i])]
            rows += [{"model": model, "target": target, "origin": origin,
                      "target_period": period, "metric": metric, "coverage": coverage,
                      "value": value} for metric, coverage, value in values]
    return pd.DataFrame(rows)


def _record(metrics: pd.DataFrame) -> BacktestResult:
    return BacktestResult(
        metrics=metrics, predictions=pd.DataFrame(),
        summary_table=summarise(metrics, n_resamples=200, seed=0), fit_seconds=pd.DataFrame(),
        settings={"first_target": PERIODS[0], "last_target": PERIODS[-1],
                  "n_targets": len(PERIODS), "n_bootstrap": 200, "seed": 0, "boxes": 20})


def _table_rows(text: str, heading: str) -> dict[str, str]:
    """Body rows of the first table after ``heading``, keyed by their first two cells."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    block = list(itertools.takewhile(lambda line: line.startswith("|"), lines[start:]))
    return {" | ".join(line.split(" | ")[:2]): line for line in block[2:]}


@pytest.fixture(scope="module")
def clear_metrics():
    return _metrics("burglary", kde_box_gain=0.10)


@pytest.fixture(scope="module")
def clear_report(tmp_path_factory, clear_metrics, cube, forecast):
    burglary = apply_target(cube, resolve_target("burglary", cube["category"].values))
    selection = select_model(clear_metrics, ["naive-last", "naive-mean", "kde"],
                             n_bootstrap=200)
    paths = publish_forecast(forecast.assign_attrs(model="kde"), burglary,
                             tmp_path_factory.mktemp("clear") / "out",
                             backtest=_record(clear_metrics), selection=selection)
    return paths["report"].read_text(), selection


def test_comparison_marks_only_clear_wins(clear_report):
    text, _ = clear_report
    rows = _table_rows(text, "each model against the best baseline")
    box = rows["| kde | top-20 box hit rate"]
    assert box.split(" | ")[2] == "naive-mean"  # the best baseline, not the weak one
    assert box.split(" | ")[5].endswith(" *")
    pai = rows["| kde | PAI@5 %"]  # clearly worse: clear of zero, but not in kde's favour
    assert "*" not in pai and pai.split(" | ")[5].startswith("-1.000")
    assert "*" not in rows["| kde | log score"]  # noise only
    assert len(rows) == 6  # box hit rate, box PAI, PAI@0.5 %, PAI@5 %, hit rate@5 %, log


def test_scores_table_and_oracle_share(clear_report, clear_metrics):
    text, _ = clear_report
    scores = _table_rows(text, "### burglary (`burglary`)")
    kde = scores["| **kde** | **published**"]
    mean = clear_metrics.query("model == 'kde' and metric == 'box_hit_rate'")["value"].mean()
    assert kde.split(" | ")[2].startswith(f"{mean:.3f} [")
    assert kde.split(" | ")[3].startswith("0.900 [")  # the oracle at the boxes' area
    assert "baseline" in scores["| naive-mean | baseline"]
    shares = _table_rows(text, "share of the oracle gap")
    box_share = shares["| kde | top-20 box hit rate"].split(" | ")[-1].rstrip(" |")
    # (0.1 gain) / (0.9 oracle − naive-mean's mean box hit rate)
    base = clear_metrics.query("model == 'naive-mean' and metric == 'box_hit_rate'")
    want = (mean - base["value"].mean()) / (0.9 - base["value"].mean())
    assert box_share == f"{want * 100:.0f} %"
    assert baseline_comparison(summarise(clear_metrics, 200, 0), "kde") in text


def test_selection_section_opens_the_report(clear_report):
    text, selection = clear_report
    assert selection.winner == "kde" and selection.beats_baseline_clearly
    choice = text.index("## Model choice")
    assert choice < text.index("![map](map.png)") < text.index("## Backtest")
    assert escape_text(selection.explain()) in text
    assert "kde is published: it beat the best baseline naive-mean" in text
    rows = _table_rows(text, "## Model choice")
    assert rows["| **kde** | candidate"].split(" | ")[3] == "0 (best)"
    assert rows["| naive-last | baseline"].rstrip(" |").endswith("| no")


def test_selection_says_plainly_when_a_baseline_wins():
    metrics = _metrics("all", kde_box_gain=0.0)
    selection = select_model(metrics, ["naive-last", "naive-mean", "kde"], n_bootstrap=200)
    assert selection.winner == "naive-mean"
    text = "\n".join(choice_section(selection))
    assert "A baseline is published: naive-mean. No candidate model beat the baselines" in text
    assert escape_text(selection.explain()) in text
    assert choice_section(None) == []


def test_several_targets_each_get_a_block_and_the_cube_target_the_prose():
    metrics = pd.concat([_metrics("crime", 0.0, seed=5), _metrics("burglary", 0.10)],
                        ignore_index=True)
    record = _record(metrics)
    text = "\n".join(backtest_section(record, "kde", target="burglary",
                                      target_title="Burglary"))
    assert text.index("### Burglary (`burglary`)") < text.index("### crime (`crime`)")
    summary = record.summary_table
    prose = baseline_comparison(summary, "kde", target="burglary")
    assert prose in text and baseline_comparison(summary, "kde", target="crime") != prose
    crime = _table_rows(text, "crime: each model against the best baseline")
    assert "*" not in crime["| kde | top-20 box hit rate"]
    burglary = _table_rows(text, "Burglary: each model against the best baseline")
    assert burglary["| kde | top-20 box hit rate"].split(" | ")[5].endswith(" *")


def test_only_baselines_say_there_is_nothing_to_compare(published):
    text = published["report"].read_text()
    assert "Every model in this record is a baseline" in text
