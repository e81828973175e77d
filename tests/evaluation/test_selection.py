"""``auto``: the published model is the one its backtest record earned."""

import json

import numpy as np
import pandas as pd
import pytest

from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.selection import RULE, SIMPLICITY, select_model, simplicity_key

# period-to-period swings every model shares, so only paired differences are tight
SWINGS = np.array([0.30, 0.45, 0.25, 0.50, 0.35, 0.40, 0.28, 0.47])


def _metrics(scores, metric="box_hit_rate", coverage=np.nan, target="burglary"):
    """Long metrics table from ``{model: per-period values}``."""
    rows = []
    for model, values in scores.items():
        for i, value in enumerate(values):
            rows.append({"model": model, "target": target, "origin": f"2020-{i + 1:02d}",
                         "target_period": f"2020-{i + 2:02d}", "metric": metric,
                         "coverage": coverage, "value": value})
    return pd.DataFrame(rows)


def test_select_clear_winner_is_chosen_and_beats_the_baseline():
    table = _metrics({"naive-mean": SWINGS, "naive-longrun": SWINGS + 0.01,
                      "kde": SWINGS + 0.05, "prospective-hotspot": SWINGS + 0.02})
    sel = select_model(table, ["naive-mean", "naive-longrun", "kde", "prospective-hotspot"])
    assert sel.winner == sel.best == "kde"
    assert sel.best_baseline == "naive-longrun"
    assert sel.diff_vs_baseline == pytest.approx(0.04)
    assert sel.ci_vs_baseline[0] > 0 and sel.beats_baseline_clearly
    assert not sel.winner_is_baseline and sel.n_periods == len(SWINGS)
    assert sel.table.iloc[0]["model"] == "kde" and sel.table.iloc[0]["rank"] == 1


def test_select_best_record_wins_among_models_that_beat_the_baselines():
    noise = np.array([0.02, -0.02, 0.01, -0.01, 0.02, -0.015, 0.0, -0.005])
    table = _metrics({"naive-mean": SWINGS, "kde": SWINGS + 0.06,
                      "prospective-hotspot": SWINGS + 0.06 + 0.004 + noise})
    sel = select_model(table, ["prospective-hotspot", "kde", "naive-mean"], seed=3)
    # not told apart from kde, but both clear the baseline: the best record is published,
    # not the weaker of two models that both earned their place
    assert sel.best == sel.winner == "prospective-hotspot"
    row = sel.table.set_index("model").loc["kde"]
    assert row["tied_with_best"] and row["diff_ci_low"] < 0 < row["diff_ci_high"]
    assert sel.beats_baseline_clearly and "clear of zero" in sel.explain()


def test_select_an_exact_tie_goes_to_the_simpler_model():
    table = _metrics({"naive-mean": SWINGS, "kde": SWINGS + 0.05,
                      "prospective-hotspot": SWINGS + 0.05})
    sel = select_model(table, ["prospective-hotspot", "kde", "naive-mean"])
    assert sel.best == sel.winner == "kde"


def test_select_publishes_the_baseline_and_says_so_when_nothing_beats_it():
    noise = np.array([0.03, -0.03, 0.02, -0.02, 0.03, -0.025, 0.01, -0.005])
    table = _metrics({"naive-mean": SWINGS, "prospective-hotspot": SWINGS + 0.005 + noise})
    sel = select_model(table, ["prospective-hotspot", "naive-mean"])
    assert sel.best == "prospective-hotspot" and sel.winner == "naive-mean"
    assert sel.winner_is_baseline and not sel.beats_baseline_clearly
    text = sel.explain()
    assert "no candidate beat the baselines clearly" in text
    gap = f"{np.mean(0.005 + noise):+.3f}"
    assert "baseline naive-mean is published" in text
    assert f"best was prospective-hotspot, {gap} [-" in text


def test_select_the_best_baseline_is_published_not_the_simplest():
    noise = np.array([0.03, -0.03, 0.02, -0.02, 0.03, -0.025, 0.01, -0.005])
    table = _metrics({"naive-last": SWINGS, "naive-mean": SWINGS + 0.005 + noise,
                      "kde": SWINGS + 0.006 + noise[::-1]})
    sel = select_model(table, ["kde", "naive-mean", "naive-last"])
    assert sel.best == "kde" and sel.winner == "naive-mean" and sel.winner_is_baseline
    assert "no candidate beat the baselines clearly" in sel.explain()


def test_select_one_period_has_no_ci_and_publishes_the_baseline():
    table = _metrics({"naive-mean": SWINGS[:1], "kde": SWINGS[:1] + 0.2})
    sel = select_model(table, ["kde", "naive-mean"])
    assert sel.best == "kde" and sel.winner == "naive-mean" and sel.n_periods == 1
    assert "over 1 period:" in sel.explain() and "[no CI]" in sel.explain()
    assert "no model can beat the baselines clearly" in sel.explain()


