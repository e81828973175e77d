"""Top-N box scores, the oracle hit rate, the log score and what the tables carry."""

import math

import numpy as np
import pandas as pd
import pytest

from hotspot.core.coverages import DEFAULT_BOXES, DEFAULT_COVERAGES
from hotspot.core.errors import ConfigError
from hotspot.evaluation import parallel
from hotspot.evaluation.backtest import METRIC_COLUMNS, BacktestResult, backtest
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.metrics import (
    DEVIANCE_FLOOR,
    box_rows,
    box_scores,
    log_score,
    score_forecast,
)

# 6 cells: densities 2, 4, 2, 1, 1, 0 — "a" and "c" tie, so does "d" with "e"
IDS = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)
AREA = np.array([1.0, 1.0, 2.0, 1.0, 1.0, 2.0])
EXPECTED = np.array([2.0, 4.0, 4.0, 1.0, 1.0, 0.0])
OBSERVED = np.array([1.0, 3.0, 5.0, 0.0, 1.0, 0.0])


def _value(table, metric, coverage=None):
    rows = table[table["metric"] == metric]
    if coverage is not None:
        rows = rows[np.isclose(rows["coverage"], coverage)]
    return rows


def test_box_hit_rate_and_pai_by_hand_with_the_cell_id_tie_rule():
    # boxes = "b" then "a" (ties with "c" on density, wins on id): 2 of 8 m²
    share, hit, pai, oracle = box_scores(EXPECTED, OBSERVED, AREA, IDS, boxes=2)
    assert share == pytest.approx(0.25)
    assert hit == pytest.approx(4 / 10)
    assert pai == pytest.approx(0.4 / 0.25)
    # oracle on 2 m² by observed density: "b" (3 per m²) whole, then half of "c" (5 on 2 m²)
    assert oracle == pytest.approx((3 + 2.5) / 10)
    # "c" comes third: had the tie gone to "c", two boxes would have held 8 of 10 crimes
    share3, hit3, _, _ = box_scores(EXPECTED, OBSERVED, AREA, IDS, boxes=3)
    assert share3 == pytest.approx(4 / 8) and hit3 == pytest.approx(9 / 10)


def test_score_forecast_box_rows_carry_the_boxes_area_share():
    table = score_forecast(EXPECTED, OBSERVED, AREA, IDS, [0.5], boxes=2)
    for metric, value in (("box_hit_rate", 0.4), ("box_pai", 1.6), ("oracle_hit_rate", 0.55)):
        row = _value(table, metric, 0.25)
        assert len(row) == 1 and row["value"].iloc[0] == pytest.approx(value)
    assert _value(table, "oracle_hit_rate", 0.5)["value"].iloc[0] == pytest.approx(0.9)
    assert set(table["metric"]) == {"hit_rate", "pai", "pei", "oracle_hit_rate", "box_hit_rate",
                                    "box_pai", "log_score", "poisson_deviance"}
    assert table.loc[table["metric"].isin(["log_score", "poisson_deviance"]),
                     "coverage"].isna().all()


def test_more_boxes_than_cells_takes_them_all():
    share, hit, pai, oracle = box_scores(EXPECTED, OBSERVED, AREA, IDS, boxes=DEFAULT_BOXES)
    assert (share, hit, pai, oracle) == pytest.approx((1.0, 1.0, 1.0, 1.0))


@pytest.mark.parametrize("bad", [0, -3, 2.5, "x", True])
def test_bad_box_counts_are_refused(bad):
    with pytest.raises(ConfigError, match="--boxes"):
        box_scores(EXPECTED, OBSERVED, AREA, IDS, boxes=bad)


def test_oracle_is_never_beaten():
    rng = np.random.default_rng(11)
    coverages = [0.005, 0.01, 0.05, 0.2, 0.5]
    for _ in range(40):
        n = int(rng.integers(5, 120))
        area = rng.uniform(0.25, 1.0, n)  # no unit under a quarter of a full cell
        ids = np.array([f"c{i:03d}" for i in rng.permutation(n)], dtype=object)
        observed = rng.poisson(rng.uniform(0.1, 3.0), n).astype(float)
        if observed.sum() == 0:
            observed[0] = 1.0
        expected = rng.gamma(1.0, 1.0, n) * rng.integers(0, 2, n)  # with ties at zero
        table = score_forecast(expected, observed, area, ids, coverages,
                               boxes=int(rng.integers(1, 30)))
        hit = _value(table, "hit_rate")["value"].to_numpy()
        oracle = table[table["metric"] == "oracle_hit_rate"]["value"].to_numpy()
        assert np.all(oracle[:len(coverages)] >= hit - 1e-12)
        box = _value(table, "box_hit_rate")["value"].iloc[0]
        assert oracle[-1] >= box - 1e-12 and oracle[-1] <= 1.0
        assert np.all(_value(table, "pei")["value"].to_numpy() <= 1.0 + 1e-12)


def test_log_score_by_hand_and_at_the_floor():
    mu, y = np.array([1.0, 2.0]), np.array([0.0, 3.0])
    manual = np.mean([-1.0, 3 * math.log(2) - 2 - math.log(6)])
    assert log_score(mu, y) == pytest.approx(manual)
    assert log_score(np.zeros(1), np.ones(1)) == pytest.approx(math.log(DEVIANCE_FLOOR)
                                                               - DEVIANCE_FLOOR)
    assert log_score(y + 0.5, y) < log_score(y + 1e-9, y)  # sharper right forecast is better
    # a harm (non-integer) target: the same formula, lgamma of y + 1
    assert log_score(np.array([2.0]), np.array([1.5])) == pytest.approx(
        1.5 * math.log(2) - 2 - math.lgamma(2.5))


