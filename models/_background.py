"""The background of a self-exciting model: ``μ(s) · m(t)``.

Hand-written science (no library fits these models). ``μ(s)`` is constant in time — one
rate per cell (:class:`CellBackground`, ``etas-grid``, Mohler et al. 2015), the same
smoothed over neighbouring cells (:class:`SmoothedCellBackground`, Mohler 2014) or a kernel
density over pixels (:class:`KdeBackground`, ``sepp``, Mohler et al. 2011) — and ``m(t)``
the optional seasonal modulation of :mod:`models._modulation` (``None``: ``m = 1``). The
EM routine (:mod:`models._em`) uses the value at the events, the total rate (the
compensator is ``total · T`` because ``m`` averages 1 over the window), the M-step given
the events' background probabilities, and an unconstrained state vector for SQUAREM.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from hotspot.models._events import EventWindow
from hotspot.models._modulation import SeasonalModulation
from hotspot.models._raster import Kernel, Raster


class Background:
    """What every background shares: the modulation ``m(t)`` and how it enters each step.

    A subclass holds ``μ(s)`` and writes ``_spatial_at``, ``_update``, ``_own_state``,
    ``_set_own_state``, ``total`` and ``per_cell``.
    """

    def __init__(self, modulation: SeasonalModulation | None) -> None:
        self.modulation = modulation

    def at_events(self, window: EventWindow) -> np.ndarray:
        """Background intensity at each event."""
        mu_at = self._spatial_at(window)
        if self.modulation is not None:
            mu_at = mu_at * self.modulation.at_events()
        return mu_at

    def update(self, window: EventWindow, p_background: np.ndarray) -> None:
        """M-step: ``m`` (exact Poisson regression), then ``μ`` given the events'
        probabilities of being background."""
        if self.modulation is not None:
            self.modulation.update(p_background)
        self._update(window, p_background)

    def state(self) -> np.ndarray:
        """The modulation's coefficients, then ``μ``'s own parameters, unconstrained."""
        own = self._own_state()
        if self.modulation is None:
            return own
        return np.concatenate([self.modulation.state(), own])

    def set_state(self, state: np.ndarray) -> None:
        n_mod = 0
        if self.modulation is not None:
            n_mod = self.modulation.beta.size
            self.modulation.set_state(state[:n_mod])
        self._set_own_state(state[n_mod:])

    # -- written by each background ----------------------------------------------------
    def total(self) -> float:
        """Background events per day over the whole region (on average over time)."""
        raise NotImplementedError

    def per_cell(self) -> np.ndarray:
        """Background events per day in each cell (on average over time)."""
        raise NotImplementedError

    def _spatial_at(self, window: EventWindow) -> np.ndarray:
        raise NotImplementedError

    def _update(self, window: EventWindow, p_background: np.ndarray) -> None:
        raise NotImplementedError

    def _own_state(self) -> np.ndarray:
        raise NotImplementedError

    def _set_own_state(self, state: np.ndarray) -> None:
        raise NotImplementedError


class CellBackground(Background):
    """One rate ``μ_c`` per cell; M-step ``μ_c = Σ_{j in c} p_j / T``. Started at
    ``(1 − θ₀)`` times each cell's event rate."""

    def __init__(self, window: EventWindow, theta: float,
                 modulation: SeasonalModulation | None) -> None:
        super().__init__(modulation)
        counts = np.bincount(window.cell, minlength=window.n_cells).astype(float)
        self.mu = (1.0 - theta) * counts / window.T

    def total(self) -> float:
        return float(self.mu.sum())

    def per_cell(self) -> np.ndarray:
        return self.mu

    def _spatial_at(self, window: EventWindow) -> np.ndarray:
        return self.mu[window.cell]

    def _update(self, window: EventWindow, p_background: np.ndarray) -> None:
        self.mu = np.bincount(window.cell, weights=p_background,
                              minlength=window.n_cells) / window.T

    def _own_state(self) -> np.ndarray:
        return np.sqrt(self.mu)

    def _set_own_state(self, state: np.ndarray) -> None:
        self.mu = state ** 2


