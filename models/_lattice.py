"""The spatial trigger of ``etas-grid``: a discrete Gaussian on the cell lattice.

Hand-written science (Mohler et al. 2015, with triggering across cells). ``g(c | c') ∝
exp(−d²/(2σ²))`` over cell centres within a truncation radius, normalised over the cells
that exist so an offspring never leaves the grid; ``σ = 0`` confines offspring to their
parent's cell. :func:`discrete_gaussian_kernel` is the one definition the model and the
simulator (:mod:`models.simulate`) share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, sparse

from hotspot.models._events import EventWindow
from hotspot.models._pairs import Pairs, cell_neighbours
from hotspot.models._trigger import dot


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


def decayed_sums(
    t: np.ndarray, group: np.ndarray, t0: float, omega: float, n_groups: int
) -> np.ndarray:
    """``Σ_{i in group g} e^{−ω (t0 − t_i)}`` for each group (exponential-decay kernel sums)."""
    return np.bincount(group, weights=np.exp(-omega * (t0 - t)), minlength=n_groups)


class LatticeGaussian:
    """The discrete Gaussian trigger kernel between cell centres, σ fitted by EM.

    Pairs are searched on cell centres within ``radius_sigmas · σ`` (at least 1.5 cells,
    at most ``max_radius``) or the fixed ``radius``; the kernel is truncated and
    normalised at the pair radius. σ's M-step maximises
    ``−Σ p_ij d_ij² / (2σ²) − Σ_c W_c log Z_c(σ)`` (``W_c`` the expected offspring of events
    in ``c``, ``Z_c`` the kernel's normaliser at ``c``) by a bounded 1-D search; without the
    edge normalisation it would be the closed form ``σ² = Σ p d² / (2 Σ p)``.
    """

    def __init__(
        self, ix: np.ndarray, iy: np.ndarray, cx: np.ndarray, cy: np.ndarray,
        cell_size: float, sigma: float, *, in_cell: bool, fit_sigma: bool,
        radius: float | None, radius_sigmas: float, max_radius: float,
    ) -> None:
        self.ix, self.iy, self.cx, self.cy = ix, iy, cx, cy
        self.cell_size = cell_size
        self.in_cell = in_cell
        self.fit_sigma = fit_sigma
        self.sigma = 0.0 if in_cell else float(sigma)
        self._fixed = radius
        self.radius_sigmas = radius_sigmas
        self.max_radius = max_radius
        self.kernel_radius = self.radius()
        self._parent_cell: np.ndarray | None = None

    def pair_xy(self, window: EventWindow) -> tuple[np.ndarray, np.ndarray]:
        return self.cx[window.cell], self.cy[window.cell]

    def fixed_radius(self) -> float | None:
        if self.in_cell:
            return 0.0
        return None if self._fixed is None else float(self._fixed)

    def radius(self) -> float:
        fixed = self.fixed_radius()
        if fixed is not None:
            return fixed
        return min(max(self.radius_sigmas * self.sigma, 1.5 * self.cell_size), self.max_radius)

    def prepare(self, pairs: Pairs, window: EventWindow) -> None:
        """Kernel truncated at the pair radius; squared offsets grouped into classes so the
        normaliser ``Z_c(σ) = Σ_k n_ck e^{−q_k h²/(2σ²)}`` is a small matrix product."""
        self.kernel_radius = pairs.radius
        self._parent_cell = window.cell[pairs.parent].astype(np.int32)
        if self.in_cell:
            return
        src, _, dx, dy = cell_neighbours(self.ix, self.iy, pairs.radius / self.cell_size)
        q = dx * dx + dy * dy
        self._q_classes, cls = np.unique(q, return_inverse=True)
        n_cls = self._q_classes.size
        self._class_counts = np.bincount(src * n_cls + cls, minlength=window.n_cells * n_cls
                                         ).reshape(window.n_cells, n_cls).astype(float)

    def _normaliser(self, sigma: float, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        weights = np.exp(-self._q_classes * self.cell_size**2 / (2.0 * sigma**2))
        return np.einsum("ij,j->i", self._class_counts[rows], weights)

    def log_density(self, pairs: Pairs) -> np.ndarray:
        if self.in_cell:
            return np.zeros(pairs.size)
        log_z = np.log(self._normaliser(self.sigma))
        out = pairs.d2 * (-0.5 / self.sigma**2)
        out -= log_z[self._parent_cell]
        return out

    def mass(self, window: EventWindow) -> np.ndarray:
        return np.ones(window.n)  # normalised over existing cells: nothing leaves the grid

    def update(self, pairs: Pairs, window: EventWindow, p_pair: np.ndarray) -> None:
        if self.in_cell or not self.fit_sigma or p_pair.sum() < 1.0:
            return  # fewer than one expected offspring: σ is not identified
        offspring = np.bincount(self._parent_cell, weights=p_pair, minlength=window.n_cells)
        rows = np.flatnonzero(offspring > 0)
        w = offspring[rows]
        sq = dot(p_pair, pairs.d2)

        def negative_q(log_sigma: float) -> float:
            sigma = np.exp(log_sigma)
            return sq / (2.0 * sigma**2) + dot(w, np.log(self._normaliser(sigma, rows)))

        lo = np.log(0.05 * self.cell_size)
        hi = np.log(max(min(2.0 * max(pairs.radius, self.cell_size),
                            self.max_radius / self.radius_sigmas), 0.1 * self.cell_size))
        found = optimize.minimize_scalar(negative_q, bounds=(lo, hi), method="bounded",
                                         options={"xatol": 1e-7})
        # GEM safeguard: never accept a step that lowers the expected log-likelihood
        if found.fun <= negative_q(np.log(self.sigma)):
            self.sigma = float(np.exp(found.x))

    def state(self) -> np.ndarray:
        return np.array([np.log(self.sigma) if self.sigma > 0 else 0.0])

    def set_state(self, state: np.ndarray) -> None:
        # a fixed σ goes through exp(log σ) too: kept so fits stay bit-for-bit as before
        if self.sigma > 0:
            self.sigma = float(np.exp(min(state[0], 700.0)))

    def operator(self, window: EventWindow, theta: float, omega: float
                 ) -> tuple[np.ndarray, sparse.spmatrix]:
        kernel = discrete_gaussian_kernel(self.ix, self.iy, self.sigma / self.cell_size,
                                          self.kernel_radius / self.cell_size)
        if window.n == 0:
            return np.zeros(window.n_cells), kernel
        recent = decayed_sums(window.t, window.cell, window.T, omega, window.n_cells)
        return theta * omega * (kernel @ recent), kernel

    def release(self) -> None:
        self._parent_cell = None

    def params(self) -> dict[str, Any]:
        return {"sigma_m": self.sigma, "sigma_cells": self.sigma / self.cell_size,
                "kernel_radius_m": self.kernel_radius}
