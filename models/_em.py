"""The EM fit shared by the self-exciting models, on a background and a trigger object.

Hand-written science: no library fits these models. Both ``etas-grid`` and ``sepp`` have
the conditional intensity

    λ(s, t) = μ(s) m(t) + Σ_{i: t_i < t} θ · ω e^{−ω (t − t_i)} · g_σ(s − s_i)

and are fitted by EM on the branching structure (Veen & Schoenberg 2008, Mohler et al.
2011). :func:`fit_em` sees only a :class:`~models._background.Background` (``μ(s) m(t)``)
and a :class:`~models._trigger.Trigger` (θ, ω and the model's spatial kernel ``g_σ``).

E-step: for every pair ``(i → j)`` in the pair list ``a_ij = θ ω e^{−ω (t_j − t_i)}
g_σ(d_ij)``; ``λ_j = μ(s_j) m(t_j) + Σ_i a_ij``; the branching probabilities
``p_ij = a_ij / λ_j`` (``j`` triggered by ``i``) and ``p_j = μ(s_j) m(t_j) / λ_j`` (``j`` is
background); the log-likelihood ``ℓ = Σ_j log λ_j − ∫ μ m − θ Σ_i m_i (1 − e^{−ω (T − t_i)})``
with ``m_i`` the share of ``i``'s kernel inside the region. M-step: the background, then σ,
then θ and ω jointly. SQUAREM accelerates EM with a monotonicity safeguard; the trace
records ``ℓ`` and the parameters of each accepted iterate and never decreases.

Truncation. Pairs are searched within a time window ``W`` and a radius ``R``. ``W`` is
where the temporal kernel has decayed to ``lag_tol`` (``ln(1/lag_tol)/ω``; fixed when
``max_lag_days`` is given; at most a year otherwise), ``R`` the radius the spatial kernel
asks for at its current σ (or its fixed radius). A pilot EM run (tolerance 1e-6) on a
shorter truncation (the window where the initial kernel has decayed to 1e-3, the radius of
the initial σ) gives rough estimates; the truncation is then set to 1.1 × what the
estimates need (pairs cut from the pilot list when it shrinks, searched again when it
grows) and EM runs to ``tol`` from the pilot's end point; should its estimates need a
wider truncation still, the search and EM are repeated (at most four runs in all).

Vectorisation: every E- and M-step is whole-array numpy over the pair list (``bincount``
for sums over parents of each child, gathers for per-event values); Python loops run only
over EM iterations and truncation rounds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hotspot.models._background import Background
from hotspot.models._events import EventWindow
from hotspot.models._pairs import Pairs, find_pairs
from hotspot.models._trigger import Trigger, dot

#: Fits re-derive the truncation at most this many times.
_MAX_ROUNDS = 4
#: The time window never exceeds this (days) unless ``max_lag_days`` says otherwise.
MAX_WINDOW_DAYS = 365.0
#: EM tolerance of the pilot run that sets the truncation from the data.
_PILOT_TOL = 1e-6
#: The pilot's time window: where the initial temporal kernel has decayed to this.
_PILOT_LAG_TOL = 1e-3


@dataclass(frozen=True)
class EMOptions:
    """How far EM runs (``max_iter`` E-steps per run, stop when a step gains less than
    ``tol · (1 + |ℓ|)``) and how the time window is truncated."""

    max_iter: int
    tol: float
    lag_tol: float
    max_lag_days: float | None = None


@dataclass
class EMResult:
    """Every run's trace (rows with a ``round`` number), the final run's log-likelihoods,
    one row per truncation round, and the final pair list's size."""

    trace: list[dict[str, Any]] = field(default_factory=list)
    loglik_trace: list[float] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    converged: bool = True
    n_pairs: int = 0


