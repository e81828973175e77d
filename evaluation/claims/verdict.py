"""A plain-words verdict from the estimates table.

The rule, in order:

1. *Primary estimate*: DiD, unless it could not be run, its pre-trend check failed or the
   calibration file marks it badly calibrated; then synthetic control; then ITS (a badly
   calibrated method is used only when nothing else is available).
2. The categories:

   * ``consistent with the claim`` - the primary 95 % CI lies below 1 (a drop beyond
     chance) and contains the claimed rate ratio (or no size was claimed);
   * ``the claimed size is outside every CI`` - the claimed rate ratio lies outside the
     interval of every effect method that has one (ITS, DiD, synthetic control); the
     headline adds whether there was a real but different-sized drop;
   * ``no drop`` - the primary estimate is 1 or above;
   * ``too little data to tell (MDE N %)`` - a drop whose CI includes 1, where the power
     to detect the claimed size is below 80 % (with no claimed size: where the observed
     drop is smaller than the MDE);
   * ``a drop, but within what chance and seasonality give`` - a drop whose CI includes 1
     although a drop of the claimed size would probably have been detected.

3. The reasons list every check that qualifies the verdict: the other methods, the
   placebo tests, the pre-trend check, regression to the mean, displacement and any
   method the calibration file marks as badly calibrated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hotspot.evaluation.claims.its import Estimate

CONSISTENT = "consistent with the claim"
OUTSIDE = "the claimed size is outside every CI"
NO_DROP = "no drop"
TOO_LITTLE = "too little data to tell"
CHANCE = "a drop, but within what chance and seasonality give"

EFFECT_METHODS = ("did", "synthetic_control", "its")
LABELS = {"did": "difference in differences", "synthetic_control": "synthetic control",
          "its": "interrupted time series", "placebo_time": "placebo in time"}


@dataclass(frozen=True)
class Verdict:
    """The verdict's category, one-line headline, the primary method and the reasons."""

    category: str
    headline: str
    primary: str | None
    reasons: list[str] = field(default_factory=list)

    def to_markdown(self, claim_text: str) -> str:
        lines = [f"# Verdict: {self.category}", "", claim_text, "", f"**{self.headline}**", "",
                 "Why:", ""]
        lines += [f"- {reason}" for reason in self.reasons]
        return "\n".join(lines) + "\n"


def change_text(rr: float) -> str:
    """0.88 -> 'a 12 % drop', 1.1 -> 'a 10 % rise'."""
    if not np.isfinite(rr):
        return "no estimate"
    change = (1 - rr) * 100
    if abs(change) < 0.5:
        return "no change"
    number = f"{abs(change):.0f}"
    article = "an" if number.startswith("8") or number in ("11", "18") else "a"
    return f"{article} {number} % {'drop' if change > 0 else 'rise'}"


def describe(e: Estimate) -> str:
    ci = f" [95 % CI {e.ci_low:.2f}, {e.ci_high:.2f}]" if e.has_ci else ""
    p = f", p = {e.p_value:.3f}" if np.isfinite(e.p_value) else ""
    return f"rate ratio {e.estimate:.2f}{ci}{p} ({change_text(e.estimate)})"


def choose_primary(est: dict[str, Estimate], badly_calibrated: set[str]) -> str | None:
    usable = [m for m in EFFECT_METHODS if m in est and est[m].has_ci]
    pretrend = est.get("did_pretrend")
    if pretrend is not None and pretrend.extra.get("flagged") and "did" in usable:
        usable.remove("did")
        usable.append("did")  # keep as a last resort
    good = [m for m in usable if m not in badly_calibrated]
    return (good or usable or [None])[0]


