"""Regression to the mean: was the area picked right after an unusual high?

Areas are often chosen for a trial *because* crime there just spiked; the next months
then fall back towards the usual level with or without any intervention. The check
compares the mean of the ``window`` months just before the start with every earlier
same-length window of the area's history that does not overlap it:

* ``estimate`` - the pre-start window's mean divided by the mean of all earlier months
  (1.25: the area ran 25 % above its usual level just before the trial);
* ``p_value`` - one-sided empirical: ``(1 + #{earlier windows >= pre-start}) / (1 + n)``;
* the note gives the z-score against the earlier windows and the percentile.

A percentile of 90 % or more flags the window as an unusual high: part of any drop that
follows is expected anyway. (A steady upward trend also puts the last window on top; the
ITS and DiD estimates model trend, a naive before/after comparison does not.)
"""

from __future__ import annotations

import numpy as np

from hotspot.evaluation.claims.its import Estimate, unavailable

#: Percentile of the pre-start window at or above which it is flagged.
FLAG_PERCENTILE = 0.9
MIN_REFERENCE_WINDOWS = 3


def fit_rtm(y: np.ndarray, post: np.ndarray, window: int = 6) -> Estimate:
    """Regression-to-the-mean check of the ``window`` months before the start."""
    y = np.asarray(y, float)
    pre = y[~np.asarray(post, bool)]
    n = len(pre)
    if n < window + MIN_REFERENCE_WINDOWS + window - 1:
        return unavailable("rtm", f"{n} pre-period months; need {2 * window + 2} to compare a "
                                  f"{window}-month window with earlier ones")
    sums = np.convolve(pre, np.ones(window), mode="valid") / window
    last = float(sums[-1])
    reference = sums[: n - 2 * window + 1]  # windows that end before the last one begins
    history = float(pre[: n - window].mean())
    sd = float(reference.std(ddof=1))
    z = (last - float(reference.mean())) / sd if sd > 0 else np.nan
    percentile = float(np.mean(reference < last))
    p = float((1 + np.sum(reference >= last)) / (1 + len(reference)))
    ratio = last / history if history > 0 else np.nan
    flagged = percentile >= FLAG_PERCENTILE
    verdict = ("UNUSUAL HIGH before the start: part of any drop is expected regression to the "
               "mean" if flagged else "no sign the area was picked after an unusual high")
    note = (f"mean of the {window} months before the start {last:.1f}/month vs {history:.1f} "
            f"earlier; z = {z:.2f}, percentile {percentile:.0%} among {len(reference)} earlier "
            f"{window}-month windows; {verdict}")
    return Estimate("rtm", ratio, np.nan, np.nan, p, note,
                    extra={"flagged": flagged, "z": z, "percentile": percentile})
