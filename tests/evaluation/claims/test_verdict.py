"""Verdict categories from hand-made estimates and a hand-made calibration table."""

from __future__ import annotations

import numpy as np

from hotspot.evaluation.claims.its import Estimate
from hotspot.evaluation.claims.verdict import (
    CANNOT_TELL,
    CHANCE,
    CONSISTENT,
    NO_DROP,
    OUTSIDE,
    TOO_LITTLE,
    make_verdict,
)


def _entry(ok: bool, fpr: float = 0.056, cov: float = 0.94) -> dict:
    data = {"false_positive_rate": fpr, "planted_coverage": cov}
    return {"calibrated": ok, "datasets": {"chicago": data, "city": data},
            "summary": f"false positives {fpr:.1%}"}


#: did and cits calibrated, its and synthetic control not.
CAL = {"did": _entry(True), "cits": _entry(True, 0.05, 0.93),
       "synthetic_control": _entry(False, 0.02, 0.85), "its": _entry(False, 0.3, 0.7)}


def _est(did, cits=None, its=None, synth=None, power=0.9, mde=0.8, pretrend=False, rtm=False):
    return {"did": Estimate("did", *did), "cits": Estimate("cits", *(cits or did)),
            "its": Estimate("its", *(its or did)),
            "synthetic_control": Estimate("synthetic_control", *(synth or did)),
            "did_pretrend": Estimate("did_pretrend", 1.0, 0.9, 1.1, 0.5,
                                     extra={"flagged": pretrend}),
            "power": Estimate("power", power), "mde": Estimate("mde", mde),
            "rtm": Estimate("rtm", 1.3, p_value=0.05,
                            extra={"flagged": rtm, "percentile": 0.95})}


def test_consistent_with_the_claim_leads_with_power_and_cites_calibration():
    v = make_verdict(_est((0.87, 0.80, 0.95, 0.01)), 0.88, CAL)
    assert v.category == CONSISTENT and v.primary == "did"
    assert v.trusted == ("did", "cits")
    assert "12 % drop" in v.headline and "2 of 2 calibrated" in v.headline
    assert v.reasons[0].startswith("minimum detectable drop (80 % power)")
    assert v.reasons[1].startswith("power to detect a 12 % drop: 90%")
    did_line = next(r for r in v.reasons if r.startswith("difference in differences - primary"))
    assert ("did (calibrated: 5.6 % / 5.6 % false positives, 94 % / 94 % coverage on "
            "chicago / city)") in did_line
    its_line = next(r for r in v.reasons if r.startswith("interrupted time series"))
    assert "not used for the verdict" in its_line and "uncalibrated" in its_line


def test_uncalibrated_methods_never_drive_the_verdict():
    # only the uncalibrated ITS and synthetic control see a drop
    est = _est((1.02, 0.9, 1.15, 0.7), its=(0.7, 0.6, 0.8, 0.001), synth=(0.7, 0.6, 0.8, 0.01))
    v = make_verdict(est, 0.7, CAL)
    assert v.category == OUTSIDE and "synthetic_control" not in v.trusted


def test_a_drop_needs_two_calibrated_intervals_below_one():
    v = make_verdict(_est((0.87, 0.80, 0.95, 0.01), cits=(0.9, 0.78, 1.04, 0.1), power=0.3,
                          mde=0.65), 0.88, CAL)
    assert v.category.startswith(TOO_LITTLE) and "MDE 35 %" in v.category


def test_claimed_size_outside_every_ci():
    v = make_verdict(_est((0.95, 0.91, 0.99, 0.02)), 0.70, CAL)
    assert v.category == OUTSIDE
    assert "real drop" in v.headline


def test_no_drop():
    assert make_verdict(_est((1.05, 0.85, 1.3, 0.6)), 0.88, CAL).category == NO_DROP


def test_chance_and_too_little_data():
    est = (0.93, 0.80, 1.08, 0.3)
    assert make_verdict(_est(est, power=0.9), 0.88, CAL).category == CHANCE
    v = make_verdict(_est(est, power=0.3, mde=0.65), 0.88, CAL)
    assert v.category.startswith(TOO_LITTLE)


def test_one_usable_calibrated_method_cannot_tell():
    est = _est((0.87, 0.80, 0.95, 0.01))
    est["cits"] = Estimate("cits", np.nan, note="not estimated: no control units")
    v = make_verdict(est, 0.88, CAL, n_controls=1)
    assert v.category == CANNOT_TELL
    assert "only 1 control unit; add --controls" in v.headline
    assert "1 calibrated method estimated (did; need 2)" in v.headline
    assert "cits: no control units" in v.headline
    assert v.reasons[0].startswith("minimum detectable drop")


def test_a_failed_pretrend_drops_did_and_rtm_stays():
    v = make_verdict(_est((0.87, 0.80, 0.95, 0.01), pretrend=True, rtm=True), 0.88, CAL)
    assert v.category == CANNOT_TELL and v.trusted == ("cits",)
    assert any("pre-period trend differed" in r for r in v.reasons)
    assert any("regression to the mean" in r for r in v.reasons)


def test_without_a_table_every_method_counts_and_says_so():
    v = make_verdict(_est((0.87, 0.80, 0.95, 0.01)), 0.88, None)
    assert v.category == CONSISTENT and len(v.trusted) == 4
    assert any("no calibration table given" in r for r in v.reasons)


def test_nothing_estimable():
    est = {"did": Estimate("did", np.nan, note="not estimated: 0 control units"),
           "mde": Estimate("mde", np.nan)}
    v = make_verdict(est, 0.88, CAL, n_controls=0)
    assert v.primary is None and v.category == CANNOT_TELL
    assert "only 0 control units" in v.headline
