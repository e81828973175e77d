"""Expected counts per cell over forecast windows of a self-exciting model, with the
cascade of events triggered inside the horizon.

Hand-written science (the linear ODE of the conditional expectation, solved with sparse
matrix exponentials); shared by ``etas-grid`` and ``sepp``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import expm_multiply


def _neumann_solve(kernel: sparse.csr_matrix, theta: float, rhs: np.ndarray) -> np.ndarray:
    """``u = (I − θK)^{-1} rhs`` by the Neumann series ``u ← rhs + θ K u``; it converges
    geometrically (rate θ) because the columns of ``K`` sum to at most 1."""
    u = rhs.copy()
    scale = max(float(np.abs(rhs).max()), 1e-300)
    for _ in range(100_000):
        new = rhs + theta * (kernel @ u)
        change = float(np.abs(new - u).max())
        u = new
        if change <= 1e-14 * max(scale, float(np.abs(u).max())):
            break
    return u


def integrate_forecast(
    base: np.ndarray, excite0: np.ndarray, kernel: sparse.spmatrix, theta: float,
    omega: float, edges: np.ndarray, cascade: bool = True,
) -> np.ndarray:
    """Expected counts per cell over each period ``[edges[k], edges[k+1])`` (days after
    the forecast origin, ``edges[0] >= 0``).

    ``base`` is the background rate per cell (events/day): a vector, the same in every
    window, or an ``(n_windows, n)`` array, one row per window and constant within it
    (windows must then start at the origin); ``excite0`` is the triggered rate
    per cell at the origin from observed events, ``kernel[c, c']`` the share of an
    offspring of an event in ``c'`` that lands in ``c`` (columns sum to at most 1). With
    ``cascade`` the expected triggered rate ``x(t)`` follows the linear ODE of the
    conditional expectation,

        dx/dt = −ω x + θ ω K (b + x),

    so events expected inside the horizon excite further events. Its fixed point is
    ``x* = (I − θK)^{-1} θ K b`` (total rate ``Σ b / (1 − θ)`` when nothing leaves the
    grid) and the deviation ``y = x − x*`` obeys ``dy/dτ = (θK − I) y`` in ``τ = ω t``, so
    over a period of ``τ = ω Δ``

        ∫ x dt = x* Δ + (I − θK)^{-1} (y0 − y(τ)) / ω,   y(τ) = e^{(θK − I) τ} y0,

    with ``y(τ)`` from ``scipy.sparse.linalg.expm_multiply`` — or 0 once
    ``(1 − θ) τ > 40`` (``‖y(τ)‖₁ ≤ e^{−(1−θ)τ} ‖y0‖₁``), which keeps long periods with
    short lags cheap — and the inverses by the Neumann series. Periods are chained.
    Without ``cascade`` only observed events excite: ``∫ x = x0 (e^{−ω a} − e^{−ω b}) / ω``.
    """
    base = np.asarray(base, dtype=float)
    n = base.shape[-1]
    edges = np.asarray(edges, dtype=float)
    if edges[0] < 0:
        raise ValueError("forecast windows start at or after the origin")
    if edges[0] > 0 and cascade and theta > 0:  # carry the state from the origin first
        if base.ndim == 2:
            raise ValueError("a background per window needs windows from the origin")
        return integrate_forecast(base, excite0, kernel, theta, omega,
                                  np.concatenate([[0.0], edges]), cascade)[1:]
    widths = np.diff(edges)
    bases = np.broadcast_to(base, (widths.size, n))
    out = np.empty((widths.size, n))
    if not cascade or theta <= 0:
        decay = np.exp(-omega * edges)
        for k, width in enumerate(widths):
            out[k] = bases[k] * width + excite0 * (decay[k] - decay[k + 1]) / omega
        return np.maximum(out, 0.0)
    kernel = sparse.csr_matrix(kernel)
    generator = theta * kernel - sparse.identity(n, format="csr")
    x = np.asarray(excite0, dtype=float)
    fixed, fixed_for = np.zeros(n), None
    for k, width in enumerate(widths):
        if fixed_for is None or not np.array_equal(bases[k], fixed_for):
            fixed_for = bases[k]
            fixed = _neumann_solve(kernel, theta, theta * (kernel @ fixed_for))
        tau = omega * width
        y0 = x - fixed
        settled = (1.0 - theta) * tau > 40.0
        y_end = np.zeros(n) if settled else expm_multiply(generator * tau, y0)
        out[k] = (bases[k] + fixed) * width + _neumann_solve(kernel, theta, y0 - y_end) / omega
        x = fixed + y_end
    return np.maximum(out, 0.0)
