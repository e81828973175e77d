"""Shared machinery of the self-exciting point-process models ``etas-grid`` and ``sepp``.

Hand-written science (no third-party point-process code). Both models have the
conditional intensity

    λ(s, t) = μ(s) + Σ_{i: t_i < t} θ · ω e^{−ω (t − t_i)} · g_σ(s − s_i)

and are fitted by the EM algorithm on the branching structure (Veen & Schoenberg 2008,
Mohler et al. 2011). What they share lives here:

- :func:`event_window` — the events a fit may see, as float days since the start of the
  history, sorted by time, each assigned to a cell;
- :func:`find_pairs` — every (parent, child) pair with ``0 < t_child − t_parent ≤ W`` and
  spatial distance ``≤ R``, found by grid hashing and ``searchsorted`` on time, so memory
  and time grow with the number of pairs (about linearly in the number of events), never
  ``N²``;
- :func:`update_theta_omega` — the joint M-step for θ and ω with the correction for
  triggering mass cut at the end of the observation window;
- :class:`SelfExcitingForecaster` — the EM loop, the adaptive truncation (window in time
  and radius in space re-derived from the fitted ω and σ), the convergence trace and the
  forecast, with hooks each model fills in (background, spatial kernel);
- :func:`integrate_forecast` — expected counts per cell integrated over each forecast
  period, *including* the expected cascade of events triggered inside the horizon;
- :func:`cell_neighbours`, :func:`discrete_gaussian_kernel` — neighbour search on the cell
  lattice and the edge-normalised discrete Gaussian kernel of ``etas-grid`` (also used by
  the simulator so simulation and model share one definition).

EM (both models). With the current parameters the E-step computes, for every pair
``(i → j)`` in the pair list, ``a_ij = θ ω e^{−ω (t_j − t_i)} g_σ(d_ij)``; the intensity at
each event ``λ_j = μ(s_j) + Σ_i a_ij``; the branching probabilities ``p_ij = a_ij / λ_j``
(``j`` triggered by ``i``) and ``p_j = μ(s_j) / λ_j`` (``j`` is background); and the
log-likelihood ``ℓ = Σ_j log λ_j − ∫ μ − θ Σ_i m_i (1 − e^{−ω (T − t_i)})`` where ``m_i`` is
the share of ``i``'s spatial kernel inside the study region (1 on the grid, where the
kernel is normalised over existing cells). The M-step updates the background (model hook),
σ (model hook), then θ and ω jointly (:func:`update_theta_omega`). EM is accelerated by
SQUAREM with a monotonicity safeguard; the trace records ``ℓ`` and the parameters of each
accepted iterate and never decreases.

Vectorisation: every E- and M-step is whole-array numpy over the pair list (``bincount``
for sums over parents of each child, gathers for per-event values); Python loops run only
over EM iterations, lattice offsets and forecast periods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import optimize, sparse, special
from scipy.sparse.linalg import expm_multiply

from hotspot.core.errors import ConfigError, DataError
from hotspot.features.cube import grid_of
from hotspot.models._modulation import SeasonalModulation, check_background_time
from hotspot.models.base import BaseForecaster

#: θ is kept below this so forecasts of the (then nearly critical) process stay finite.
THETA_MAX = 0.99
#: ω (per day) is kept below this: a mean lag under ~9 seconds is no triggering at all
#: (it happens when no lag fits, e.g. month-resolution data, and then θ goes to 0).
OMEGA_MAX = 1e4
#: Fits re-derive the truncation at most this many times.
_MAX_ROUNDS = 4
#: The time window never exceeds this (days) unless ``max_lag_days`` says otherwise.
MAX_WINDOW_DAYS = 365.0
#: A pair search that would look at more candidate pairs than this stops with advice.
MAX_PAIR_CANDIDATES = 100_000_000
#: EM tolerance of the pilot run that sets the truncation from the data.
_PILOT_TOL = 1e-6
#: The pilot's time window: where the initial temporal kernel has decayed to this.
_PILOT_LAG_TOL = 1e-3


# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EventWindow:
    """The events one fit sees: times in days since ``start`` (sorted), positions, cells."""

    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    cell: np.ndarray
    T: float
    start: pd.Timestamp
    n_cells: int

    @property
    def n(self) -> int:
        return int(self.t.size)

    @property
    def remaining(self) -> np.ndarray:
        """Time from each event to the end of the observation window, ``T − t_i``."""
        return self.T - self.t


def event_window(history: xr.Dataset, events: pd.DataFrame, cutoff: pd.Period) -> EventWindow:
    """Events from the start of ``history``'s first period to the end of ``cutoff``, in cells.

    Events outside the grid's area (or without coordinates) are dropped, as the cube drops
    them. Times become float days since the first period's start; the observation window
    is ``[0, T)`` with ``T`` the end of the cutoff period. Month-resolution sources (all
    times on the 1st) come through unchanged: every event sits at its month's start.
    """
    start = pd.Timestamp(history["time"].values[0])
    end = (cutoff + 1).start_time
    if events is None or len(events) == 0:
        empty = np.empty(0)
        return EventWindow(empty, empty, empty, np.empty(0, np.int64),
                           float((end - start) / pd.Timedelta(days=1)), start,
                           history.sizes["cell"])
    times = pd.DatetimeIndex(events["time"])
    x = events["x"].to_numpy(dtype=float)
    y = events["y"].to_numpy(dtype=float)
    keep = np.asarray((times >= start) & (times < end)) & np.isfinite(x) & np.isfinite(y)
    cell = np.full(x.shape, -1, dtype=np.int64)
    if keep.any():
        cell[keep] = grid_of(history).assign(x[keep], y[keep])
    keep &= cell >= 0
    t = np.asarray((times[keep] - start) / pd.Timedelta(days=1), dtype=float)
    order = np.argsort(t, kind="stable")
    return EventWindow(
        t=t[order], x=x[keep][order], y=y[keep][order], cell=cell[keep][order],
        T=float((end - start) / pd.Timedelta(days=1)), start=start,
        n_cells=history.sizes["cell"],
    )


# -- neighbour search ------------------------------------------------------------------


@dataclass(frozen=True)
class Pairs:
    """Sparse (parent, child) pairs with time lag ``dt > 0`` and squared distance ``d2``."""

    parent: np.ndarray
    child: np.ndarray
    dt: np.ndarray
    d2: np.ndarray
    radius: float
    window: float

    @property
    def size(self) -> int:
        return int(self.parent.size)

    def within(self, radius: float, window: float) -> Pairs:
        """The pairs inside a smaller radius and window (no new search)."""
        keep = (self.dt <= window) & (self.d2 <= radius**2 * (1 + 1e-12))
        return Pairs(self.parent[keep], self.child[keep], self.dt[keep], self.d2[keep],
                     radius, window)


def find_pairs(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, radius: float, window: float
) -> Pairs:
    """All pairs ``i → j`` with ``0 < t_j − t_i ≤ window`` and ``|s_j − s_i| ≤ radius``.

    Grid hashing: events are binned into squares of side ``radius`` (1 m when
    ``radius = 0``: then only events at the very same point pair up) and sorted by
    ``(square, time)`` under one float key ``square · span + t``. For each of the nine
    neighbouring squares, two ``searchsorted`` calls find every child's candidate parents
    in ``[t_j − window, t_j)``; candidates are expanded with ``repeat``/``arange`` and cut to
    the disc. Work and memory grow with the number of candidates (about 2.9 × the pairs),
    one neighbour square at a time; ties in time (``dt = 0``) are never pairs. A search
    that would examine more than ``MAX_PAIR_CANDIDATES`` candidates stops with a
    ``DataError`` saying how to narrow it.
    """
    if t.size == 0:
        empty = np.empty(0, np.int32)
        return Pairs(empty, empty, np.empty(0), np.empty(0), float(radius), float(window))
    size = radius if radius > 0 else 1.0
    steps = (-1, 0, 1) if radius > 0 else (0,)
    bx = np.floor((x - x.min()) / size).astype(np.int64)
    by = np.floor((y - y.min()) / size).astype(np.int64) + 1
    stride = int(by.max()) + 2
    code = bx * stride + by
    squares, square = np.unique(code, return_inverse=True)
    t0 = t - t.min()
    span = float(t0.max()) + window + 1.0
    order = np.lexsort((t0, square))
    key = square[order] * span + t0[order]
    r2 = radius**2 * (1 + 1e-12)
    parents, children = [], []
    for dx in steps:
        for dy in steps:
            target = code + dx * stride + dy
            where = np.minimum(np.searchsorted(squares, target), squares.size - 1)
            child = np.flatnonzero(squares[where] == target)
            base = where[child] * span
            lo = np.searchsorted(key, base + t0[child] - window, side="left")
            count = np.searchsorted(key, base + t0[child], side="left") - lo
            total = int(count.sum())
            if total * len(steps) ** 2 > MAX_PAIR_CANDIDATES:
                raise DataError(
                    f"the parent search ({radius:.0f} m, {window:.0f} days) would examine "
                    f"about {total * len(steps) ** 2:,} candidate pairs: set a smaller "
                    "radius_m / max_radius_m or max_lag_days, or fit fewer events")
            if total == 0:
                continue
            child = np.repeat(child, count)
            parent = order[np.repeat(lo - (np.cumsum(count) - count), count) + np.arange(total)]
            near = (x[child] - x[parent]) ** 2 + (y[child] - y[parent]) ** 2 <= r2
            parents.append(parent[near])
            children.append(child[near])
    parent = np.concatenate(parents) if parents else np.empty(0, np.int64)
    child = np.concatenate(children) if children else np.empty(0, np.int64)
    dt = t[child] - t[parent]
    keep = (dt > 0) & (dt <= window)
    parent, child = parent[keep], child[keep]
    d2 = (x[child] - x[parent]) ** 2 + (y[child] - y[parent]) ** 2
    return Pairs(parent.astype(np.int32), child.astype(np.int32), dt[keep], d2,
                 float(radius), float(window))


def cell_neighbours(
    ix: np.ndarray, iy: np.ndarray, radius_cells: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(src, dst, dx, dy)`` for every ordered pair of existing cells at most
    ``radius_cells`` apart (centre to centre, in cell units), each cell with itself too.

    A lookup table over the cells' bounding box is probed once per lattice offset (a loop
    over offsets, never over cells).
    """
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    ix0, iy0 = ix.min(), iy.min()
    width, height = int(ix.max() - ix0 + 1), int(iy.max() - iy0 + 1)
    lookup = np.full((height, width), -1, dtype=np.int64)
    lookup[iy - iy0, ix - ix0] = np.arange(ix.size)
    k = int(np.floor(radius_cells + 1e-9))
    src, dst, ddx, ddy = [], [], [], []
    for dx in range(-k, k + 1):
        for dy in range(-k, k + 1):
            if dx * dx + dy * dy > radius_cells**2 + 1e-9:
                continue
            col, row = ix - ix0 + dx, iy - iy0 + dy
            ok = (col >= 0) & (col < width) & (row >= 0) & (row < height)
            target = np.full(ix.size, -1, dtype=np.int64)
            target[ok] = lookup[row[ok], col[ok]]
            hit = np.flatnonzero(target >= 0)
            src.append(hit)
            dst.append(target[hit])
            ddx.append(np.full(hit.size, dx))
            ddy.append(np.full(hit.size, dy))
    return (np.concatenate(src), np.concatenate(dst), np.concatenate(ddx),
            np.concatenate(ddy))