def test_a_period_without_crimes():
    table = score_forecast(EXPECTED, np.zeros(6), AREA, IDS, [0.1, 0.5], boxes=2)
    scores = table[~table["metric"].isin(["log_score", "poisson_deviance"])]
    assert scores["value"].isna().all()
    assert _value(table, "box_hit_rate")["coverage"].iloc[0] == pytest.approx(0.25)
    assert _value(table, "log_score")["value"].iloc[0] == pytest.approx(-EXPECTED.mean(),
                                                                        abs=1e-5)
    assert np.isfinite(_value(table, "poisson_deviance")["value"].iloc[0])


def test_default_coverages_and_boxes():
    assert DEFAULT_COVERAGES == (0.005, 0.01, 0.02, 0.05, 0.10, 0.20)
    assert DEFAULT_BOXES == 20


def _long(table, model, period):
    return table.assign(model=model, target="all", origin="", target_period=period)


def test_box_rows_find_the_oracle_even_when_its_share_is_a_set_coverage():
    ids, area = np.array(["a", "b", "c", "d"]), np.ones(4)
    one = score_forecast(np.array([4.0, 3, 2, 1]), np.array([1.0, 0, 3, 0]), area, ids,
                         [0.25, 0.5], boxes=1)  # 1 box of 4 = the set coverage 0.25
    mask = box_rows(_long(one, "m", "2020-01"))
    marked = one[mask]
    assert sorted(marked["metric"]) == ["box_hit_rate", "box_pai", "oracle_hit_rate"]
    assert marked.index[marked["metric"] == "oracle_hit_rate"][0] == one.index[
        one["metric"] == "oracle_hit_rate"][-1]
    assert (one["metric"] == "oracle_hit_rate").sum() == 3  # 0.25, 0.5 and the boxes'


def test_summary_has_one_box_row_per_model_with_the_mean_share():
    frames = []
    for i, (expected, observed) in enumerate([(EXPECTED, OBSERVED),
                                              (np.array([0.0, 0, 6, 0, 0, 0]), OBSERVED)]):
        frames.append(_long(score_forecast(expected, observed, AREA, IDS, [0.5], boxes=2),
                            "m", f"2020-0{i + 1}"))
    summary = summarise(pd.concat(frames, ignore_index=True), n_resamples=50)
    box = summary[summary["metric"] == "box_hit_rate"]
    assert len(box) == 1 and box["n_periods"].iloc[0] == 2
    # period 2 boxes: "c" (2 m²), then "a" first of the zero-density tie: 3 m² of 8
    assert box["coverage"].iloc[0] == pytest.approx((0.25 + 3 / 8) / 2)
    oracle = summary[summary["metric"] == "oracle_hit_rate"]
    assert len(oracle) == 2 and list(summary.columns[:4]) == ["model", "target", "metric",
                                                              "coverage"]


def test_backtest_records_target_and_boxes_and_concat_joins_targets(hot_cell_cube):
    plain = backtest(hot_cell_cube, ["naive-last"], "2020-11", "2020-12", n_bootstrap=50,
                     boxes=3)
    burglary = backtest(hot_cell_cube.assign_attrs(target="burglary"), ["naive-last"],
                        "2020-11", "2020-12", n_bootstrap=50, boxes=3)
    assert set(burglary.metrics["target"]) == {"burglary"}
    assert set(burglary.predictions["target"]) == {"burglary"}
    assert burglary.settings["target"] == "burglary" and burglary.settings["boxes"] == 3
    box = burglary.metrics[burglary.metrics["metric"] == "box_hit_rate"]
    assert np.allclose(box["coverage"], 3 / hot_cell_cube.sizes["cell"])  # equal cells
    joined = BacktestResult.concat([plain, burglary])
    assert joined.settings["targets"] == ["all", "burglary"] and "target" not in joined.settings
    assert list(joined.metrics.columns) == METRIC_COLUMNS
    assert len(joined.metrics) == len(plain.metrics) + len(burglary.metrics)
    assert set(joined.summary_table["target"]) == {"all", "burglary"}
    text = joined.summary()
    assert "naive-last [burglary]" in text and "top-3 hit_rate" in text and "log_score" in text
    with pytest.raises(ConfigError):
        BacktestResult.concat([])


def test_checkpoint_keys_depend_on_boxes_and_target(hot_cell_cube):
    unit = parallel.make_unit("naive-last", "2020-11", "2020-12")
    fingerprint = parallel.cube_fingerprint(hot_cell_cube)
    assert unit.key(fingerprint, (0.05,), 20) != unit.key(fingerprint, (0.05,), 10)
    assert fingerprint != parallel.cube_fingerprint(hot_cell_cube.assign_attrs(target="crime"))


def test_harm_observed_counts_stay_fractional(hot_cell_cube):
    harm = hot_cell_cube.assign(counts=hot_cell_cube["counts"] * 0.5).assign_attrs(
        target="harm")
    unit = parallel.make_unit("naive-last", "2020-11", "2020-12")
    result = parallel.score_unit(harm, unit, [0.05], boxes=2)
    expected = harm["counts"].values[-1]
    np.testing.assert_allclose(result.predictions["observed"].to_numpy(), expected)
    assert set(result.metrics["target"]) == {"harm"}
