"""ITS and DiD on synthetic series with known effects."""

from __future__ import annotations

import numpy as np
import pytest

from hotspot.evaluation.claims.did import fit_did, fit_pretrend
from hotspot.evaluation.claims.its import Estimate, fit_its, t_interval

from .conftest import make_panel


def _its(s):
    return fit_its(s.treated, s.months, s.post)


def _did(s):
    return fit_did(s.treated, s.controls, s.post)


def test_its_recovers_a_30_percent_drop():
    s = make_panel(effect=0.7, level=60, seed=1)
    e = _its(s)
    assert e.contains(0.7)
    assert e.ci_high < 1
    assert e.p_value < 0.05
    assert abs(e.estimate - 0.7) < 0.12


def test_its_null_interval_contains_one():
    e = _its(make_panel(effect=1.0, level=60, seed=2))
    assert e.contains(1.0)
    assert e.p_value > 0.05


def test_its_null_coverage_over_seeds_is_near_nominal():
    covered = [_its(make_panel(level=30, seed=100 + k)).contains(1.0) for k in range(20)]
    assert sum(covered) >= 16


def test_its_overdispersion_widens_the_interval():
    poisson = _its(make_panel(level=40, seed=5))
    nb = _its(make_panel(level=40, seed=5, nb_alpha=0.1))
    width = lambda e: np.log(e.ci_high / e.ci_low)  # noqa: E731
    assert width(nb) > 1.3 * width(poisson)
    assert nb.extra["scale"] > 2


def test_its_short_history_uses_harmonic_season():
    e = _its(make_panel(n_pre=14, level=60, seed=3, effect=0.6))
    assert "sine/cosine" in e.note
    assert e.contains(0.6)


def test_did_recovers_a_30_percent_drop_and_null():
    drop = _did(make_panel(effect=0.7, level=50, seed=7))
    assert drop.contains(0.7) and drop.ci_high < 1
    null = _did(make_panel(effect=1.0, level=50, seed=8))
    assert null.contains(1.0)


def test_did_removes_a_city_wide_shock_that_fools_its():
    s = make_panel(effect=1.0, shock=0.6, level=60, seed=9)
    assert _its(s).ci_high < 1  # ITS sees the city-wide drop as an effect
    did = _did(s)
    assert did.contains(1.0)
    assert abs(did.estimate - 1) < 0.1


def test_did_placebo_inflation_widens_for_a_drifting_area():
    from hotspot.evaluation.claims.did import placebo_did_z

    base = np.ones(40)
    steady = np.random.default_rng(0).poisson(30, 40).astype(float)
    drifting = steady * np.repeat([1.0, 1.4, 0.7, 1.3, 0.8], 8)
    z_steady = placebo_did_z(steady, base, 6, 1.0)
    z_drift = placebo_did_z(drifting, base, 6, 1.0)
    assert len(z_steady) == 40 - 6 - 12 + 1
    assert np.mean(z_drift**2) > 3 * np.mean(z_steady**2)


def test_did_needs_controls():
    s = make_panel(n_controls=2, seed=1)
    e = _did(s)
    assert np.isnan(e.estimate) and "control units" in e.note


def test_pretrend_flags_diverging_trends_and_passes_parallel_ones():
    diverging = make_panel(treated_trend=0.35, level=60, seed=11)
    flagged = fit_pretrend(diverging.treated, diverging.controls, diverging.post)
    assert flagged.extra["flagged"] and flagged.p_value < 0.05
    assert "PRE-TRENDS DIFFER" in flagged.note
    parallel = make_panel(level=60, seed=12)
    ok = fit_pretrend(parallel.treated, parallel.controls, parallel.post)
    assert not ok.extra["flagged"]
    assert ok.contains(1.0)


def test_t_interval_is_symmetric_on_the_log_scale():
    rr, lo, hi, p = t_interval(np.log(0.8), 0.1, 30)
    assert rr == pytest.approx(0.8)
    assert np.log(rr / lo) == pytest.approx(np.log(hi / rr))
    assert 0 < p < 0.05


def test_estimate_row_has_the_table_columns():
    row = Estimate("its", 0.9, 0.8, 1.0, 0.04, "x").row()
    assert list(row) == ["method", "estimate", "ci_low", "ci_high", "p_value", "note"]


def test_did_space_placebos_measure_how_much_controls_moved_in_the_window():
    from hotspot.evaluation.claims.did import placebo_space_z

    calm = make_panel(level=60, seed=30)
    z_calm = placebo_space_z(calm.controls, calm.post, 1.0)
    turbulent = calm.controls.copy()
    turbulent[calm.post, ::2] *= 1.5  # half the controls jump in the window
    z_turb = placebo_space_z(turbulent, calm.post, 1.0)
    assert len(z_calm) == calm.n_controls
    assert np.mean(z_calm**2) < 2.5 < np.mean(z_turb**2)
    e = fit_did(calm.treated, turbulent, calm.post)
    assert e.extra["kappa_space"] > 1.5
    assert e.contains(1.0) or e.ci_high / e.ci_low > 1.3
