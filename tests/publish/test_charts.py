"""The charts' numbers: coverage curves, the oracle, calibration bins and period scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hotspot.core.coverages import DEFAULT_COVERAGES
from hotspot.publish.charts import (
    ORACLE,
    backtest_charts,
    calibration_bins,
    curves_from_metrics,
    hit_rate_curves,
    period_scores,
)
from hotspot.publish.report import cell_areas

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_predictions() -> tuple[pd.DataFrame, pd.Series]:
    """Three cells, A and B of 1 m² and C of 2 m²; two models, two periods.

    Period 1 observed A=3, B=1, C=0; ``good`` ranks A, B, C and ``bad`` B, C, A.
    Period 2 observed A=0, B=2, C=2; both rank A first.
    """
    rows = []
    for period, observed in (("2020-01", (3, 1, 0)), ("2020-02", (0, 2, 2))):
        expected = {"good": (3.0, 2.0, 1.0), "bad": (0.0, 5.0, 1.0)}
        if period == "2020-02":
            expected = {"good": (9.0, 1.0, 1.0), "bad": (9.0, 1.0, 0.0)}
        for model, values in expected.items():
            for cell, e, y in zip("ABC", values, observed, strict=True):
                rows.append({"model": model, "target": "crime", "origin": "x",
                             "target_period": period, "cell_id": cell, "expected": e,
                             "observed": y})
    return pd.DataFrame(rows), pd.Series({"A": 1.0, "B": 1.0, "C": 2.0})


def test_hit_rate_curves_on_a_hand_made_table():
    predictions, area = tiny_predictions()
    curves = hit_rate_curves(predictions, area, coverages=[0.0, 0.25, 0.5, 1.0])
    value = curves.set_index(["model", "coverage"])["hit_rate"]
    # period 1, 25 % = 1 m²: good takes A (3 of 4), bad takes B (1 of 4), oracle A
    # period 2, 25 %: both models take A (0 of 4); oracle takes B (density 2) = 2 of 4
    assert value[("good", 0.25)] == pytest.approx((0.75 + 0.0) / 2)
    assert value[("bad", 0.25)] == pytest.approx((0.25 + 0.0) / 2)
    assert value[(ORACLE, 0.25)] == pytest.approx((0.75 + 0.5) / 2)
    # 50 % = 2 m². Period 1: bad takes B and half of C (no crime), good and the oracle A
    # and B (all 4). Period 2: both models take A and B (2 of 4); the oracle B and half of
    # C (2 + 1 of 4)
    assert value[("bad", 0.5)] == pytest.approx((0.25 + 0.5) / 2)
    assert value[("good", 0.5)] == pytest.approx((1.0 + 0.5) / 2)
    assert value[(ORACLE, 0.5)] == pytest.approx((1.0 + 0.75) / 2)
    for model in ("good", "bad", ORACLE):
        assert value[(model, 0.0)] == 0.0 and value[(model, 1.0)] == pytest.approx(1.0)
    assert set(curves["n_periods"]) == {2}


def test_oracle_curve_is_at_least_every_model_at_every_coverage(backtest_result, cube):
    curves = hit_rate_curves(backtest_result.predictions, cell_areas(cube))
    wide = curves.pivot_table(index="coverage", columns="model", values="hit_rate")
    models = [m for m in wide.columns if m != ORACLE]
    assert len(models) == 3 and len(wide) == 201
    assert (wide[models].le(wide[ORACLE] + 1e-12, axis=0)).all().all()
    assert (wide.diff().dropna() >= -1e-12).all().all()  # more area never catches less


def test_curves_from_predictions_equal_the_metrics_at_the_set_coverages(backtest_result,
                                                                        cube):
    curves = hit_rate_curves(backtest_result.predictions, cell_areas(cube),
                             coverages=DEFAULT_COVERAGES)
    from_metrics = curves_from_metrics(backtest_result.metrics)
    joined = curves.merge(from_metrics, on=["target", "model", "coverage"],
                          suffixes=("", "_metrics"))
    assert len(joined) == len(curves) == 4 * len(DEFAULT_COVERAGES)
    np.testing.assert_allclose(joined["hit_rate"], joined["hit_rate_metrics"], atol=1e-9)


def test_curves_refuse_predictions_on_another_grid():
    predictions, area = tiny_predictions()
    with pytest.raises(Exception, match="cell 'C'"):
        hit_rate_curves(predictions, area.drop("C"))


def test_calibration_bins_on_a_known_case():
    expected = np.arange(1.0, 11.0)
    frame = pd.DataFrame({"model": "m", "target": "crime", "expected": expected,
                          "observed": 2 * expected})
    flat = pd.DataFrame({"model": "flat", "target": "crime", "expected": 1.5,
                         "observed": [0, 1, 2, 3]})
    bins = calibration_bins(pd.concat([frame, flat], ignore_index=True), n_bins=5)
    m = bins[bins["model"] == "m"]
    assert list(m["n_cells"]) == [2] * 5
    np.testing.assert_allclose(m["mean_expected"], [1.5, 3.5, 5.5, 7.5, 9.5])
    np.testing.assert_allclose(m["mean_observed"], 2 * m["mean_expected"])
    # equal expected values are never split: one bin, the mean of what was observed
    f = bins[bins["model"] == "flat"]
    assert len(f) == 1 and f["mean_observed"].iloc[0] == pytest.approx(1.5)


def test_period_scores_are_the_box_hit_rates(backtest_result):
    scores = period_scores(backtest_result.metrics)
    metrics = backtest_result.metrics
    box = metrics[metrics["metric"] == "box_hit_rate"]
    assert len(scores) == len(box) == 3 * 6
    merged = scores.merge(box, on=["target", "model", "target_period"])
    np.testing.assert_allclose(merged["value_x"], merged["value_y"])


def test_backtest_charts_draw_three_pngs_per_target(backtest_result, cube):
    charts = backtest_charts(backtest_result, cell_areas(cube))
    assert [c.key for c in charts] == ["chart_scores_all", "chart_coverage_all",
                                       "chart_calibration_all"]
    assert all(c.png.startswith(PNG_MAGIC) and len(c.png) > 5000 for c in charts)
    # without the areas, the coverage chart falls back to the metrics' set coverages
    fallback = backtest_charts(backtest_result)
    assert "set coverages" in fallback[1].caption and len(fallback) == 3