def test_select_lower_deviance_wins():
    table = _metrics({"naive-last": SWINGS + 1.0, "kde": SWINGS + 0.5},
                     metric="poisson_deviance")
    sel = select_model(table, ["naive-last", "kde"], score="poisson_deviance")
    assert sel.winner == "kde" and sel.beats_baseline_clearly
    assert sel.diff_vs_baseline == pytest.approx(-0.5) and sel.ci_vs_baseline[1] < 0
    assert "lower is better" in sel.explain()


def test_select_drops_nan_periods_for_all_candidates():
    kde = SWINGS + 0.05
    naive = SWINGS.copy()
    naive[2] = np.nan  # a month without crimes: undefined for this model, dropped for all
    kde[5] = 100.0  # would dominate kde's mean if its NaN-free period were kept
    naive[5] = np.nan
    table = _metrics({"naive-mean": naive, "kde": kde})
    sel = select_model(table, ["naive-mean", "kde"])
    assert sel.n_periods == len(SWINGS) - 2
    kept = np.delete(SWINGS, [2, 5])
    means = sel.table.set_index("model")["mean"]
    assert means["kde"] == pytest.approx(kept.mean() + 0.05)
    assert means["naive-mean"] == pytest.approx(kept.mean())


def test_select_is_deterministic_with_a_seed():
    rng = np.random.default_rng(7)
    table = _metrics({m: SWINGS + rng.normal(0, 0.03, SWINGS.size)
                      for m in ("naive-mean", "kde", "prospective-hotspot")})
    first = select_model(table, ["naive-mean", "kde", "prospective-hotspot"], seed=11)
    again = select_model(table, ["naive-mean", "kde", "prospective-hotspot"], seed=11)
    other = select_model(table, ["naive-mean", "kde", "prospective-hotspot"], seed=12)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.to_dict() == again.to_dict()
    assert not first.table["ci_low"].equals(other.table["ci_low"])


def test_explain_names_winner_margin_and_ci():
    table = _metrics({"naive-longrun": SWINGS, "kde": SWINGS + 0.041})
    sel = select_model(table, ["kde", "naive-longrun"])
    text = sel.explain()
    assert text.startswith("auto chose kde on top-20-box hit rate for target burglary over 8")
    assert "vs best baseline naive-longrun" in text and "+0.041 [+0.041, +0.041]" in text
    assert "+0.041], clear of zero. " in text and text.endswith(RULE)
    payload = sel.to_dict()
    assert json.loads(json.dumps(payload))["winner"] == "kde"
    assert payload["explanation"] == text


def test_select_coverage_picks_the_row_and_target_filters():
    low = _metrics({"naive-mean": SWINGS, "kde": SWINGS + 0.1}, metric="hit_rate",
                   coverage=0.01)
    high = _metrics({"naive-mean": SWINGS + 0.2, "kde": SWINGS}, metric="hit_rate",
                    coverage=0.05)
    other = _metrics({"naive-mean": SWINGS + 0.5, "kde": SWINGS}, metric="hit_rate",
                     coverage=0.01, target="all")
    table = pd.concat([low, high, other])
    assert select_model(table, ["naive-mean", "kde"], score="hit_rate", coverage=0.01,
                        target="burglary").winner == "kde"
    assert select_model(table, ["naive-mean", "kde"], score="hit_rate", coverage=0.05,
                        target="burglary").winner == "naive-mean"
    with pytest.raises(ConfigError, match="several targets"):
        select_model(table, ["kde"], score="hit_rate", coverage=0.01)
    with pytest.raises(ConfigError, match="needs a coverage: give one of 0.01, 0.05"):
        select_model(table, ["kde"], score="hit_rate", target="burglary")


def test_select_errors_name_the_score_and_the_valid_ones():
    table = _metrics({"kde": SWINGS})
    with pytest.raises(DataError, match="has log_score scores"):
        select_model(table, ["kde"], score="log_score")
    with pytest.raises(ConfigError, match="unknown selection score 'hits'.*box_hit_rate"):
        select_model(table, ["kde"], score="hits")


def test_select_unscored_candidates_are_left_out_and_named():
    table = _metrics({"naive-mean": SWINGS, "kde": SWINGS + 0.05})
    sel = select_model(table, ["kde", "naive-mean", "sepp"])
    assert sel.winner == "kde" and sel.unscored == ("sepp",)
    assert "not scored, left out: sepp" in sel.explain()


def test_simplicity_order_puts_unknown_names_last():
    names = ["zeta", "ensemble", "glm[weather]", "alpha", "naive-last"]
    assert sorted(names, key=simplicity_key) == [
        "naive-last", "glm[weather]", "ensemble", "alpha", "zeta"]
    assert SIMPLICITY[0] == "naive-last" and SIMPLICITY[-1] == "ensemble"
