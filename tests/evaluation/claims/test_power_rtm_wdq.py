"""Power/MDE, regression to the mean and the weighted displacement quotient."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hotspot.evaluation.claims.displacement import fit_wdq, interpret, wdq
from hotspot.evaluation.claims.power import fit_power, nb_alpha, nb_mde, nb_power
from hotspot.evaluation.claims.rtm import fit_rtm


def test_power_increases_with_baseline_counts():
    for alpha in (0.0, 0.02):
        powers = [nb_power(0.88, mu, mu, 36, 6, alpha) for mu in (5, 20, 80, 320)]
        assert all(a < b for a, b in zip(powers, powers[1:], strict=False))
    poisson = [nb_power(0.88, mu, mu, 36, 6, 0.0) for mu in (5, 320)]
    assert poisson[0] < 0.2 and poisson[1] > 0.8


def test_power_falls_with_overdispersion_and_mde_matches_power():
    assert nb_power(0.8, 30, 30, 36, 6, 0.1) < nb_power(0.8, 30, 30, 36, 6, 0.0)
    mde = nb_mde(30, 30, 36, 6, 0.02)
    assert 0 < mde < 1
    assert nb_power(mde, 30, 30, 36, 6, 0.02) == pytest.approx(0.8, abs=1e-4)
    assert nb_mde(60, 60, 36, 6, 0.02) > mde  # more events: smaller detectable drop


def test_analytic_power_matches_a_simulated_wald_test():
    rng = np.random.default_rng(0)
    mu, rr, alpha, m, L, n_sim = 20.0, 0.8, 0.03, 36, 6, 3000

    def nb(mean, size):
        return rng.poisson(rng.gamma(1 / alpha, mean * alpha, size))

    pre = nb(mu, (n_sim, m)).mean(axis=1)
    post = nb(mu * rr, (n_sim, L)).mean(axis=1)
    log_rr = np.log(post / pre)
    se = np.sqrt((1 / (post) + alpha) / L + (1 / pre + alpha) / m)
    simulated = np.mean(np.abs(log_rr / se) > stats.norm.ppf(0.975))
    assert nb_power(rr, mu, mu, m, L, alpha) == pytest.approx(simulated, abs=0.05)


def test_nb_alpha_moment_estimate():
    rng = np.random.default_rng(1)
    mu = np.full(20000, 10.0)
    y = rng.poisson(rng.gamma(1 / 0.2, 10 * 0.2, mu.size))
    assert nb_alpha(y, mu) == pytest.approx(0.2, abs=0.02)
    assert nb_alpha(rng.poisson(mu), mu) == pytest.approx(0.0, abs=0.01)


def test_fit_power_rows():
    y = np.r_[np.full(36, 20.0), np.full(6, 17.0)]
    post = np.arange(42) >= 36
    power, mde = fit_power(y, post, 0.88, mu_fit=None, counterfactual=None)
    assert power.method == "power" and 0 < power.estimate < 1
    assert mde.method == "mde" and 0 < mde.estimate < 1
    no_claim, _ = fit_power(y, post, None, mu_fit=None, counterfactual=None)
    assert np.isnan(no_claim.estimate) and "--claimed" in no_claim.note


def test_rtm_flags_a_window_chosen_at_a_peak():
    rng = np.random.default_rng(2)
    y = rng.poisson(20, 42).astype(float)
    y[30:36] = rng.poisson(32, 6)  # the six months before the start
    post = np.arange(42) >= 36
    e = fit_rtm(y, post)
    assert e.extra["flagged"]
    assert e.estimate > 1.3 and e.p_value < 0.1
    assert "UNUSUAL HIGH" in e.note


def test_rtm_does_not_flag_an_ordinary_window():
    rng = np.random.default_rng(3)
    y = rng.poisson(20, 42).astype(float)
    y[30:36] = 20
    e = fit_rtm(y, np.arange(42) >= 36)
    assert not e.extra["flagged"]


def test_rtm_needs_history():
    e = fit_rtm(np.ones(18), np.arange(18) >= 12)
    assert np.isnan(e.estimate)


def test_wdq_hand_worked_example():
    # A 100 -> 80, B 50 -> 45, C 1000 -> 1000: success -0.02, buffer -0.005, WDQ 0.25
    q, success, buffer = wdq(100, 80, 50, 45, 1000, 1000)
    assert success == pytest.approx(-0.02)
    assert buffer == pytest.approx(-0.005)
    assert q == pytest.approx(0.25)
    assert "diffusion" in interpret(q, success)
    q2, s2, _ = wdq(100, 80, 50, 60, 1000, 1000)
    assert q2 == pytest.approx(-0.5)
    assert "displacement" in interpret(q2, s2)
    assert "not interpretable" in interpret(1.0, 0.01)


def test_fit_wdq_from_series():
    post = np.arange(8) >= 6
    treated = np.r_[np.full(6, 100 / 6), [40, 40]]  # 100 before, 80 after
    buffer = np.r_[np.full(6, 50 / 6), [22.5, 22.5]]
    controls = np.column_stack([np.r_[np.full(6, 500 / 6), [250, 250]]] * 2)
    e = fit_wdq(treated, buffer, controls, post, 500)
    assert e.estimate == pytest.approx(0.25)
    assert "ring 0-500 m" in e.note


def test_design_effect_lowers_power_and_raises_the_mde():
    from hotspot.evaluation.claims.its import Estimate

    y = np.r_[np.full(36, 30.0), np.full(6, 27.0)]
    post = np.arange(42) >= 36
    best, best_mde = fit_power(y, post, 0.85, mu_fit=None, counterfactual=None)
    wide = Estimate("did", 0.9, 0.6, 1.35)  # an interval far wider than the NB test's
    power, mde = fit_power(y, post, 0.85, mu_fit=None, counterfactual=None, design=wide)
    assert power.extra["deff"] > 2
    assert power.estimate < best.estimate
    assert mde.estimate < best_mde.estimate  # a bigger drop is needed
    assert "design effect" in power.note and "best case" in power.note
