import numpy as np
import pandas as pd

from hotspot.evaluation.backtest import backtest
from hotspot.evaluation.compare import best_baseline, is_baseline, paired_differences
from hotspot.models.naive_longrun import NaiveLongrun
from hotspot.models.registry import MODELS


class _Climatology(NaiveLongrun):
    """A baseline by its tag, whatever its name."""

    name = "climatology"


def _metrics(values_a, values_b, metric="pai", coverage=0.05):
    periods = [f"2020-{m:02d}" for m in range(1, len(values_a) + 1)]
    rows = [{"model": m, "origin": "", "target_period": p, "metric": metric,
             "coverage": coverage, "value": v}
            for m, vals in (("a", values_a), ("b", values_b)) for p, v in zip(periods, vals,
                                                                              strict=True)]
    return pd.DataFrame(rows)


def test_paired_difference_sees_a_consistent_small_gain_through_big_swings():
    base = np.array([1.0, 5.0, 2.0, 8.0, 3.0, 6.0, 4.0, 7.0])
    table = paired_differences(_metrics(base + 0.1, base), "a", "b", seed=1)
    row = table.iloc[0]
    assert abs(row["mean_diff"] - 0.1) < 1e-9
    assert row["better"]


def test_lower_deviance_is_better():
    table = paired_differences(_metrics([1.0, 1.1, 0.9], [2.0, 2.2, 1.9],
                                        metric="poisson_deviance", coverage=np.nan), "a", "b")
    assert table.iloc[0]["better"] and np.isnan(table.iloc[0]["coverage"])


def test_no_difference_is_not_better():
    table = paired_differences(_metrics([1.0, 2.0, 3.0, 1.0], [1.2, 1.8, 3.1, 0.9]), "a", "b")
    assert not table.iloc[0]["better"]


def test_best_baseline_on_a_backtest(hot_cell_cube):
    result = backtest(hot_cell_cube, ["naive-last", "naive-mean", "naive-longrun"],
                      "2020-01", "2020-12", n_bootstrap=200)
    best = best_baseline(result.summary_table, "poisson_deviance")
    assert best in {"naive-mean", "naive-longrun"}  # averaging beats the last month's noise


def test_baselines_are_found_by_tag_under_any_label(monkeypatch):
    monkeypatch.setitem(MODELS, "climatology", f"{__name__}:_Climatology")
    assert is_baseline("naive-mean") and is_baseline("naive-mean[k=3]")
    assert is_baseline("climatology") and is_baseline("climatology[none]")
    assert not is_baseline("glm[weather]") and not is_baseline("kde")
    assert not is_baseline("naive-nonexistent")  # a name, not a registered baseline
    summary = pd.DataFrame({
        "model": ["glm[weather]", "naive-mean[k=3]", "climatology", "naive-nonexistent"],
        "metric": "pai", "coverage": 0.05, "mean": [9.0, 2.0, 3.0, 8.0]})
    assert best_baseline(summary, "pai", 0.05) == "climatology"