def discrete_gaussian_kernel(
    ix: np.ndarray, iy: np.ndarray, sigma_cells: float, radius_cells: float
) -> sparse.csr_matrix:
    """Cell-to-cell triggering kernel ``K[c, c'] = g(c | c')`` of ``etas-grid``.

    ``g(c | c') ∝ exp(−d²/(2σ²))`` for cells ``c`` within ``radius_cells`` of ``c'``
    (centre distance ``d``), normalised over the cells that exist so each column sums to 1:
    an offspring never leaves the grid. ``sigma_cells = 0`` is the in-cell kernel (identity).
    """
    n = len(ix)
    if sigma_cells <= 0:
        return sparse.identity(n, format="csr")
    src, dst, dx, dy = cell_neighbours(ix, iy, radius_cells)
    w = np.exp(-(dx * dx + dy * dy) / (2.0 * sigma_cells**2))
    w /= np.bincount(src, weights=w, minlength=n)[src]
    return sparse.csr_matrix((w, (dst, src)), shape=(n, n))


# -- M-step pieces ---------------------------------------------------------------------


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors without BLAS (``np.dot`` goes through OpenBLAS, whose
    threads stall badly on a busy machine; einsum's own loop does not)."""
    return float(np.einsum("i,i->", a, b))


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
    ``THETA_MAX``, ω at ``OMEGA_MAX``.
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
    omega = hi if score(hi) >= 0 else float(optimize.brentq(score, lo, hi, xtol=1e-14 * hi,
                                                             rtol=1e-12))
    theta = n_triggered / max(dot(mass, -np.expm1(-omega * remaining)), 1e-300)
    return min(theta, THETA_MAX), omega


def decayed_sums(
    t: np.ndarray, group: np.ndarray, t0: float, omega: float, n_groups: int
) -> np.ndarray:
    """``Σ_{i in group g} e^{−ω (t0 − t_i)}`` for each group (exponential-decay kernel sums)."""
    return np.bincount(group, weights=np.exp(-omega * (t0 - t)), minlength=n_groups)


# -- forecast --------------------------------------------------------------------------


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


# -- the shared forecaster ---------------------------------------------------------------


class SelfExcitingForecaster(BaseForecaster):
    """EM fit and integrated forecast shared by ``etas-grid`` and ``sepp``.

    Subclasses set ``needs_events = True``, store their parameters in ``__init__`` (this
    class reads ``omega_init, theta_init, max_lag_days, lag_tol, radius_sigmas, max_iter,
    tol, horizon_cascade``) and fill in the hooks below.

    Truncation. Pairs are searched within a time window ``W`` and a radius ``R``. ``W`` is
    where the temporal kernel has decayed to ``lag_tol`` (``ln(1/lag_tol)/ω``; fixed when
    ``max_lag_days`` is given; at most a year otherwise), ``R`` is ``radius_sigmas · σ``
    (at most ``max_radius_m``, which also caps σ at ``max_radius_m / radius_sigmas``; or
    the model's fixed radius). A pilot EM run (tolerance 1e-6) on a shorter truncation
    (the window where the initial kernel has decayed to 1e-3, the radius of the initial
    σ) gives rough estimates; the truncation is then set to 1.1 × what the estimates need (pairs cut
    from the pilot list when it shrinks, searched again when it grows) and EM runs to
    ``tol`` from the pilot's end point; should its estimates need a wider truncation
    still, the search and EM are repeated (at most four runs in all).
    ``fitted_params`` keeps every run's trace (``trace``, with a ``round`` number) and the
    final run's log-likelihoods (``loglik_trace``).
    """

    needs_events = True

    # ---- hooks -----------------------------------------------------------------------
    def _setup(self, history: xr.Dataset, window: EventWindow) -> None:
        """Geometry and initial parameters (``theta_``, ``omega_``, ``sigma_``, background)."""
        raise NotImplementedError

    def _pair_xy(self, window: EventWindow) -> tuple[np.ndarray, np.ndarray]:
        """The coordinates pairs are searched on (event positions or cell centres)."""
        raise NotImplementedError

    def _radius(self) -> float:
        """Spatial truncation radius wanted for the current σ (metres)."""
        raise NotImplementedError

    def _prepare(self, pairs: Pairs, window: EventWindow) -> None:
        """Model-specific precomputation once a pair list is known."""

    def _background_at(self, window: EventWindow) -> np.ndarray:
        """Background intensity at each event."""
        raise NotImplementedError

    def _background_total(self) -> float:
        """Background events per day over the whole region."""
        raise NotImplementedError

    def _log_spatial(self, pairs: Pairs, window: EventWindow) -> np.ndarray:
        """``log g_σ`` of each pair (a new array: the E-step works in it in place)."""
        raise NotImplementedError

    def _model_state(self) -> np.ndarray:
        """The model's own parameters (background, σ) as an unconstrained vector."""
        raise NotImplementedError

    def _set_model_state(self, state: np.ndarray) -> None:
        raise NotImplementedError

    def _trigger_mass(self, window: EventWindow) -> np.ndarray:
        """Share of each event's spatial kernel inside the region."""
        return np.ones(window.n)

    def _update_background(self, window: EventWindow, p_background: np.ndarray) -> None:
        raise NotImplementedError

    def _update_sigma(self, pairs: Pairs, window: EventWindow, p_pair: np.ndarray) -> None:
        """M-step for σ (leave it alone when σ is fixed)."""

    def _forecast_parts(self) -> tuple[np.ndarray, np.ndarray, sparse.spmatrix]:
        """``(base, excite0, kernel)`` per cell at the forecast origin (see
        :func:`integrate_forecast`)."""
        raise NotImplementedError

    def _extra_params(self) -> dict[str, Any]:
        return {}

    def _release(self) -> None:
        """Drop per-pair working arrays once the fit is done (the forecast needs none)."""

    # ---- shared ----------------------------------------------------------------------
    def _check_common(self) -> None:
        if not self.omega_init > 0 or not 0 < self.theta_init < 1:
            raise ConfigError(f"{self.name}: omega_init must be > 0 and theta_init in (0, 1)")
        if self.max_lag_days is not None and not self.max_lag_days > 0:
            raise ConfigError(f"{self.name}: max_lag_days must be positive")
        if not 0 < self.lag_tol < 1 or not self.radius_sigmas > 0:
            raise ConfigError(f"{self.name}: lag_tol must be in (0, 1), radius_sigmas > 0")
        if int(self.max_iter) < 1 or not self.tol > 0:
            raise ConfigError(f"{self.name}: max_iter must be >= 1 and tol > 0")
        if not self.max_radius_m > 0:
            raise ConfigError(f"{self.name}: max_radius_m must be positive")
        check_background_time(self.name, self.background_time)

    def _window_days(self, lag_tol: float | None = None) -> float:
        if self.max_lag_days is not None:
            return float(self.max_lag_days)
        return float(min(np.log(1.0 / (lag_tol or self.lag_tol)) / self.omega_,
                         MAX_WINDOW_DAYS))

    def _max_radius(self) -> float:
        """Largest spatial truncation (``max_radius_m``, at least two cells)."""
        return max(float(self.max_radius_m), 2.0 * self.cell_size_)

    def _fixed_truncation(self) -> bool:
        return self.max_lag_days is not None and self._radius_fixed() is not None

    def _radius_fixed(self) -> float | None:
        """The fixed spatial truncation, if the model has one (else ``None``)."""
        return None

    def _fit(self, history: xr.Dataset, events: pd.DataFrame | None) -> None:
        window = event_window(history, events, self.cutoff_)
        self.window_ = window
        self.theta_, self.omega_ = float(self.theta_init), float(self.omega_init)
        self.modulation_ = None
        if self.background_time == "seasonal":
            starts = pd.DatetimeIndex(history["time"].values)
            self.modulation_ = SeasonalModulation(starts, (self.cutoff_ + 1).start_time,
                                                  self.freq_, window.t)
        self._setup(history, window)
        self.trace_: list[dict[str, Any]] = []
        self.loglik_trace_: list[float] = []
        self.rounds_: list[dict[str, Any]] = []
        self.converged_ = True
        self.n_pairs_ = 0
        if window.n == 0:
            self.theta_ = 0.0
            return
        pilot = not self._fixed_truncation()
        pairs = find_pairs(*self._pair_xy(window), window.t, self._radius(),
                           self._window_days(_PILOT_LAG_TOL if pilot else None))
        for number in range(_MAX_ROUNDS):
            self._prepare(pairs, window)
            tol = max(self.tol, _PILOT_TOL) if pilot else self.tol
            trace, converged = self._em(pairs, window, tol)
            for row in trace:
                row["round"] = number
            self.trace_ += trace
            self.loglik_trace_ = [row["loglik"] for row in trace]
            self.rounds_.append({"round": number, "radius_m": pairs.radius,
                                 "window_days": pairs.window, "n_pairs": pairs.size,
                                 "n_iter": len(trace), "converged": converged,
                                 "pilot": pilot})
            self.converged_, self.n_pairs_ = converged, pairs.size
            need_r, need_w = self._radius(), self._window_days()
            short = need_r > pairs.radius * (1 + 1e-9) or need_w > pairs.window * (1 + 1e-9)
            if not (pilot or short) or number == _MAX_ROUNDS - 1:
                break
            new_r = 1.1 * need_r if need_r > pairs.radius or need_r < pairs.radius / 1.5 \
                else pairs.radius
            new_w = 1.1 * need_w if need_w > pairs.window or need_w < pairs.window / 1.5 \
                else pairs.window
            if self._radius_fixed() is not None:
                new_r = need_r
            if self.max_lag_days is not None:
                new_w = need_w
            if new_r <= pairs.radius and new_w <= pairs.window:
                pairs = pairs.within(new_r, new_w)
            else:
                pairs = find_pairs(*self._pair_xy(window), window.t, new_r, new_w)
            pilot = False
        self._release()

    def _estep(self, pairs: Pairs, window: EventWindow) -> tuple[float, tuple]:
        """Log-likelihood of the current parameters and what the M-step needs."""
        mu_at = self._background_at(window)
        if self.modulation_ is not None:
            mu_at = mu_at * self.modulation_.at_events()
        trig = self._log_spatial(pairs, window)
        trig -= self.omega_ * pairs.dt
        np.exp(trig, out=trig)
        trig *= self.theta_ * self.omega_
        lam = mu_at + np.bincount(pairs.child, weights=trig, minlength=window.n)
        compensator = self._background_total() * window.T + self.theta_ * float(
            dot(self._trigger_mass(window), -np.expm1(-self.omega_ * window.remaining)))
        with np.errstate(divide="ignore"):
            loglik = float(np.sum(np.log(lam))) - compensator
        return loglik, (trig, lam, mu_at)

    def _mstep(self, pairs: Pairs, window: EventWindow, parts: tuple) -> None:
        """M-step from one E-step's parts (consumed: the pair array is reused in place)."""
        trig, lam, mu_at = parts
        p_pair = trig
        p_pair /= lam[pairs.child]
        p_background = mu_at / lam
        if self.modulation_ is not None:
            self.modulation_.update(p_background)
        self._update_background(window, p_background)
        self._update_sigma(pairs, window, p_pair)
        self.theta_, self.omega_ = update_theta_omega(
            float(p_pair.sum()), dot(p_pair, pairs.dt), window.remaining,
            self._trigger_mass(window), self.omega_)

    def _state(self) -> np.ndarray:
        """All parameters as one unconstrained vector (for the SQUAREM extrapolation)."""
        theta = min(max(self.theta_, 1e-12), THETA_MAX)
        return np.concatenate([[np.log(theta / (1 - theta)), np.log(self.omega_)],
                               self._modulation_state(), self._model_state()])

    def _modulation_state(self) -> np.ndarray:
        return np.empty(0) if self.modulation_ is None else self.modulation_.state()

    def _set_state(self, state: np.ndarray) -> None:
        self.theta_ = float(min(special.expit(state[0]), THETA_MAX))
        self.omega_ = float(np.exp(np.clip(state[1], np.log(1e-8), np.log(OMEGA_MAX))))
        n_mod = 0
        if self.modulation_ is not None:
            n_mod = self.modulation_.beta.size
            self.modulation_.set_state(state[2:2 + n_mod])
        self._set_model_state(state[2 + n_mod:])

    def _em(
        self, pairs: Pairs, window: EventWindow, tol: float
    ) -> tuple[list[dict[str, Any]], bool]:
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
            trace.append({"iteration": len(trace), "loglik": loglik, **self._snapshot()})

        loglik0, parts0 = self._estep(pairs, window)
        record(loglik0)
        evaluations = 1
        while evaluations < int(self.max_iter):
            x0 = self._state()
            self._mstep(pairs, window, parts0)
            parts0 = None  # consumed: free the per-pair arrays before the next E-step
            x1 = self._state()
            loglik1, parts1 = self._estep(pairs, window)
            evaluations += 1
            if loglik1 < loglik0:  # an inexact M-step (sepp's KDE) stopped helping
                self._set_state(x0)
                return trace, True
            record(loglik1)
            if loglik1 - loglik0 <= tol * (1.0 + abs(loglik1)):
                return trace, True
            self._mstep(pairs, window, parts1)
            parts1 = None
            x2 = self._state()
            loglik2, parts2 = self._estep(pairs, window)
            evaluations += 1
            if loglik2 < loglik1:
                self._set_state(x1)
                return trace, True
            record(loglik2)
            r, v = x1 - x0, x2 - 2 * x1 + x0
            alpha = -np.sqrt(dot(r, r) / max(dot(v, v), 1e-300))
            if alpha < -1.0 and np.isfinite(alpha):
                self._set_state(x0 - 2 * alpha * r + alpha**2 * v)
                loglik_x, parts_x = self._estep(pairs, window)
                if np.isfinite(loglik_x):
                    self._mstep(pairs, window, parts_x)
                    parts_x = None
                    loglik_new, parts_new = self._estep(pairs, window)
                    evaluations += 2
                    if np.isfinite(loglik_new) and loglik_new >= loglik2:
                        record(loglik_new)
                        loglik0, parts0 = loglik_new, parts_new
                        continue
                self._set_state(x2)
            loglik0, parts0 = loglik2, parts2
        return trace, False

    def _snapshot(self) -> dict[str, float]:
        return {"theta": self.theta_, "omega": self.omega_,
                "sigma_m": float(getattr(self, "sigma_", 0.0)),
                "mu_total": self._background_total()}

    def _forecast_periods(self, periods: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
        """Starts of the ``periods`` periods after the cutoff, and their edges in days
        after the forecast origin (``periods + 1`` values)."""
        bounds = pd.period_range(self.cutoff_ + 1, periods=periods + 1).to_timestamp(
            how="start")
        return bounds[:-1], np.asarray((bounds - bounds[0]) / pd.Timedelta(days=1),
                                       dtype=float)

    def _forecast_edges(self, periods: int) -> np.ndarray:
        return self._forecast_periods(periods)[1]

    def _forecast_multipliers(self, periods: int) -> tuple[np.ndarray, np.ndarray]:
        """Edges of the ``periods`` periods after the cutoff and the background's
        modulation ``m`` in each."""
        starts, edges = self._forecast_periods(periods)
        return edges, self.modulation_.at_periods(starts, np.diff(edges))

    def expected_counts(self, edges: np.ndarray) -> np.ndarray:
        """Expected counts per cell over arbitrary windows ``[edges[k], edges[k+1])`` in
        days after the end of the cutoff period."""
        base, excite0, kernel = self._forecast_parts()
        edges = np.asarray(edges, dtype=float)
        cascade = bool(self.horizon_cascade)
        if self.modulation_ is None:
            return integrate_forecast(base, excite0, kernel, self.theta_, self.omega_,
                                      edges, cascade=cascade)
        # a modulated background is constant within each cube period: integrate piecewise
        # on the union of the requested edges and the period boundaries, then sum back
        bounds, per_period = self._forecast_multipliers(
            self._periods_to_cover(float(edges[-1])))
        fine = np.union1d(np.concatenate([[0.0], edges]), bounds[bounds < edges[-1]])
        m = per_period[np.searchsorted(bounds, fine[:-1], side="right") - 1]
        pieces = integrate_forecast(m[:, None] * base[None, :], excite0, kernel,
                                    self.theta_, self.omega_, fine, cascade=cascade)
        first = np.searchsorted(fine, edges[:-1])
        return np.add.reduceat(pieces, first, axis=0)

    def _periods_to_cover(self, days: float) -> int:
        """How many periods after the cutoff cover ``days`` days."""
        shortest = {"D": 1.0, "W": 7.0, "M": 28.0}[self.freq_]
        return int(np.ceil(days / shortest)) + 1

    def _modulation_params(self) -> dict[str, Any]:
        if self.modulation_ is None:
            return {"kind": "constant"}
        _, multipliers = self._forecast_multipliers(7 if self.freq_ == "D" else 1)
        return {"kind": "seasonal", **self.modulation_.params(),
                "forecast_multipliers": multipliers.tolist()}

    def _predict(self, periods: int) -> np.ndarray:
        return self.expected_counts(self._forecast_edges(periods))

    def fitted_params(self) -> dict[str, Any]:
        if not hasattr(self, "trace_"):
            return {}
        return {
            "mu_total_per_day": self._background_total(),
            "theta": self.theta_,
            "omega_per_day": self.omega_,
            "mean_lag_days": 1.0 / self.omega_ if self.omega_ > 0 else None,
            "n_events": self.window_.n,
            "observed_days": self.window_.T,
            "n_pairs": self.n_pairs_,
            "converged": self.converged_,
            "n_iter": len(self.trace_),
            "loglik_trace": self.loglik_trace_,
            "trace": self.trace_,
            "rounds": self.rounds_,
            "background_time": self._modulation_params(),
            **self._extra_params(),
        }
