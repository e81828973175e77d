"""Every model against the best baseline per score, and the share of the oracle gap."""

import numpy as np
import pandas as pd
import pytest

from hotspot.evaluation.compare import (
    COMPARISON_COLUMNS,
    comparison_table,
    oracle_share,
    paired_differences,
)

PERIODS = [f"2020-{m:02d}" for m in range(1, 9)]
SWING = np.array([0.0, 0.2, -0.1, 0.3, -0.2, 0.1, 0.25, -0.15])  # shared by every model


def _rows(model, metric, values, coverage=np.nan, target="all", coverages=None):
    coverages = coverages if coverages is not None else [coverage] * len(values)
    return [{"model": model, "target": target, "origin": "", "target_period": p,
             "metric": metric, "coverage": c, "value": v}
            for p, v, c in zip(PERIODS, values, coverages, strict=True)]


def _table(target="all"):
    """kde beats both baselines on box hit rate (each model's boxes cover their own share)
    and loses on deviance; naive-mean is the best baseline on boxes, naive-last on
    deviance."""
    rows = []
    box = {"naive-last": 0.30, "naive-mean": 0.40, "kde": 0.50}
    for offset, (model, level) in enumerate(box.items()):
        shares = list(0.01 + 0.001 * offset + 0.0001 * np.arange(8))  # varies per forecast
        rows += _rows(model, "box_hit_rate", level + SWING * 0.1, target=target,
                      coverages=shares)
        rows += _rows(model, "oracle_hit_rate", np.full(8, 0.80), target=target,
                      coverages=shares)
    deviance = {"naive-last": 1.0, "naive-mean": 1.5, "kde": 1.2}
    for model, level in deviance.items():
        rows += _rows(model, "poisson_deviance", level + SWING, target=target)
    hit = {"naive-last": 0.2, "naive-mean": 0.25, "kde": 0.25}
    for model, level in hit.items():
        rows += _rows(model, "hit_rate", level + SWING, 0.05, target=target)
        rows += _rows(model, "oracle_hit_rate", np.full(8, 0.7), 0.05, target=target)
    return pd.DataFrame(rows)


def _get(table, metric, **where):
    rows = table[table["metric"] == metric]
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1
    return rows.iloc[0]


def test_comparison_picks_the_best_baseline_per_score_and_direction():
    table = comparison_table(_table(), n_bootstrap=500, seed=1)
    assert list(table.columns) == COMPARISON_COLUMNS
    assert set(table["model"]) == {"kde"}  # baselines are not compared with themselves
    box = _get(table, "box_hit_rate")
    assert box["baseline"] == "naive-mean" and np.isnan(box["coverage"])
    assert box["mean_diff"] == pytest.approx(0.10) and box["n_periods"] == 8
    assert box["clear"]  # the same +0.10 every period, whatever the shared swings
    deviance = _get(table, "poisson_deviance")
    assert deviance["baseline"] == "naive-last"  # lower is better
    assert deviance["mean_diff"] == pytest.approx(0.2) and not deviance["clear"]
    hit = _get(table, "hit_rate")
    assert hit["coverage"] == pytest.approx(0.05) and hit["baseline"] == "naive-mean"
    assert hit["mean_diff"] == pytest.approx(0.0) and not hit["clear"]


def test_pairs_drop_periods_either_side_lacks():
    metrics = _table()
    gone = (metrics["model"] == "naive-mean") & (metrics["metric"] == "box_hit_rate") & (
        metrics["target_period"].isin(PERIODS[:3]))
    metrics.loc[gone, "value"] = np.nan  # e.g. months without crimes for that model's rows
    box = _get(comparison_table(metrics, n_bootstrap=200), "box_hit_rate")
    assert box["n_periods"] == 5 and box["mean_diff"] == pytest.approx(0.10)
    assert box["baseline_mean"] == pytest.approx(0.40 + SWING[3:].mean() * 0.1)


def test_comparison_is_per_target_and_can_keep_one_coverage():
    both = pd.concat([_table("burglary"), _table("crime")], ignore_index=True)
    table = comparison_table(both, n_bootstrap=200, coverage=0.05)
    assert list(dict.fromkeys(table["target"])) == ["burglary", "crime"]
    assert set(table["metric"]) == {"box_hit_rate", "hit_rate", "poisson_deviance"}
    with pytest.raises(ValueError, match="target"):
        paired_differences(both, "kde", "naive-mean")
    one = paired_differences(both, "kde", "naive-mean", n_bootstrap=200, target="crime")
    assert "oracle_hit_rate" not in set(one["metric"])
    assert _get(one, "box_hit_rate")["better"]


def test_a_model_without_baselines_gets_no_baseline():
    metrics = _table()
    table = comparison_table(metrics[~metrics["model"].str.startswith("naive")],
                             n_bootstrap=100)
    assert table["baseline"].isna().all() and not table["clear"].any()


def test_oracle_share():
    table = oracle_share(_table())
    box = _get(table, "box_hit_rate")
    # on the means: kde 0.50 + s, best baseline naive-mean 0.40 + s, oracle 0.80
    s = SWING.mean() * 0.1
    expected = (0.5 - 0.4) / (0.8 - 0.4 - s)
    assert box["baseline"] == "naive-mean" and box["share"] == pytest.approx(expected)
    hit = _get(table, "hit_rate", coverage=0.05)
    assert hit["share"] == pytest.approx(0.0)
    metrics = _table()
    at_oracle = (metrics["metric"] == "oracle_hit_rate") & np.isclose(metrics["coverage"], 0.05)
    metrics.loc[at_oracle, "value"] = 0.2  # no room above the baseline
    assert np.isnan(_get(oracle_share(metrics), "hit_rate", coverage=0.05)["share"])
