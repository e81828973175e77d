"""Verdict categories from hand-made estimates."""

from __future__ import annotations

import numpy as np

from hotspot.evaluation.claims.its import Estimate
from hotspot.evaluation.claims.verdict import (
    CHANCE,
    CONSISTENT,
    NO_DROP,
    OUTSIDE,
    TOO_LITTLE,
    make_verdict,
)


def _est(did, its=None, synth=None, power=0.9, mde=0.8, pretrend=False, rtm=False):
    out = {"did": Estimate("did", *did), "its": Estimate("its", *(its or did)),
           "synthetic_control": Estimate("synthetic_control", *(synth or did)),
           "did_pretrend": Estimate("did_pretrend", 1.0, 0.9, 1.1, 0.5,
                                    extra={"flagged": pretrend}),
           "power": Estimate("power", power), "mde": Estimate("mde", mde),
           "rtm": Estimate("rtm", 1.3, p_value=0.05,
                           extra={"flagged": rtm, "percentile": 0.95})}
    return out


def test_consistent_with_the_claim():
    v = make_verdict(_est((0.87, 0.80, 0.95, 0.01)), 0.88)
    assert v.category == CONSISTENT and v.primary == "did"
    assert "12 % drop" in v.headline
    assert any("difference in differences (primary)" in r for r in v.reasons)


def test_claimed_size_outside_every_ci():
    v = make_verdict(_est((0.95, 0.91, 0.99, 0.02)), 0.70)
    assert v.category == OUTSIDE
    assert "real drop" in v.headline


def test_no_drop():
    assert make_verdict(_est((1.05, 0.85, 1.3, 0.6)), 0.88).category == NO_DROP


def test_chance_and_too_little_data():
    est = (0.93, 0.80, 1.08, 0.3)
    assert make_verdict(_est(est, power=0.9), 0.88).category == CHANCE
    v = make_verdict(_est(est, power=0.3, mde=0.65), 0.88)
    assert v.category.startswith(TOO_LITTLE) and "MDE 35 %" in v.category


def test_pretrend_and_calibration_move_the_primary_and_add_reasons():
    est = _est((0.87, 0.80, 0.95, 0.01), synth=(0.9, 0.7, 1.1, 0.3), pretrend=True, rtm=True)
    v = make_verdict(est, 0.88)
    assert v.primary == "synthetic_control"
    assert any("pre-period trend differed" in r for r in v.reasons)
    assert any("regression to the mean" in r for r in v.reasons)
    v2 = make_verdict(_est((0.87, 0.80, 0.95, 0.01)), 0.88, badly_calibrated={"did"})
    assert v2.primary == "synthetic_control"
    assert any("badly calibrated" in r for r in v2.reasons)


def test_nothing_estimable():
    est = {"did": Estimate("did", np.nan, note="not estimated: 0 control units"),
           "mde": Estimate("mde", np.nan)}
    v = make_verdict(est, 0.88)
    assert v.primary is None and v.category.startswith(TOO_LITTLE)
