"""Placebo in time: the ITS estimate at fake start dates where nothing happened.

For every fake start ``s`` inside the pre-period that leaves at least ``min_pre`` months
before it and lets a window of the claimed length end before the real start, the ITS
model is fitted to the months up to ``s + L - 1`` with ``s .. s + L - 1`` as the window.
The spread of these "effects" is what trend, season and chance give the treated area with
no intervention.

* p-value: the share of placebo log rate ratios at least as far from 0 as the observed
  one, ``(1 + #{|placebo| >= |observed|}) / (1 + n)`` (smallest possible ``1 / (n + 1)``);
* interval: a prediction interval from the placebos' root mean square ``r`` (their
  spread around no effect): ``log rr +- t(0.975, n - 1) * r * sqrt(1 + 1/n)``.

Fake windows that overlap the Covid-19 lockdown months are skipped (the dip is no
placebo; see :mod:`.its`). The same placebo fits, divided by their model standard errors,
calibrate the ITS interval (``placebo_z``; see :func:`evaluation.claims.its.placebo_inflation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hotspot.evaluation.claims.its import (
    LEVEL,
    Estimate,
    covid_overlap,
    its_coefficient,
    unavailable,
)

#: Fewer fake starts than this and no placebo p-value is reported.
MIN_PLACEBOS = 5


@dataclass(frozen=True)
class PlaceboEffects:
    """ITS log rate ratios and their model standard errors at fake start dates."""

    starts: list[str]
    log_rr: np.ndarray
    se: np.ndarray

    @property
    def z(self) -> np.ndarray:
        return self.log_rr / self.se


def placebo_starts(n_pre: int, window: int, min_pre: int) -> list[int]:
    """Indices of fake starts: ``min_pre <= s`` and ``s + window <= n_pre``."""
    return list(range(min_pre, n_pre - window + 1))


def placebo_effects(
    y: np.ndarray, months: pd.PeriodIndex, post: np.ndarray, *, min_pre: int = 12,
    serial: bool = True,
) -> PlaceboEffects:
    """Fit ITS at every fake start (skipping windows or histories with no events)."""
    post = np.asarray(post, dtype=bool)
    y = np.asarray(y, dtype=float)
    n_pre = int((~post).sum())
    window = int(post.sum())
    starts, coefs, ses = [], [], []
    for s in placebo_starts(n_pre, window, min_pre):
        stop = s + window
        if y[:s].sum() == 0 or y[s:stop].sum() == 0:
            continue
        fake = np.zeros(stop, dtype=bool)
        fake[s:] = True
        if covid_overlap(months[:stop], fake):  # a lockdown dip is no placebo
            continue
        coef, se, _, _, _ = its_coefficient(y[:stop], months[:stop], fake, serial)
        if np.isfinite(coef) and np.isfinite(se) and se > 0:
            starts.append(str(months[s]))
            coefs.append(coef)
            ses.append(se)
    return PlaceboEffects(starts, np.array(coefs), np.array(ses))


def fit_placebo_time(
    effects: PlaceboEffects, observed_log_rr: float, n_pre: int, *, level: float = LEVEL,
) -> Estimate:
    """The ``placebo_time`` row: observed ITS effect against the placebo distribution."""
    placebo = effects.log_rr
    n = len(placebo)
    if n < MIN_PLACEBOS or not np.isfinite(observed_log_rr):
        return unavailable("placebo_time",
                           f"{n} fake starts fit in the {n_pre} pre-period months (need "
                           f"{MIN_PLACEBOS}, each with 12 months before it)")
    p = float((1 + np.sum(np.abs(placebo) >= abs(observed_log_rr))) / (1 + n))
    rms = float(np.sqrt(np.mean(placebo**2)))
    half = stats.t.ppf(0.5 + level / 2, n - 1) * rms * np.sqrt(1 + 1 / n)
    rr = float(np.exp(observed_log_rr))
    note = (f"ITS at {n} fake starts in the pre-period: placebo rate ratios "
            f"{np.exp(placebo.min()):.2f}..{np.exp(placebo.max()):.2f} (RMS log {rms:.3f}); "
            f"p = share as extreme as the observed {rr:.2f} (smallest possible "
            f"{1 / (1 + n):.3f}); CI = prediction interval from the placebos' spread")
    return Estimate("placebo_time", rr, float(np.exp(observed_log_rr - half)),
                    float(np.exp(observed_log_rr + half)), p, note,
                    extra={"placebo_log_rr": placebo, "starts": effects.starts})
