"""Comparative ITS, the structural time series, the Covid-19 handling of the single-series
methods, and the library counterparts (pyfixest, pysyncon) on synthetic panels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from hotspot.evaluation.claims.cits import fit_cits
from hotspot.evaluation.claims.did import fit_did
from hotspot.evaluation.claims.its import COVID_MONTHS, covid_mask, fit_its, its_design
from hotspot.evaluation.claims.placebo import placebo_effects
from hotspot.evaluation.claims.sts import fit_sts

from .conftest import make_panel


def test_cits_recovers_a_30_percent_drop_and_the_null():
    drop = make_panel(effect=0.7, level=50, seed=7)
    e = fit_cits(drop.treated, drop.controls, drop.months, drop.post)
    assert e.contains(0.7) and e.ci_high < 1
    null = make_panel(effect=1.0, level=50, seed=8)
    assert fit_cits(null.treated, null.controls, null.months, null.post).contains(1.0)


def test_cits_takes_a_citywide_shock_from_the_controls_where_its_cannot():
    s = make_panel(effect=1.0, shock=0.6, level=50, seed=9)  # everyone falls 40 %
    its = fit_its(s.treated, s.months, s.post)
    cits = fit_cits(s.treated, s.controls, s.months, s.post)
    assert its.ci_high < 1  # ITS mistakes the shock for an effect
    assert cits.contains(1.0)


def test_sts_recovers_a_drop_and_the_null_and_is_seeded():
    drop = make_panel(effect=0.7, level=50, seed=11, shock=0.8)
    e = fit_sts(drop.treated, drop.controls, drop.post)
    # a plug-in predictive interval (no parameter uncertainty): near the truth, not always
    # around it; the calibration table measures how often
    assert abs(np.log(e.estimate / 0.7)) < 0.2 and e.ci_high < 1 and e.p_value < 0.05
    null = make_panel(effect=1.0, level=50, seed=12, shock=0.8)
    first = fit_sts(null.treated, null.controls, null.post)
    assert first.contains(1.0)
    assert fit_sts(null.treated, null.controls, null.post).ci_low == first.ci_low


def test_no_controls_means_no_comparative_estimate():
    s = make_panel(n_controls=2, seed=1)
    empty = dataclasses.replace(s, controls=np.zeros((len(s.months), 0)))
    assert "not estimated" in fit_cits(empty.treated, empty.controls, s.months, s.post).note
    assert "not estimated" in fit_sts(empty.treated, empty.controls, s.post).note


def _covid_panel(start: str, n_pre: int = 30) -> tuple:
    s = make_panel(effect=1.0, level=50, seed=4, n_pre=n_pre)
    months = pd.period_range(pd.Period(start, "M") - n_pre, periods=len(s.months), freq="M")
    y = s.treated.copy()
    y[covid_mask(months)] *= 0.5  # the lockdown halves the counts
    return y, months, s.post


def test_its_models_lockdown_months_in_the_pre_period_and_refuses_windows_on_them():
    y, months, post = _covid_panel("2021-03")  # pre-period holds 2020-03..12
    X = its_design(months, post, int((~post).sum()))
    assert X.shape[1] == 1 + 1 + 11 + 1 + 1  # intercept, trend, months, covid, window
    e = fit_its(y, months, post)
    assert e.contains(1.0)  # the dip is not read into the window
    y2, months2, post2 = _covid_panel("2020-05")  # the window is in lockdown
    e2 = fit_its(y2, months2, post2)
    assert np.isnan(e2.estimate) and "Covid-19" in e2.note
    effects = placebo_effects(y2, months2, post2)
    assert len(effects.starts) > 0
    assert all(pd.Period(s, "M") + k not in COVID_MONTHS
               for s in effects.starts for k in range(6))


def test_pyfixest_fepois_matches_the_hand_written_did_point_estimate():
    from hotspot.evaluation.claims.fepois import fit_did_fepois

    s = make_panel(effect=0.8, level=40, seed=21, n_controls=8)
    lib = fit_did_fepois(s.treated, s.controls, s.post)
    own = fit_did(s.treated, s.controls, s.post)
    assert abs(np.log(lib.estimate) - np.log(own.estimate)) < 1e-4  # same Poisson MLE
    assert lib.has_ci and "CRV1" in lib.note


def test_one_control_unit_gives_cannot_tell_with_the_shipped_table():
    from hotspot.evaluation.claims import analyse_series, load_calibration
    from hotspot.evaluation.claims.verdict import CANNOT_TELL

    s = make_panel(effect=0.7, level=50, seed=3, n_controls=1)
    result = analyse_series(s, 0.7, calibration=load_calibration(),
                            methods=("its", "cits", "did", "placebo_time", "power", "mde"))
    assert result.verdict.category == CANNOT_TELL
    assert "only 1 control unit; add --controls" in result.verdict.headline
    assert "cits: 1 control units (need 3)" in result.verdict.headline