class SmoothedCellBackground(CellBackground):
    """Per-cell rates smoothed over neighbouring cells: Mohler (2014)'s long-term
    background, a smoothed density mixed with short-term self-excitation.

    M-step (a smoothed EM, as Silverman et al.'s EMS): the cell M-step's rates
    ``ν_c = Σ_{j in c} p_j / T`` mapped through ``kernel`` (an edge-corrected Gaussian
    over cell centres, counts to counts) and rescaled to ``Σ ν`` so the total stays the
    exact M-step's. Smoothing inside every M-step rather than once after the fit is what
    changes the fit: a background that cannot follow a single cell's burst leaves that
    burst to the trigger, so θ is no longer soaked up by one free rate per cell. Not an
    exact maximiser (the EM run stops at a step that loses, as for ``sepp``'s KDE). The
    SQUAREM state is ``√μ`` as for the cell background.
    """

    def __init__(self, window: EventWindow, theta: float,
                 modulation: SeasonalModulation | None, kernel: sparse.spmatrix) -> None:
        super().__init__(window, theta, modulation)
        self.kernel = sparse.csr_matrix(kernel)
        self.mu = self._smooth(self.mu)

    def _smooth(self, rate: np.ndarray) -> np.ndarray:
        smooth = np.asarray(self.kernel @ rate, dtype=float)
        total = smooth.sum()
        return smooth * (rate.sum() / total) if total > 0 else rate

    def _update(self, window: EventWindow, p_background: np.ndarray) -> None:
        self.mu = self._smooth(np.bincount(window.cell, weights=p_background,
                                           minlength=window.n_cells) / window.T)


class KdeBackground(Background):
    """``μ_tot · f(s)`` with ``f`` a weighted kernel density estimate of the events.

    M-step (Mohler's stochastic-declustering smoother, not an exact maximiser):
    ``μ_tot = Σ_j p_j / T`` and ``f`` the KDE of the events weighted by ``p_j``, Gaussian
    kernel of fixed ``bandwidth``, each event's kernel normalised over the region (no mass
    lost at the edges), binned on the raster. With ``leave_one_out`` the value at an event
    leaves the event's own kernel out (floored at 1 % of the full value so an isolated
    event keeps some background): otherwise every event partly explains itself as
    background. The SQUAREM state is the event weights behind the KDE and ``log μ_tot``.
    """

    def __init__(self, window: EventWindow, theta: float, raster: Raster, pix: np.ndarray,
                 bandwidth: float, leave_one_out: bool,
                 modulation: SeasonalModulation | None) -> None:
        super().__init__(modulation)
        self.raster, self.pix = raster, pix
        self.bandwidth = bandwidth
        self.leave_one_out = leave_one_out
        self.kernel = Kernel("gaussian", bandwidth, raster.pixel)
        # share of each event's kernel inside the region (edge correction)
        mask = raster.mask.astype(float)
        self._edge_mass = np.maximum(self.kernel.apply(mask).ravel()[pix], 1e-12)
        centre = self.kernel.weights[self.kernel.weights.size // 2]
        self._self_weight = float(centre**2)  # mass a point puts in its own pixel
        self.mu_total = (1.0 - theta) * window.n / window.T
        self._kde(np.ones(window.n))

    def _kde(self, weights: np.ndarray) -> None:
        """Background density from event weights: pixel masses (summing to 1 over the
        region) of the weighted KDE; and each event's own share of its pixel (for the
        leave-one-out value at the events)."""
        self.weights = weights
        scaled = weights / self._edge_mass if weights.size else weights
        image = self.raster.image(self.pix, scaled)
        smooth = self.kernel.apply(image) * self.raster.mask
        total = smooth.sum()
        if total <= 0:
            self.density = self.raster.mask / self.raster.mask.sum()
            self._self_share = np.zeros(weights.size)
            return
        self.density = smooth / total
        self._self_share = scaled * (self._self_weight / total)

    def total(self) -> float:
        return float(self.mu_total)

    def per_cell(self) -> np.ndarray:
        return self.mu_total * self.raster.cell_sums(self.density)

    def _spatial_at(self, window: EventWindow) -> np.ndarray:
        full = self.density.ravel()[self.pix]
        if self.leave_one_out:
            full = np.maximum(full - self._self_share, 0.01 * full)
        return (self.mu_total / self.raster.pixel**2) * full

    def _update(self, window: EventWindow, p_background: np.ndarray) -> None:
        self.mu_total = float(p_background.sum()) / window.T
        self._kde(p_background)

    def _own_state(self) -> np.ndarray:
        return np.concatenate([np.sqrt(self.weights), [np.log(max(self.mu_total, 1e-300))]])

    def _set_own_state(self, state: np.ndarray) -> None:
        self._kde(state[:-1] ** 2)
        self.mu_total = float(np.exp(min(state[-1], 700.0)))