def make_verdict(
    est: dict[str, Estimate], claimed_rr: float | None, badly_calibrated: set[str] | None = None
) -> Verdict:
    """Categorise the estimates (see the module docstring for the rule)."""
    badly_calibrated = badly_calibrated or set()
    primary = choose_primary(est, badly_calibrated)
    mde = est.get("mde")
    mde_text = (f"MDE {(1 - mde.estimate) * 100:.0f} %" if mde is not None
                and np.isfinite(mde.estimate) else "MDE beyond a 98 % drop")
    if primary is None:
        return Verdict(f"{TOO_LITTLE} ({mde_text})",
                       "No effect method could be estimated from these data.", None,
                       [e.note for e in est.values() if e.note.startswith("not estimated")])
    p = est[primary]
    effect = [est[m] for m in EFFECT_METHODS if m in est and est[m].has_ci]
    claim = (f"the claimed {change_text(claimed_rr).split(' ', 1)[1]} (rate ratio "
             f"{claimed_rr:.2f})"
             if claimed_rr is not None else None)
    drop = p.ci_high < 1
    outside = claimed_rr is not None and all(not e.contains(claimed_rr) for e in effect)
    power = est.get("power")
    power_value = power.estimate if power is not None else np.nan
    main = f"{LABELS[primary]} (primary): {describe(p)}"
    if drop and not outside:
        category = CONSISTENT
        headline = (f"A drop beyond chance, consistent with {claim}." if claim
                    else "A drop beyond chance.")
    elif outside:
        category = OUTSIDE
        if drop:
            headline = f"A real drop, but {claim} is outside every method's 95 % CI."
        elif p.estimate >= 1:
            headline = f"No drop, and {claim} is outside every method's 95 % CI."
        else:
            headline = f"No drop beyond chance, and {claim} is outside every method's 95 % CI."
    elif p.estimate >= 1:
        category = NO_DROP
        rise = " (a rise beyond chance)" if p.ci_low > 1 else ""
        headline = f"No drop: the treated area did not fall relative to its counterfactual{rise}."
    else:
        underpowered = (power_value < 0.8 if np.isfinite(power_value)
                        else (mde is not None and np.isfinite(mde.estimate)
                              and p.estimate > mde.estimate))
        if underpowered or (mde is not None and not np.isfinite(mde.estimate)):
            category = f"{TOO_LITTLE} ({mde_text})"
            headline = ("A drop whose interval includes no change, in an area too small or "
                        "a window too short to detect a drop of the claimed size reliably.")
        else:
            category = CHANCE
            headline = ("A drop, but no larger than trend, season and chance give this area "
                        "without any intervention.")
    reasons = [main]
    for m in EFFECT_METHODS:
        if m != primary and m in est:
            e = est[m]
            reasons.append(f"{LABELS[m]}: {describe(e)}" if np.isfinite(e.estimate)
                           else f"{LABELS[m]}: {e.note}")
    reasons += _checks(est, claimed_rr, badly_calibrated, real_drop=drop)
    return Verdict(category, headline, primary, reasons)


def _checks(est: dict[str, Estimate], claimed_rr: float | None,
            badly_calibrated: set[str], real_drop: bool) -> list[str]:
    out = []
    placebo = est.get("placebo_time")
    if placebo is not None and np.isfinite(placebo.p_value):
        unusual = "unusual" if placebo.p_value < 0.05 else "not unusual"
        out.append(f"placebo in time: p = {placebo.p_value:.3f} - the ITS effect is {unusual} "
                   f"compared with fake start dates in the area's own history")
    synth = est.get("synthetic_control")
    if synth is not None and np.isfinite(synth.p_value):
        out.append(f"synthetic control placebo-in-space p = {synth.p_value:.3f} (rank among the "
                   "control units treated as if they were the area)")
    pretrend = est.get("did_pretrend")
    if pretrend is not None and pretrend.extra.get("flagged"):
        out.append(f"the treated area's pre-period trend differed from its controls' (p = "
                   f"{pretrend.p_value:.3f}): DiD is doubtful")
    power = est.get("power")
    if power is not None and np.isfinite(power.estimate):
        out.append(f"power to detect {change_text(claimed_rr)} was {power.estimate:.0%}")
    mde = est.get("mde")
    if mde is not None and np.isfinite(mde.estimate):
        out.append(f"minimum detectable drop (80 % power): {(1 - mde.estimate) * 100:.0f} %")
    rtm = est.get("rtm")
    if rtm is not None and rtm.extra.get("flagged"):
        out.append(f"regression to the mean: the months before the start were unusually high "
                   f"({rtm.estimate:.2f}x the earlier level, percentile "
                   f"{rtm.extra['percentile']:.0%}); part of a drop was expected anyway")
    wdq = est.get("wdq")
    if wdq is not None and np.isfinite(wdq.estimate):
        caveat = "" if real_drop else " (a WDQ only means something after a real drop)"
        out.append(f"displacement: WDQ {wdq.estimate:.2f} - "
                   f"{wdq.extra.get('interpretation', '')}{caveat}")
    for m in sorted(badly_calibrated):
        if m in est:
            out.append(f"{LABELS.get(m, m)} is badly calibrated on real data (see its note): "
                       "weigh it lightly")
    return out
