"""The trigger of a self-exciting model: ``θ · ω e^{−ω Δt} · g_σ(Δs)``.

Hand-written science (no library fits these models). The temporal part (branching ratio θ,
decay ω per day) and its M-step are the same for every model and live in :class:`Trigger`;
the spatial kernel ``g_σ`` is the model's own (:class:`SpatialKernel`: the discrete
Gaussian on the cell lattice of ``etas-grid`` in :mod:`models._lattice`, the continuous
kernel of ``sepp`` in :mod:`models._plane`). The EM routine (:mod:`models._em`) talks to the
trigger only through :class:`Trigger`.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from scipy import optimize, sparse, special

from hotspot.models._events import EventWindow
from hotspot.models._pairs import Pairs

#: θ is kept below this so forecasts of the (then nearly critical) process stay finite.
THETA_MAX = 0.99
#: ω (per day) is kept below this: a mean lag under ~9 seconds is no triggering at all
#: (it happens when no lag fits, e.g. month-resolution data, and then θ goes to 0).
OMEGA_MAX = 1e4


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors without BLAS (``np.dot`` goes through OpenBLAS, whose
    threads stall badly on a busy machine; einsum's own loop does not)."""
    return float(np.einsum("i,i->", a, b))


class SpatialKernel(Protocol):
    """The spatial part ``g_σ`` of a trigger, as the EM routine and the forecast use it."""

    #: Current bandwidth in metres (0 for a kernel confined to the event's own cell).
    sigma: float

    def pair_xy(self, window: EventWindow) -> tuple[np.ndarray, np.ndarray]:
        """The coordinates pairs are searched on (event positions or cell centres)."""

    def fixed_radius(self) -> float | None:
        """The fixed spatial truncation (metres), or ``None`` when it follows σ."""

    def radius(self) -> float:
        """The truncation radius the current σ needs (metres)."""

    def prepare(self, pairs: Pairs, window: EventWindow) -> None:
        """Precompute what the E- and M-steps need once a pair list is known."""

    def log_density(self, pairs: Pairs) -> np.ndarray:
        """``log g_σ`` of each pair, as a new array (the E-step works in it in place)."""

    def mass(self, window: EventWindow) -> np.ndarray:
        """Share of each event's kernel inside the study region."""

    def update(self, pairs: Pairs, window: EventWindow, p_pair: np.ndarray) -> None:
        """M-step for σ given the pairs' triggering probabilities."""

    def state(self) -> np.ndarray:
        """σ as an unconstrained vector (for the SQUAREM extrapolation)."""

    def set_state(self, state: np.ndarray) -> None: ...

    def operator(self, window: EventWindow, theta: float, omega: float
                 ) -> tuple[np.ndarray, sparse.spmatrix]:
        """``(excite0, K)`` for the forecast: the triggered rate per cell at the end of the
        window, ``θ ω Σ_i e^{−ω (T − t_i)} ∫_c g(s − s_i) ds``, and ``K[c, c']``, the share
        of an offspring of an event in ``c'`` landing in ``c``."""

    def release(self) -> None:
        """Drop per-pair working arrays once the fit is done."""

    def params(self) -> dict[str, Any]:
        """Fitted values worth reporting."""


class Trigger:
    """θ and ω (shared by every model) with a model's spatial kernel.

    ``pair_rates`` is the E-step's ``a_ij = θ ω e^{−ω (t_j − t_i)} g_σ(d_ij)``;
    ``compensator`` the expected number of triggered events in the observation window,
    ``θ Σ_i m_i (1 − e^{−ω (T − t_i)})`` with ``m_i`` the share of ``i``'s kernel inside
    the region; ``update`` the M-step (σ first, then θ and ω jointly, see
    :func:`update_theta_omega`).
    """

    def __init__(self, spatial: SpatialKernel, theta: float, omega: float) -> None:
        self.spatial = spatial
        self.theta = float(theta)
        self.omega = float(omega)

    def pair_rates(self, pairs: Pairs) -> np.ndarray:
        rates = self.spatial.log_density(pairs)
        rates -= self.omega * pairs.dt
        np.exp(rates, out=rates)
        rates *= self.theta * self.omega
        return rates

    def compensator(self, window: EventWindow) -> float:
        return self.theta * float(
            dot(self.spatial.mass(window), -np.expm1(-self.omega * window.remaining)))

    def update(self, pairs: Pairs, window: EventWindow, p_pair: np.ndarray) -> None:
        self.spatial.update(pairs, window, p_pair)
        self.theta, self.omega = update_theta_omega(
            float(p_pair.sum()), dot(p_pair, pairs.dt), window.remaining,
            self.spatial.mass(window), self.omega)

    def state(self) -> np.ndarray:
        """θ and ω as an unconstrained vector (logit θ, log ω)."""
        theta = min(max(self.theta, 1e-12), THETA_MAX)
        return np.array([np.log(theta / (1 - theta)), np.log(self.omega)])

    def set_state(self, state: np.ndarray) -> None:
        self.theta = float(min(special.expit(state[0]), THETA_MAX))
        self.omega = float(np.exp(np.clip(state[1], np.log(1e-8), np.log(OMEGA_MAX))))

    def operator(self, window: EventWindow) -> tuple[np.ndarray, sparse.spmatrix]:
        """``(excite0, K)`` at the forecast origin (see :meth:`SpatialKernel.operator`)."""
        return self.spatial.operator(window, self.theta, self.omega)


