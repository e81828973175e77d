"""The spatial trigger of ``sepp``: a continuous Gaussian or exponential kernel in the plane.

Hand-written science (Mohler et al. 2011, parametric trigger). ``g_σ(d) = e^{−d²/(2σ²)} /
(2πσ²)`` or ``e^{−d/σ} / (2πσ²)`` between event positions; the share of each event's kernel
inside the study region and each trigger's integral over each cell are taken on the
raster (:mod:`models._raster`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from hotspot.models._events import EventWindow
from hotspot.models._pairs import Pairs, cell_neighbours
from hotspot.models._raster import EXPONENTIAL_REACH, Kernel, Raster
from hotspot.models._trigger import dot

TRIGGERS = ("gaussian", "exponential")


class PlaneKernel:
    """Gaussian or exponential trigger kernel between event positions, σ fitted by EM.

    σ's M-step is the closed form ``σ² = Σ p_ij d_ij² / (2 Σ p_ij)`` (Gaussian) or
    ``σ = Σ p_ij d_ij / (2 Σ p_ij)`` (exponential), kept within ``[floor, cap]`` with the
    cap the σ that ``max_radius`` allows. It leaves out that a wider kernel loses more mass
    over the region's edge, a small effect confined to events near the edge. Pairs are
    searched within ``radius_sigmas · σ`` (×2.5 for the exponential) or the fixed
    ``radius``.
    """

    def __init__(
        self, kind: str, raster: Raster, pix: np.ndarray, ix: np.ndarray, iy: np.ndarray,
        cell_size: float, sigma: float, *, floor: float, fit_sigma: bool, radius: float | None,
        radius_sigmas: float, max_radius: float,
    ) -> None:
        self.kind = kind
        self.raster, self.pix, self.ix, self.iy = raster, pix, ix, iy
        self.cell_size = cell_size
        self.sigma = sigma
        self.floor = floor
        self.fit_sigma = fit_sigma
        self._fixed = radius
        self.radius_sigmas = radius_sigmas
        self.max_radius = max_radius
        self._mass: tuple[float, np.ndarray] | None = None
        self._distance: np.ndarray | None = None

    def _kernel(self, pixel: float) -> Kernel:
        return Kernel(self.kind, self.sigma, pixel)

    def _reach(self) -> float:
        return EXPONENTIAL_REACH if self.kind == "exponential" else 1.0

    def _bounds(self) -> tuple[float, float]:
        cap = self.max_radius / (self.radius_sigmas * self._reach())
        return self.floor, max(cap, self.floor)

    def pair_xy(self, window: EventWindow) -> tuple[np.ndarray, np.ndarray]:
        return window.x, window.y

    def fixed_radius(self) -> float | None:
        return None if self._fixed is None else float(self._fixed)

    def radius(self) -> float:
        if self._fixed is not None:
            return float(self._fixed)
        return min(self.radius_sigmas * self._reach() * self.sigma, self.max_radius)

    def prepare(self, pairs: Pairs, window: EventWindow) -> None:
        self._distance = np.sqrt(pairs.d2) if self.kind == "exponential" else None

    def log_density(self, pairs: Pairs) -> np.ndarray:
        sigma = self.sigma
        if self.kind == "gaussian":
            out = pairs.d2 * (-0.5 / sigma**2)
        else:
            out = self._distance * (-1.0 / sigma)
        out -= np.log(2 * np.pi * sigma**2)
        return out

    def mass(self, window: EventWindow) -> np.ndarray:
        if self._mass is None or self._mass[0] != self.sigma:
            mask = self.raster.mask.astype(float)
            mass = self._kernel(self.raster.pixel).apply(mask).ravel()[self.pix]
            self._mass = (self.sigma, np.clip(mass, 0.0, 1.0))
        return self._mass[1]

    def update(self, pairs: Pairs, window: EventWindow, p_pair: np.ndarray) -> None:
        total = float(p_pair.sum())
        if not self.fit_sigma or total < 1.0:
            return  # fewer than one expected offspring: σ is not identified
        if self.kind == "gaussian":
            sigma = np.sqrt(dot(p_pair, pairs.d2) / (2.0 * total))
        else:
            sigma = dot(p_pair, self._distance) / (2.0 * total)
        self.sigma = float(np.clip(sigma, *self._bounds()))

    def state(self) -> np.ndarray:
        return np.array([np.log(self.sigma)])

    def set_state(self, state: np.ndarray) -> None:
        if self.fit_sigma:
            self.sigma = float(np.clip(np.exp(min(state[0], 700.0)), *self._bounds()))

    def operator(self, window: EventWindow, theta: float, omega: float
                 ) -> tuple[np.ndarray, sparse.spmatrix]:
        """Each past event's trigger integrated over each cell on the raster (events
        shared bilinearly among the nearest pixel centres; finer pixels if σ shrank below
        three pixels during the fit)."""
        raster, h = self.raster, self.cell_size
        m = max(raster.m, min(12, int(np.ceil(3.0 * h / self.sigma))))
        fine = raster if m == raster.m else raster.finer(m)
        trigger = self._kernel(fine.pixel)
        kernel = self._cell_kernel(trigger, fine.m)
        if window.n == 0:
            return np.zeros(window.n_cells), kernel
        recent = np.exp(-omega * window.remaining)
        image = fine.image_linear(window.x, window.y, recent)
        spread = trigger.apply(image) * fine.mask
        return theta * omega * fine.cell_sums(spread), kernel

    def _cell_kernel(self, trigger: Kernel, m: int) -> sparse.csr_matrix:
        """``K[c, c']``: share of the offspring of a parent uniform in cell ``c'`` landing
        in cell ``c`` (a translation-invariant table of cell offsets; cells that do not
        exist take nothing, so offspring leaving the region are lost)."""
        reach = int(np.ceil((trigger.weights.shape[0] // 2 + m) / m))
        size = (2 * reach + 1) * m
        local = np.zeros((size, size))
        local[reach * m:(reach + 1) * m, reach * m:(reach + 1) * m] = 1.0 / m**2
        spread = trigger.apply(local)
        table = spread.reshape(2 * reach + 1, m, 2 * reach + 1, m).sum(axis=(1, 3))
        src, dst, dx, dy = cell_neighbours(self.ix, self.iy, reach * np.sqrt(2.0))
        keep = (np.abs(dx) <= reach) & (np.abs(dy) <= reach)
        values = table[dy[keep] + reach, dx[keep] + reach]
        n = self.ix.size
        return sparse.csr_matrix((values, (dst[keep], src[keep])), shape=(n, n))

    def release(self) -> None:
        self._distance = None

    def params(self) -> dict[str, Any]:
        return {"sigma_m": self.sigma}
