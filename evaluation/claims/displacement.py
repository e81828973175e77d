"""Displacement or diffusion of benefits: the weighted displacement quotient.

Bowers & Johnson (2003), with A the treated area, B the buffer ring around it (0 to
``buffer_m`` metres) and C the control units, b before and a after::

    WDQ = (B_a / C_a - B_b / C_b) / (A_a / C_a - A_b / C_b)

"Before" is the whole pre-period and "after" the claimed window; only ratios of counts in
the same period enter, so the different lengths cancel. Reading it:

* the denominator (success measure) must be negative - the treated area fell relative to
  the controls - for the quotient to mean anything;
* WDQ > 0: the ring fell too, a diffusion of benefits; WDQ < 0: the ring rose, crime may
  have been displaced; |WDQ| > 1: the ring's change outweighs the treated area's;
* near 0: no measurable displacement or diffusion.

The ``buffer`` row is the DiD rate ratio of the ring against the same controls, with an
interval, so the ring's change can be judged against chance.
"""

from __future__ import annotations

import numpy as np

from hotspot.evaluation.claims.its import Estimate, unavailable


def wdq(a_before: float, a_after: float, b_before: float, b_after: float,
        c_before: float, c_after: float) -> tuple[float, float, float]:
    """``(wdq, success measure, buffer displacement measure)`` from the six counts."""
    if c_before <= 0 or c_after <= 0:
        return np.nan, np.nan, np.nan
    success = a_after / c_after - a_before / c_before
    buffer = b_after / c_after - b_before / c_before
    quotient = buffer / success if success != 0 else np.nan
    return float(quotient), float(success), float(buffer)


def interpret(quotient: float, success: float) -> str:
    if not np.isfinite(success) or not np.isfinite(quotient):
        return "undefined (no change in the treated area relative to the controls)"
    if success >= 0:
        return ("not interpretable: the treated area did not fall relative to the controls "
                "(success measure >= 0)")
    if abs(quotient) < 0.1:
        return "little change in the ring: no sign of displacement or diffusion"
    if quotient > 0:
        kind = "diffusion of benefits: the ring fell too"
    else:
        kind = "possible displacement: the ring rose while the treated area fell"
    if abs(quotient) > 1:
        kind += "; the ring's change outweighs the treated area's"
    return kind


def fit_wdq(treated: np.ndarray, buffer: np.ndarray, controls: np.ndarray, post: np.ndarray,
            buffer_m: float) -> Estimate:
    """The ``wdq`` row from the monthly series (controls summed over units)."""
    post = np.asarray(post, bool)
    if controls.shape[1] == 0:
        return unavailable("wdq", "no control units")
    c = controls.sum(axis=1)
    counts = {name: (float(s[~post].sum()), float(s[post].sum()))
              for name, s in (("A", treated), ("B", buffer), ("C", c))}
    if counts["B"][0] == 0:
        return unavailable("wdq", f"no events in the 0-{buffer_m:g} m ring before the start")
    q, success, disp = wdq(*counts["A"], *counts["B"], *counts["C"])
    meaning = interpret(q, success)
    (ab, aa), (bb, ba), (cb, ca) = counts["A"], counts["B"], counts["C"]
    note = (f"ring 0-{buffer_m:g} m; A {ab:.0f}->{aa:.0f}, B {bb:.0f}->{ba:.0f}, C {cb:.0f}->"
            f"{ca:.0f} (before->window); success measure {success:+.4f}, buffer measure "
            f"{disp:+.4f}: {meaning}")
    return Estimate("wdq", q, note=note, extra={"success": success, "buffer_measure": disp,
                                                 "interpretation": meaning})