def update_theta_omega(
    n_triggered: float, lag_sum: float, remaining: np.ndarray, mass: np.ndarray,
    omega: float,
) -> tuple[float, float]:
    """Joint M-step for θ (branching ratio) and ω (temporal decay, per day).

    Maximises ``Q = P log θ + P log ω − ω S − θ Σ_i m_i (1 − e^{−ω s_i})`` with
    ``P = Σ p_ij`` (expected number of triggered events), ``S = Σ p_ij (t_j − t_i)``
    (weighted lag sum), ``s_i = T − t_i`` and ``m_i`` the spatial kernel mass of ``i`` in
    the region. Setting the derivatives to zero gives

        θ = P / D(ω),  D(ω) = Σ_i m_i (1 − e^{−ω s_i})   (expected triggered / effective
                                                          number of parents)
        P/ω − S − P D'(ω)/D(ω) = 0                       (ω: the weighted mean lag,
                                                          corrected for offspring not yet
                                                          seen at T)

    Without the end-of-window correction ``ω = P / S``; the correction only lowers ω, so
    the root is bracketed below ``P/S`` and found with Brent's method. θ is capped at
    ``THETA_MAX``, ω at ``OMEGA_MAX``. Where the cap binds — including when there is no
    root at all because ``Q`` keeps rising as ω → 0 (the weighted mean lag is longer than
    ``Σ m_i s_i² / (2 Σ m_i s_i)``, as with month-resolution times over a few months) — ω
    is re-solved with θ held at the cap (:func:`_capped_omega`).
    """
    if n_triggered <= 0 or remaining.size == 0 or lag_sum <= 0:
        return 0.0, min(omega, OMEGA_MAX)
    ms = mass * remaining

    def score(w: float) -> float:
        decay = np.exp(-w * remaining)
        return n_triggered / w - lag_sum - n_triggered * dot(ms, decay) / max(
            dot(mass, -np.expm1(-w * remaining)), 1e-300)

    hi = min(n_triggered / lag_sum, OMEGA_MAX)
    lo = hi / 2.0
    while score(lo) < 0 and lo > 1e-12 * hi:
        lo /= 2.0
    if score(hi) >= 0:
        omega = hi
    elif score(lo) >= 0:
        omega = float(optimize.brentq(score, lo, hi, xtol=1e-14 * hi, rtol=1e-12))
    else:
        # no interior root: Q rises all the way to ω → 0 with θ = P / D(ω) → ∞ (lags
        # longer than the window can show, e.g. month-resolution times over a few months)
        return THETA_MAX, _capped_omega(n_triggered, lag_sum, remaining, mass, hi)
    theta = n_triggered / max(dot(mass, -np.expm1(-omega * remaining)), 1e-300)
    if theta > THETA_MAX:
        return THETA_MAX, _capped_omega(n_triggered, lag_sum, remaining, mass, hi)
    return theta, omega


def _capped_omega(n_triggered: float, lag_sum: float, remaining: np.ndarray,
                  mass: np.ndarray, hi: float) -> float:
    """ω maximising ``Q`` with θ held at its cap: the root of
    ``P/ω − S − θ_max Σ_i m_i s_i e^{−ω s_i}``, which is +∞ as ω → 0 and negative at
    ``P/S`` (``hi``), so a bracket always exists. Where the cap binds this is the exact
    constrained M-step; capping the free θ after solving for ω would leave ω at a point
    the constrained likelihood does not favour (or, with no free root, nowhere)."""
    ms = mass * remaining

    def score(w: float) -> float:
        return n_triggered / w - lag_sum - THETA_MAX * dot(ms, np.exp(-w * remaining))

    if score(hi) >= 0:
        return hi
    lo = hi / 2.0
    while score(lo) < 0:  # P/ω outgrows the bounded sum long before ω underflows
        if lo < 1e-300:
            return lo
        lo /= 2.0
    return float(optimize.brentq(score, lo, hi, xtol=1e-14 * hi, rtol=1e-12))

