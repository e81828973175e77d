"""A plain-words verdict from the estimates table, resting only on calibrated methods.

The rule, in order:

1. *Power first*: the first reasons are the minimum detectable effect (80 % power) and
   the power to detect the claimed size for this area and window (:mod:`.power`).
2. *Trusted methods*: the effect methods (:data:`EFFECT_METHODS`) that could be estimated
   with an interval and that the calibration table calls calibrated
   (:mod:`.calibration`: false positives <= 7 % and coverage 90-97 % on both real data
   sets). DiD rows drop out when the pre-trend check fails. Without a calibration table
   (``calibration_path=None``) every estimated method counts, and the reasons say the
   methods are unchecked.
3. Fewer than two trusted methods: ``cannot tell from this data``, with the reason (too few
   control units - add ``--controls`` - or which methods were not estimated or are
   uncalibrated). One method alone is not corroborated.
4. Otherwise the categories, on the trusted methods only (the *primary* is the first of
   them in :data:`EFFECT_METHODS` order, fixed in advance, never the most favourable):

   * ``consistent with the claim`` - at least two trusted 95 % CIs lie below 1 (a drop
     beyond chance, found twice), none lies above 1, and the claimed rate ratio is inside
     at least one of them (or no size was claimed);
   * ``the claimed size is outside every CI`` - the claimed rate ratio lies outside every
     trusted interval; the headline adds whether there was a real but different drop;
   * ``no drop`` - the median trusted estimate is 1 or above;
   * ``too little data to tell (MDE N %)`` - a drop not found twice beyond chance, where
     the power to detect the claimed size is below 80 %;
   * ``a drop, but within what chance and seasonality give`` - the same, although a drop
     of the claimed size would probably have been detected.

5. Every method line cites its calibration (``did (calibrated: 5.6 % / 4.0 % false
   positives, 94 % / 93 % coverage on chicago / city)``); uncalibrated methods are listed
   as such, and the checks follow: placebo tests, pre-trend, regression to the mean and
   displacement (WDQ).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hotspot.evaluation.claims.calibration import calibrated_methods, short_text
from hotspot.evaluation.claims.its import Estimate

CONSISTENT = "consistent with the claim"
OUTSIDE = "the claimed size is outside every CI"
NO_DROP = "no drop"
TOO_LITTLE = "too little data to tell"
CHANCE = "a drop, but within what chance and seasonality give"
CANNOT_TELL = "cannot tell from this data"

#: Effect methods in the fixed order the primary is taken from.
EFFECT_METHODS = ("did", "cits", "sts", "synthetic_control", "did_fepois", "synth_pysyncon",
                  "its", "placebo_time")
DID_ROWS = ("did", "did_fepois")
#: Fewer trusted methods than this and the verdict is "cannot tell".
MIN_TRUSTED = 2
#: Fewer control units than this and the comparative methods cannot run.
MIN_CONTROL_UNITS = 3
LABELS = {"did": "difference in differences", "synthetic_control": "synthetic control",
          "its": "interrupted time series", "placebo_time": "placebo in time",
          "cits": "comparative interrupted time series", "sts": "structural time series",
          "did_fepois": "Poisson DiD (pyfixest)", "synth_pysyncon": "synthetic control "
          "(pysyncon)"}


@dataclass(frozen=True)
class Verdict:
    """The verdict's category, one-line headline, the primary method and the reasons."""

    category: str
    headline: str
    primary: str | None
    reasons: list[str] = field(default_factory=list)
    #: The calibrated methods the verdict rests on.
    trusted: tuple[str, ...] = ()

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


def _usable(est: dict[str, Estimate]) -> list[str]:
    return [m for m in EFFECT_METHODS if m in est and est[m].has_ci
            and np.isfinite(est[m].estimate)]


def trusted_methods(est: dict[str, Estimate], calibration: dict | None) -> list[str]:
    """Estimated effect methods the calibration table calls calibrated (all estimated ones
    without a table), DiD rows dropped when the pre-trend check failed."""
    usable = _usable(est)
    if calibration:
        good = calibrated_methods(calibration)
        usable = [m for m in usable if m in good]
    pretrend = est.get("did_pretrend")
    if pretrend is not None and pretrend.extra.get("flagged"):
        usable = [m for m in usable if m not in DID_ROWS]
    return usable


def choose_primary(est: dict[str, Estimate], calibration: dict | None) -> str | None:
    """The first trusted method, else the first estimated one (for the power design)."""
    trusted = trusted_methods(est, calibration)
    usable = _usable(est)
    return (trusted or usable or [None])[0]


def _cite(m: str, calibration: dict | None) -> str:
    text = short_text(calibration.get(m)) if calibration else "no calibration table given"
    return f"{m} ({text})"


def _power_lines(est: dict[str, Estimate], claimed_rr: float | None) -> tuple[list[str], str]:
    mde = est.get("mde")
    power = est.get("power")
    mde_text = (f"MDE {(1 - mde.estimate) * 100:.0f} %" if mde is not None
                and np.isfinite(mde.estimate) else "MDE beyond a 98 % drop")
    lines = []
    if mde is not None:
        lines.append("minimum detectable drop (80 % power) for this area and window: "
                     + (f"{(1 - mde.estimate) * 100:.0f} %" if np.isfinite(mde.estimate)
                        else "none up to 98 %"))
    if power is not None and np.isfinite(power.estimate) and claimed_rr is not None:
        lines.append(f"power to detect {change_text(claimed_rr)}: {power.estimate:.0%}")
    return lines, mde_text


