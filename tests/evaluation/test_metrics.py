import numpy as np
import pytest

from hotspot.evaluation.metrics import (
    DEVIANCE_FLOOR,
    coverage_metrics,
    poisson_deviance,
    rank_cells,
    score_forecast,
)

IDS = np.array(["a", "b", "c", "d"], dtype=object)
AREA = np.ones(4)


def _metric(table, metric, coverage):
    row = table[(table["metric"] == metric) & np.isclose(table["coverage"], coverage)]
    return float(row["value"].iloc[0])


def test_hit_rate_pai_pei_on_a_hand_worked_example():
    expected = np.array([3.0, 2.0, 1.0, 0.0])
    observed = np.array([0.0, 5.0, 1.0, 4.0])
    table = coverage_metrics(expected, observed, AREA, IDS, [0.25, 0.5, 1.0])
    assert _metric(table, "hit_rate", 0.25) == 0.0  # top cell "a" had no crime
    assert _metric(table, "hit_rate", 0.5) == pytest.approx(0.5)  # a + b = 5 of 10
    assert _metric(table, "pai", 0.5) == pytest.approx(1.0)
    assert _metric(table, "pei", 0.5) == pytest.approx(0.5 / 0.9)  # best: b + d = 9
    assert _metric(table, "hit_rate", 1.0) == pytest.approx(1.0)


def test_partial_cell_counts_its_area_share():
    observed = np.array([8.0, 2.0, 0.0, 0.0])
    table = coverage_metrics(observed, observed, AREA, IDS, [0.125])  # half of cell "a"
    assert _metric(table, "hit_rate", 0.125) == pytest.approx(0.4)
    assert _metric(table, "pei", 0.125) == pytest.approx(1.0)


def test_perfect_forecast_has_pei_one_and_maximal_pai():
    rng = np.random.default_rng(3)
    observed = rng.poisson(2.0, 200).astype(float)
    area = rng.uniform(0.2, 1.0, 200)
    ids = np.array([f"c{i}" for i in range(200)], dtype=object)
    coverages = [0.01, 0.05, 0.2]
    perfect = coverage_metrics(observed, observed, area, ids, coverages)
    other = coverage_metrics(rng.random(200), observed, area, ids, coverages)
    for c in coverages:
        assert _metric(perfect, "pei", c) == pytest.approx(1.0)
        assert _metric(perfect, "pai", c) >= _metric(other, "pai", c)


def test_hit_rate_is_monotone_in_coverage():
    rng = np.random.default_rng(5)
    observed = rng.poisson(1.0, 100).astype(float)
    coverages = np.linspace(0.01, 1.0, 40)
    ids = np.array([f"c{i}" for i in range(100)], dtype=object)
    table = coverage_metrics(rng.random(100), observed, np.ones(100), ids, coverages)
    hits = table[table["metric"] == "hit_rate"]["value"].to_numpy()
    assert np.all(np.diff(hits) >= -1e-12)


def test_ties_are_broken_by_cell_id():
    order = rank_cells(np.array([1.0, 1.0, 1.0, 2.0]), AREA, np.array(["d", "b", "c", "a"]))
    assert order.tolist() == [3, 1, 2, 0]


def test_ranking_uses_density_so_small_edge_cells_can_rank_first():
    order = rank_cells(np.array([2.0, 1.0]), np.array([4.0, 1.0]), np.array(["a", "b"]))
    assert order.tolist() == [1, 0]


def test_period_without_crime_gives_nan_not_zero():
    table = coverage_metrics(np.ones(4), np.zeros(4), AREA, IDS, [0.5])
    assert table["value"].isna().all()


def test_poisson_deviance():
    y = np.array([0.0, 2.0, 5.0])
    assert poisson_deviance(y, y) == pytest.approx(0.0, abs=1e-5)  # the floor, for y = 0
    mu = np.array([1.0, 1.0, 1.0])
    manual = 2 * np.mean([0 - (0 - 1), 2 * np.log(2) - 1, 5 * np.log(5) - 4])
    assert poisson_deviance(mu, y) == pytest.approx(manual)
    floored = poisson_deviance(np.zeros(1), np.ones(1))
    assert floored == pytest.approx(2 * (np.log(1 / DEVIANCE_FLOOR) - 1 + DEVIANCE_FLOOR))


def test_score_forecast_has_every_metric():
    table = score_forecast(np.ones(4), np.ones(4), AREA, IDS, [0.01, 0.05])
    assert set(table["metric"]) == {"hit_rate", "pai", "pei", "oracle_hit_rate",
                                    "box_hit_rate", "box_pai", "log_score", "poisson_deviance"}
    for metric in ("poisson_deviance", "log_score"):
        assert table[table["metric"] == metric]["coverage"].isna().all()