def fit_em(background: Background, trigger: Trigger, window: EventWindow,
           options: EMOptions) -> EMResult:
    """Fit ``background`` and ``trigger`` in place to the events of ``window``."""
    result = EMResult()
    if window.n == 0:
        trigger.theta = 0.0
        return result
    em = _EM(background, trigger, window, options)
    spatial = trigger.spatial
    fixed = options.max_lag_days is not None and spatial.fixed_radius() is not None
    pilot = not fixed
    pairs = em.search(spatial.radius(), em.window_days(_PILOT_LAG_TOL if pilot else None))
    for number in range(_MAX_ROUNDS):
        spatial.prepare(pairs, window)
        tol = max(options.tol, _PILOT_TOL) if pilot else options.tol
        trace, converged = em.run(pairs, tol)
        for row in trace:
            row["round"] = number
        result.trace += trace
        result.loglik_trace = [row["loglik"] for row in trace]
        result.rounds.append({"round": number, "radius_m": pairs.radius,
                              "window_days": pairs.window, "n_pairs": pairs.size,
                              "n_iter": len(trace), "converged": converged, "pilot": pilot})
        result.converged, result.n_pairs = converged, pairs.size
        need_r, need_w = spatial.radius(), em.window_days()
        short = need_r > pairs.radius * (1 + 1e-9) or need_w > pairs.window * (1 + 1e-9)
        if not (pilot or short) or number == _MAX_ROUNDS - 1:
            break
        new_r = 1.1 * need_r if need_r > pairs.radius or need_r < pairs.radius / 1.5 \
            else pairs.radius
        new_w = 1.1 * need_w if need_w > pairs.window or need_w < pairs.window / 1.5 \
            else pairs.window
        if spatial.fixed_radius() is not None:
            new_r = need_r
        if options.max_lag_days is not None:
            new_w = need_w
        if new_r <= pairs.radius and new_w <= pairs.window:
            pairs = pairs.within(new_r, new_w)
        else:
            pairs = em.search(new_r, new_w)
        pilot = False
    spatial.release()
    return result