def _cannot_tell_reason(est: dict[str, Estimate], trusted: list[str],
                        calibration: dict | None, n_controls: int | None) -> str:
    parts = []
    if n_controls is not None and n_controls < MIN_CONTROL_UNITS:
        parts.append(f"only {n_controls} control unit{'s' if n_controls != 1 else ''}; add "
                     "--controls (a boundary file of comparable areas)")
    usable = _usable(est)
    uncalibrated = [m for m in usable if m not in trusted]
    parts.append(f"{len(trusted)} calibrated method{'s' if len(trusted) != 1 else ''} "
                 f"estimated ({', '.join(trusted) or 'none'}; need {MIN_TRUSTED})")
    if uncalibrated:
        parts.append(f"not used: {', '.join(uncalibrated)} (uncalibrated or failed pre-trend)")
    missing = [m for m in EFFECT_METHODS if m in est and m not in usable]
    if missing:
        parts.append("not estimated: " + "; ".join(
            f"{m}: {est[m].note.removeprefix('not estimated: ').split(' | ')[0]}"
            for m in missing))
    return "; ".join(parts)


def make_verdict(
    est: dict[str, Estimate], claimed_rr: float | None, calibration: dict | None = None,
    *, n_controls: int | None = None,
) -> Verdict:
    """Categorise the estimates (see the module docstring for the rule)."""
    trusted = trusted_methods(est, calibration)
    power_lines, mde_text = _power_lines(est, claimed_rr)
    if not calibration:
        power_lines.append("no calibration table given: the methods' false-positive rates "
                           "and coverage are unchecked")
    if len(trusted) < MIN_TRUSTED:
        reason = _cannot_tell_reason(est, trusted, calibration, n_controls)
        reasons = power_lines + [f"why: {reason}"] + _method_lines(est, trusted, calibration)
        reasons += _checks(est, claimed_rr, real_drop=False)
        return Verdict(CANNOT_TELL, f"Cannot tell from this data: {reason}.",
                       trusted[0] if trusted else None, reasons, tuple(trusted))
    effects = [est[m] for m in trusted]
    primary = trusted[0]
    claim = (f"the claimed {change_text(claimed_rr).split(' ', 1)[1]} (rate ratio "
             f"{claimed_rr:.2f})" if claimed_rr is not None else None)
    n_below = sum(e.ci_high < 1 for e in effects)
    n_above = sum(e.ci_low > 1 for e in effects)
    drop = n_below >= MIN_TRUSTED and n_above == 0
    outside = claimed_rr is not None and all(not e.contains(claimed_rr) for e in effects)
    median = float(np.median([e.estimate for e in effects]))
    power = est.get("power")
    power_value = power.estimate if power is not None else np.nan
    mde = est.get("mde")
    if drop and not outside:
        category = CONSISTENT
        headline = (f"A drop beyond chance in {n_below} of {len(effects)} calibrated methods, "
                    f"consistent with {claim}." if claim else
                    f"A drop beyond chance in {n_below} of {len(effects)} calibrated methods.")
    elif outside:
        category = OUTSIDE
        if drop:
            headline = f"A real drop, but {claim} is outside every calibrated method's 95 % CI."
        elif median >= 1:
            headline = f"No drop, and {claim} is outside every calibrated method's 95 % CI."
        else:
            headline = (f"No drop beyond chance, and {claim} is outside every calibrated "
                        "method's 95 % CI.")
    elif median >= 1:
        category = NO_DROP
        rise = " (a rise beyond chance)" if n_above >= MIN_TRUSTED else ""
        headline = ("No drop: the treated area did not fall relative to its counterfactual"
                    f"{rise}.")
    else:
        underpowered = (power_value < 0.8 if np.isfinite(power_value)
                        else (mde is not None and np.isfinite(mde.estimate)
                              and median > mde.estimate))
        if underpowered or (mde is not None and not np.isfinite(mde.estimate)):
            category = f"{TOO_LITTLE} ({mde_text})"
            headline = ("A drop not found beyond chance by two calibrated methods, in an area "
                        "too small or a window too short to detect a drop of the claimed "
                        "size reliably.")
        else:
            category = CHANCE
            headline = ("A drop, but no larger than trend, season and chance give this area "
                        "without any intervention.")
    reasons = power_lines + _method_lines(est, trusted, calibration)
    reasons += _checks(est, claimed_rr, real_drop=drop)
    return Verdict(category, headline, primary, reasons, tuple(trusted))


def _method_lines(est: dict[str, Estimate], trusted: list[str],
                  calibration: dict | None) -> list[str]:
    lines = []
    for i, m in enumerate(trusted):
        role = " - primary" if i == 0 else ""
        lines.append(f"{LABELS[m]}{role}: {_cite(m, calibration)}: {describe(est[m])}")
    for m in EFFECT_METHODS:
        if m in est and m not in trusted:
            e = est[m]
            what = describe(e) if np.isfinite(e.estimate) else e.note.split(" | ")[0]
            lines.append(f"{LABELS[m]} - not used for the verdict: {_cite(m, calibration)}: "
                         f"{what}")
    return lines


def _checks(est: dict[str, Estimate], claimed_rr: float | None, real_drop: bool) -> list[str]:
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
                   f"{pretrend.p_value:.3f}): DiD is doubtful and not used")
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
    return out
