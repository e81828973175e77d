"""Seasonal modulation of a self-exciting model's background: ``μ(s, t) = μ(s) · m(t)``.

A separable background in the style of Zhuang & Mateu (2019, "A semiparametric
spatiotemporal Hawkes-type point process model with periodic background for crime data",
JRSS A 182): the spatial part ``μ(s)`` is the model's own (per cell for ``etas-grid``, a
KDE for ``sepp``), the temporal part ``m(t)`` is piecewise constant per period of the cube
and log-linear in

- day of week (daily cubes only; Sunday is the reference);
- annual seasonality, two Fourier pairs in the day of the year at each period's midpoint
  (only with two years of history or more);
- the level of each 365-day block counted back from the end of the history; the newest
  block is the reference, so a forecast continues at the latest year's level instead of
  the average of every year (blocks shorter than a year are merged into the next older).

``m`` is normalised so that its time average over the observation window is 1: ``μ(s)``
keeps its meaning (background events per day, on average) and the background compensator
stays ``Σ μ · T``.

Why a modulation: with a constant background, a weekly or seasonal rhythm is either lost
(the forecast is the all-time average) or mistaken for triggering. It moves the expected
total, not the ranking of cells.

M-step (exact, given the E-step's background probabilities ``p_j``): the complete-data
background log-likelihood ``Σ_j p_j [log μ(s_j) + log m(t_j)] − ∫ μ · ∫ m`` profiles over
``μ`` to ``Σ_j p_j log m(t_j) − P log ∫ m``, which is the Poisson log-likelihood of the
expected background counts per period ``B_k = Σ_{j in k} p_j`` regressed on the design
with offset ``log(length_k)`` and a free intercept; statsmodels ``GLM`` fits it. The
spatial part's own update (``Σ p / T``) is then unchanged.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from hotspot.core.errors import ConfigError

BACKGROUND_TIME = ("constant", "seasonal")
_YEAR_DAYS = 365.0
_DAY = pd.Timedelta(days=1)


def check_background_time(model: str, value: str) -> str:
    if value not in BACKGROUND_TIME:
        raise ConfigError(f"{model} background_time must be one of {BACKGROUND_TIME}, "
                          f"got {value!r}")
    return value


class SeasonalModulation:
    """``m(t)`` for one fit: design fixed by the history, coefficients fitted by EM.

    ``starts`` are the history's period starts, ``end`` the end of the last period,
    ``freq`` the cube's frequency (``D``, ``W`` or ``M``) and ``event_days`` the fit's event
    times in days since the first start (each event's period is found once, here).
    """

    def __init__(self, starts: pd.DatetimeIndex, end: pd.Timestamp, freq: str,
                 event_days: np.ndarray) -> None:
        self.end = pd.Timestamp(end)
        bounds = starts.append(pd.DatetimeIndex([self.end]))
        days = np.asarray((bounds - starts[0]) / _DAY, dtype=float)
        self.lengths = np.diff(days)
        self.event_period = np.clip(np.searchsorted(days[:-1], event_days, side="right") - 1,
                                    0, len(starts) - 1)
        span = float(days[-1])
        self.n_blocks = max(1, int(span // _YEAR_DAYS))
        self.seasonal = span >= 2 * _YEAR_DAYS
        self.weekly = freq == "D" and span >= 14
        self.history_design = self.design(starts, self.lengths)
        self._exog = np.column_stack([np.ones(len(starts)), self.history_design])
        self._offset = np.log(self.lengths)
        self.beta = np.zeros(self.history_design.shape[1])
        self._normalise()

    # ---- design ----------------------------------------------------------------------
    def terms(self) -> list[str]:
        names: list[str] = []
        if self.weekly:
            names += [f"dow_{d}" for d in ("mon", "tue", "wed", "thu", "fri", "sat")]
        if self.seasonal:
            names += ["year_sin1", "year_cos1", "year_sin2", "year_cos2"]
        names += [f"level_minus_{b}y" for b in range(1, self.n_blocks)]
        return names

    def design(self, starts: pd.DatetimeIndex, lengths: np.ndarray) -> np.ndarray:
        """Design columns (no intercept) for periods starting at ``starts``."""
        columns: list[np.ndarray] = []
        if self.weekly:
            dow = np.asarray(starts.day_of_week)
            columns += [(dow == d).astype(float) for d in range(6)]
        if self.seasonal:
            middle = starts + pd.to_timedelta(lengths / 2.0, unit="D")
            angle = 2 * np.pi * np.asarray(middle.day_of_year, dtype=float) / 365.25
            columns += [np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)]
        age = np.asarray((self.end - starts) / _DAY, dtype=float)
        block = np.clip(np.floor(age / _YEAR_DAYS), 0, self.n_blocks - 1).astype(int)
        columns += [(block == b).astype(float) for b in range(1, self.n_blocks)]
        if not columns:
            return np.zeros((len(starts), 0))
        return np.column_stack(columns)

    # ---- values ----------------------------------------------------------------------
    def _normalise(self) -> None:
        raw = np.exp(self.history_design @ self.beta)
        self.scale = float(np.dot(raw, self.lengths) / self.lengths.sum())
        self.history_values = raw / self.scale

    def at_events(self) -> np.ndarray:
        """``m`` at the fit's events."""
        return self.history_values[self.event_period]

    def at_periods(self, starts: pd.DatetimeIndex, lengths: np.ndarray) -> np.ndarray:
        """``m`` for any periods (e.g. the forecast's), on the history's normalisation."""
        return np.exp(self.design(starts, lengths) @ self.beta) / self.scale

    # ---- fitting ---------------------------------------------------------------------
    def update(self, p_background: np.ndarray) -> None:
        """Exact M-step: Poisson regression of expected background counts per period
        (``p_background``: each event's probability of being background)."""
        if self.beta.size == 0:
            return
        counts = np.bincount(self.event_period, weights=p_background,
                             minlength=self.lengths.size)
        start = np.concatenate([[np.log(max(counts.sum(), 1e-12) / self.lengths.sum())],
                                self.beta])
        with warnings.catch_warnings():
            # expected counts are not integers: the Poisson score equations still hold
            warnings.simplefilter("ignore")
            fitted = sm.GLM(counts, self._exog, family=sm.families.Poisson(),
                            offset=self._offset).fit(start_params=start, maxiter=50)
        beta = np.asarray(fitted.params[1:], dtype=float)
        if np.all(np.isfinite(beta)):
            self.set_state(beta)

    def state(self) -> np.ndarray:
        return self.beta.copy()

    def set_state(self, beta: np.ndarray) -> None:
        self.beta = np.clip(np.asarray(beta, dtype=float), -30.0, 30.0)
        self._normalise()

    def params(self) -> dict[str, Any]:
        return {"terms": dict(zip(self.terms(), self.beta.tolist(), strict=True))}