class _EM:
    """One fit's E-step, M-step and SQUAREM runs over a given pair list."""

    def __init__(self, background: Background, trigger: Trigger, window: EventWindow,
                 options: EMOptions) -> None:
        self.background, self.trigger, self.window = background, trigger, window
        self.options = options

    def window_days(self, lag_tol: float | None = None) -> float:
        if self.options.max_lag_days is not None:
            return float(self.options.max_lag_days)
        return float(min(np.log(1.0 / (lag_tol or self.options.lag_tol)) / self.trigger.omega,
                         MAX_WINDOW_DAYS))

    def search(self, radius: float, window_days: float) -> Pairs:
        x, y = self.trigger.spatial.pair_xy(self.window)
        return find_pairs(x, y, self.window.t, radius, window_days)

    def estep(self, pairs: Pairs) -> tuple[float, tuple]:
        """Log-likelihood of the current parameters and what the M-step needs."""
        window = self.window
        mu_at = self.background.at_events(window)
        rates = self.trigger.pair_rates(pairs)
        lam = mu_at + np.bincount(pairs.child, weights=rates, minlength=window.n)
        compensator = self.background.total() * window.T + self.trigger.compensator(window)
        with np.errstate(divide="ignore"):
            loglik = float(np.sum(np.log(lam))) - compensator
        return loglik, (rates, lam, mu_at)

    def checked_estep(self, pairs: Pairs) -> tuple[float, tuple]:
        """:meth:`estep` for a point an M-step will start from: every event must have a
        positive, finite intensity, else its branching probabilities are 0/0 and NaN
        spreads through every parameter. A background is positive at each of its own
        events by construction, so this failing is a bug to report, not data to fit
        around (SQUAREM's extrapolated points go through :meth:`estep` and are dropped
        when their log-likelihood is not finite)."""
        loglik, parts = self.estep(pairs)
        if not np.isfinite(loglik):
            lam = parts[1]
            bad = np.flatnonzero(~(np.isfinite(lam) & (lam > 0)))
            where = (f"the first at day {self.window.t[bad[0]]:g}, "
                     f"({self.window.x[bad[0]]:.0f}, {self.window.y[bad[0]]:.0f})"
                     if bad.size else "the compensator is not finite")
            raise RuntimeError(
                f"self-exciting EM: {bad.size} of {self.window.n} events have zero or "
                f"non-finite intensity ({where}); the background must be positive at "
                "every event: please report this with the data")
        return loglik, parts

    def mstep(self, pairs: Pairs, parts: tuple) -> None:
        """M-step from one E-step's parts (consumed: the pair array is reused in place)."""
        rates, lam, mu_at = parts
        p_pair = rates
        p_pair /= lam[pairs.child]
        self.background.update(self.window, mu_at / lam)
        self.trigger.update(pairs, self.window, p_pair)

    def state(self) -> np.ndarray:
        """All parameters as one unconstrained vector for the SQUAREM extrapolation: θ and
        ω, the background, σ (this order keeps the step lengths bit-for-bit those of the
        earlier per-model layout)."""
        return np.concatenate([self.trigger.state(), self.background.state(),
                               self.trigger.spatial.state()])

    def set_state(self, state: np.ndarray) -> None:
        n_bg = state.size - 2 - self.trigger.spatial.state().size
        self.trigger.set_state(state[:2])
        self.background.set_state(state[2:2 + n_bg])
        self.trigger.spatial.set_state(state[2 + n_bg:])

    def snapshot(self, loglik: float, iteration: int) -> dict[str, Any]:
        return {"iteration": iteration, "loglik": loglik, "theta": self.trigger.theta,
                "omega": self.trigger.omega, "sigma_m": float(self.trigger.spatial.sigma),
                "mu_total": self.background.total()}

    def run(self, pairs: Pairs, tol: float) -> tuple[list[dict[str, Any]], bool]:
        """EM accelerated by SQUAREM (Varadhan & Roland 2008, scheme S3), kept monotone.

        One cycle: two EM steps ``x0 → x1 → x2``; an extrapolation
        ``x' = x0 − 2α r + α² v`` (``r = x1 − x0``, ``v = x2 − 2 x1 + x0``,
        ``α = −‖r‖/‖v‖ ≤ −1``) in the unconstrained parameters; one EM step from ``x'``.
        That last point is kept only if its log-likelihood is at least that of ``x2``,
        otherwise the cycle ends at ``x2``: every recorded iterate is an EM step or an
        accepted extrapolation, so the trace never decreases (up to rounding). EM stops when
        a plain EM step gains less than ``tol · (1 + |ℓ|)``; a step that *loses* (possible
        only with an inexact M-step such as sepp's KDE smoother, near its fixed point) is
        undone and also ends the run.
        """
        trace: list[dict[str, Any]] = []

        def record(loglik: float) -> None:
            trace.append(self.snapshot(loglik, len(trace)))

        loglik0, parts0 = self.checked_estep(pairs)
        record(loglik0)
        evaluations = 1
        while evaluations < int(self.options.max_iter):
            x0 = self.state()
            self.mstep(pairs, parts0)
            parts0 = None  # consumed: free the per-pair arrays before the next E-step
            x1 = self.state()
            loglik1, parts1 = self.checked_estep(pairs)
            evaluations += 1
            if loglik1 < loglik0:  # an inexact M-step (sepp's KDE) stopped helping
                self.set_state(x0)
                return trace, True
            record(loglik1)
            if loglik1 - loglik0 <= tol * (1.0 + abs(loglik1)):
                return trace, True
            self.mstep(pairs, parts1)
            parts1 = None
            x2 = self.state()
            loglik2, parts2 = self.checked_estep(pairs)
            evaluations += 1
            if loglik2 < loglik1:
                self.set_state(x1)
                return trace, True
            record(loglik2)
            r, v = x1 - x0, x2 - 2 * x1 + x0
            alpha = -np.sqrt(dot(r, r) / max(dot(v, v), 1e-300))
            if alpha < -1.0 and np.isfinite(alpha):
                self.set_state(x0 - 2 * alpha * r + alpha**2 * v)
                loglik_x, parts_x = self.estep(pairs)
                if np.isfinite(loglik_x):
                    self.mstep(pairs, parts_x)
                    parts_x = None
                    loglik_new, parts_new = self.estep(pairs)
                    evaluations += 2
                    if np.isfinite(loglik_new) and loglik_new >= loglik2:
                        record(loglik_new)
                        loglik0, parts0 = loglik_new, parts_new
                        continue
                self.set_state(x2)
            loglik0, parts0 = loglik2, parts2
        return trace, False
