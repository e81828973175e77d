"""Synthetic control and placebo in time on synthetic series."""

from __future__ import annotations

import numpy as np
import pytest

from hotspot.evaluation.claims.its import fit_its
from hotspot.evaluation.claims.placebo import fit_placebo_time, placebo_effects, placebo_starts
from hotspot.evaluation.claims.synth import fit_synth, synth_weights

from .conftest import make_panel


def test_weights_are_non_negative_sum_to_one_and_recover_a_mix():
    rng = np.random.default_rng(0)
    donors = rng.uniform(0.5, 1.5, (30, 6))
    true = np.array([0.5, 0.3, 0.2, 0, 0, 0])
    w = synth_weights(donors @ true, donors)
    assert (w >= 0).all()
    assert w.sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(w, true, atol=1e-4)


def test_weights_stay_in_the_simplex_when_the_target_is_outside_the_hull():
    donors = np.ones((10, 3)) * np.array([1.0, 2.0, 3.0])
    w = synth_weights(np.full(10, 5.0), donors)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
    assert w[2] == pytest.approx(1.0, abs=1e-6)


def test_synthetic_control_is_close_to_a_30_percent_drop():
    s = make_panel(effect=0.7, level=80, seed=4)
    e = fit_synth(s.treated, s.controls, s.post, control_ids=s.control_ids)
    assert abs(e.estimate - 0.7) < 0.08
    assert e.ci_high < 1
    assert e.p_value == pytest.approx(1 / 21)  # the treated unit ranks first
    assert len(e.extra["placebo_ratios"]) == 20
    assert e.extra["synthetic"].shape == s.treated.shape


def test_synthetic_control_null_contains_one():
    s = make_panel(effect=1.0, level=80, seed=6)
    e = fit_synth(s.treated, s.controls, s.post)
    assert e.contains(1.0)
    assert e.p_value > 0.05


def test_synthetic_control_needs_donors():
    s = make_panel(n_controls=3)
    assert np.isnan(fit_synth(s.treated, s.controls, s.post).estimate)


def test_placebo_starts_leave_room_before_the_real_start():
    assert placebo_starts(36, 6, 12) == list(range(12, 31))
    assert placebo_starts(15, 6, 12) == []


def _placebo(s):
    effects = placebo_effects(s.treated, s.months, s.post)
    its = fit_its(s.treated, s.months, s.post, placebo_z=effects.z)
    return its, fit_placebo_time(effects, its.extra["log_rr"], s.n_pre), effects


def test_placebo_in_time_separates_a_big_drop_from_the_null():
    _, drop, effects = _placebo(make_panel(effect=0.5, level=60, seed=13))
    assert drop.p_value == pytest.approx(1 / 20)  # 19 fake starts, none as extreme
    assert len(drop.extra["placebo_log_rr"]) == 19 == len(effects.starts)
    assert drop.ci_high < 1
    its0, null, _ = _placebo(make_panel(effect=1.0, level=60, seed=14))
    assert null.p_value > 0.05
    assert null.contains(1.0)
    assert null.estimate == pytest.approx(its0.estimate)


def test_placebo_z_scores_are_near_one_for_a_correct_model():
    z = np.concatenate([placebo_effects(s.treated, s.months, s.post).z
                        for s in (make_panel(level=40, seed=20 + k) for k in range(6))])
    assert 0.5 < np.mean(z**2) < 2.0


def test_placebo_in_time_needs_enough_history():
    s = make_panel(n_pre=14)
    its, e, _ = _placebo(s)
    assert np.isnan(e.estimate) and "fake starts" in e.note
    assert its.extra["kappa"] == 1.0  # too few placebos: no inflation
