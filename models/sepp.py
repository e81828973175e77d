"""``sepp``: continuous space-time self-exciting point process of Mohler et al. (2011).

Hand-written from the paper (Mohler, Short, Brantingham, Schoenberg & Tita,
"Self-exciting point process modeling of crime", JASA 106, 2011), with a parametric
trigger. The intensity (events per m² per day) at location ``s`` and time ``t`` is

    λ(s, t) = μ_tot · f(s) + Σ_{i: t_i < t} θ ω e^{−ω (t − t_i)} g_σ(s − s_i)

with ``g_σ(d) = e^{−d²/(2σ²)} / (2πσ²)`` (``trigger="gaussian"``) or
``e^{−d/σ} / (2πσ²)`` (``"exponential"``), and a time-homogeneous smooth background
density ``f`` over the study region ``S`` (the union of the cube's cells).

Fit: EM on the events (shared E-step, θ/ω M-step and truncation in
:mod:`models._selfexcite`, accelerated by SQUAREM). The model's own M-steps:

- background: ``μ_tot = Σ_j p_j / T`` and ``f`` = kernel density estimate of the events
  weighted by their background probabilities ``p_j`` (Mohler's stochastic-declustering
  step), Gaussian kernel of fixed bandwidth ``bandwidth_m`` (default: one cell, so the
  background resolves structure at the forecast's own scale), each event's kernel
  normalised over ``S`` (no mass lost at the edges), evaluated on a raster of
  ``cell/m`` pixels (a binned KDE; ``m`` chosen so a pixel is at most a third of the
  bandwidth and of σ). At the events the background is evaluated *leave-one-out* (an
  event's own kernel left out): otherwise every event partly explains itself as
  background, which on simulated data biases θ down and ω up by about 5–10 %;
- σ: closed forms ``σ² = Σ p_ij d_ij² / (2 Σ p_ij)`` (Gaussian) or
  ``σ = Σ p_ij d_ij / (2 Σ p_ij)`` (exponential), floored at ``min_sigma_m`` (default
  5 % of a cell: repeats at the very same point, common where sources snap locations,
  would otherwise shrink σ towards 0 and the likelihood without bound). The closed form
  leaves out that a wider kernel loses more mass over the region's edge (``G_i``
  depends on σ), a small effect confined to events near the edge;
- θ, ω: jointly, with the compensator ``θ Σ_i G_i (1 − e^{−ω (T − t_i)})`` where ``G_i``
  is the share of event ``i``'s trigger kernel inside ``S`` (offspring outside the region
  are never observed).

The KDE step is Mohler's smoother, not an exact likelihood maximiser, and the recorded
log-likelihood uses the leave-one-out background at the events (a pseudo-likelihood); in
practice it rises monotonically, SQUAREM keeps only extrapolations that raise it, and a
step that lowers it ends the fit (undone). The SQUAREM state of the background is the
vector of event weights behind the KDE.

Forecast: expected counts per cell, integrated over the cell and the forecast period. The
background is a pixel density, summed exactly per cell; each past event's trigger is
integrated over each cell on the raster (events shared bilinearly among the nearest pixel
centres, exact pixel masses of the Gaussian; on the simulated test data within 0.5 % of
the exact cell integrals cell by cell, 0.01 % in total); the time integral is exact; and
with ``horizon_cascade`` the events expected inside the horizon excite further events
through the cell-to-cell kernel of a parent spread uniformly over its cell
(:func:`models._selfexcite.integrate_forecast`).

Limitations: the background does not change in time; its bandwidth is fixed (a
bandwidth much wider than the background's real structure pushes clustering into θ, one
much narrower lets the background absorb triggering); with month-resolution times ω is not
identified (every event sits at its month's start); with points snapped to a small set of
locations σ collapses to its floor; cells clipped by the study area are integrated as full
squares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage, signal, sparse, special

from hotspot.core.errors import ConfigError
from hotspot.models._selfexcite import (
    EventWindow,
    Pairs,
    SelfExcitingForecaster,
    cell_neighbours,
    dot,
)
from hotspot.models.registry import register

TRIGGERS = ("gaussian", "exponential")
#: Default floor of σ, as a share of a cell.
SIGMA_FLOOR_CELLS = 0.05
#: The exponential kernel has heavier tails: its radius (in σ) is this much larger.
_EXPONENTIAL_REACH = 2.5
#: Most pixels a raster may have.
_MAX_PIXELS = 4_000_000


class Raster:
    """Square pixels of ``cell_size / m`` over the cells' bounding box; ``mask`` marks
    pixels inside existing cells. Images are ``(rows, cols)`` with row 0 at the bottom."""

    def __init__(self, ix: np.ndarray, iy: np.ndarray, cell_size: float, m: int) -> None:
        self.m, self.pixel = int(m), cell_size / m
        self.ix0, self.iy0 = int(ix.min()), int(iy.min())
        self.n_cols = int(ix.max()) - self.ix0 + 1
        self.n_rows = int(iy.max()) - self.iy0 + 1
        self.cell_cols, self.cell_rows = ix - self.ix0, iy - self.iy0
        cells = np.zeros((self.n_rows, self.n_cols), dtype=bool)
        cells[self.cell_rows, self.cell_cols] = True
        self.mask = np.repeat(np.repeat(cells, self.m, axis=0), self.m, axis=1)
        self.shape = self.mask.shape
        self.x0, self.y0 = self.ix0 * cell_size, self.iy0 * cell_size

    def flat_index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col = np.clip(np.floor((x - self.x0) / self.pixel), 0, self.shape[1] - 1)
        row = np.clip(np.floor((y - self.y0) / self.pixel), 0, self.shape[0] - 1)
        return (row * self.shape[1] + col).astype(np.int64)

    def image(self, flat: np.ndarray, weights: np.ndarray) -> np.ndarray:
        size = self.shape[0] * self.shape[1]
        return np.bincount(flat, weights=weights, minlength=size).reshape(self.shape)

    def image_linear(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Weights shared among the four nearest pixel centres (bilinear binning: the
        centre of mass is kept, so the binning error is second order in the pixel)."""
        u = np.clip((x - self.x0) / self.pixel - 0.5, 0, self.shape[1] - 1)
        v = np.clip((y - self.y0) / self.pixel - 0.5, 0, self.shape[0] - 1)
        c0 = np.minimum(np.floor(u).astype(np.int64), self.shape[1] - 2)
        r0 = np.minimum(np.floor(v).astype(np.int64), self.shape[0] - 2)
        fu, fv = u - c0, v - r0
        if self.shape[1] == 1:
            c0, fu = np.zeros_like(c0), np.zeros_like(fu)
        if self.shape[0] == 1:
            r0, fv = np.zeros_like(r0), np.zeros_like(fv)
        image = np.zeros(self.shape)
        for dr, wr in ((0, 1 - fv), (1, fv)):
            for dc, wc in ((0, 1 - fu), (1, fu)):
                rows = np.minimum(r0 + dr, self.shape[0] - 1)
                cols = np.minimum(c0 + dc, self.shape[1] - 1)
                image += np.bincount(rows * self.shape[1] + cols, weights=weights * wr * wc,
                                     minlength=image.size).reshape(self.shape)
        return image

    def cell_sums(self, image: np.ndarray) -> np.ndarray:
        blocks = image.reshape(self.n_rows, self.m, self.n_cols, self.m).sum(axis=(1, 3))
        return blocks[self.cell_rows, self.cell_cols]


class Kernel:
    """A radial kernel's mass per pixel (for a point at a pixel centre), applied to images
    by correlation: separable exact pixel integrals for the Gaussian, sub-sampled 2-D
    weights and FFT for the exponential. Mass falling off the image is lost."""

    def __init__(self, kind: str, scale: float, pixel: float) -> None:
        self.kind, self.scale, self.pixel = kind, float(scale), float(pixel)
        if kind == "gaussian":
            k = int(np.ceil(5.0 * scale / pixel))
            o = np.arange(-k, k + 1)
            self.weights = special.ndtr((o + 0.5) * pixel / scale) - special.ndtr(
                (o - 0.5) * pixel / scale)
        else:
            k = int(np.ceil(4.0 * _EXPONENTIAL_REACH * scale / pixel))
            sub = 5
            u = (np.arange(-k * sub, (k + 1) * sub) + 0.5) / sub - 0.5
            gx, gy = np.meshgrid(u * pixel, u * pixel)
            dens = np.exp(-np.hypot(gx, gy) / scale) / (2 * np.pi * scale**2)
            n = 2 * k + 1
            self.weights = dens.reshape(n, sub, n, sub).sum(axis=(1, 3)) * (pixel / sub) ** 2

    def apply(self, image: np.ndarray) -> np.ndarray:
        if self.kind == "gaussian":
            out = ndimage.correlate1d(image, self.weights, axis=0, mode="constant")
            return ndimage.correlate1d(out, self.weights, axis=1, mode="constant")
        return signal.fftconvolve(image, self.weights, mode="same")


@register
class Sepp(SelfExcitingForecaster):
    """Continuous space-time SEPP with a KDE background, fitted by (accelerated) EM.

    Parameters
    ----------
    trigger
        Spatial trigger ``"gaussian"`` or ``"exponential"``.
    sigma_m
        Initial (or, with ``fit_sigma=False``, fixed) trigger scale; default half a cell.
    fit_sigma
        Estimate σ by EM.
    bandwidth_m
        Background KDE bandwidth; default one cell.
    radius_m
        Fixed neighbour radius; default ``radius_sigmas · σ`` (×2.5 for the exponential),
        re-derived from the fitted σ.
    max_radius_m
        Cap on that radius (at least two cells); σ stays below the radius it allows.
    omega_init, theta_init, max_lag_days, lag_tol, max_iter, tol, horizon_cascade,
    background_time
        As for ``etas-grid``.
    pixels_per_cell
        Raster resolution; default so a pixel is at most a third of the bandwidth and of
        the initial σ (capped at 4 million pixels).
    leave_one_out
        Evaluate the background at each event without the event's own kernel.
    min_sigma_m
        Floor of the fitted σ; default 5 % of a cell. Raise it for sources that snap
        points to a coarse set of locations (police.uk), where repeats at the very same
        point would otherwise shrink σ to the floor.
    """

    name = "sepp"
    needs_events = True

    def __init__(
        self,
        trigger: str = "gaussian",
        sigma_m: float | None = None,
        fit_sigma: bool = True,
        bandwidth_m: float | None = None,
        radius_m: float | None = None,
        radius_sigmas: float = 4.0,
        max_radius_m: float = 2000.0,
        omega_init: float = 0.1,
        theta_init: float = 0.3,
        max_lag_days: float | None = None,
        lag_tol: float = 1e-6,
        max_iter: int = 500,
        tol: float = 1e-9,
        horizon_cascade: bool = True,
        background_time: str = "constant",
        pixels_per_cell: int | None = None,
        leave_one_out: bool = True,
        min_sigma_m: float | None = None,
    ) -> None:
        if trigger not in TRIGGERS:
            raise ConfigError(f"sepp trigger must be one of {TRIGGERS}, got {trigger!r}")
        for label, value in (("sigma_m", sigma_m), ("bandwidth_m", bandwidth_m),
                             ("radius_m", radius_m), ("pixels_per_cell", pixels_per_cell),
                             ("min_sigma_m", min_sigma_m)):
            if value is not None and not value > 0:
                raise ConfigError(f"sepp {label} must be positive, got {value}")
        self.trigger = trigger
        self.sigma_m = sigma_m
        self.fit_sigma = bool(fit_sigma)
        self.bandwidth_m = bandwidth_m
        self.radius_m = radius_m
        self.radius_sigmas = float(radius_sigmas)
        self.max_radius_m = float(max_radius_m)
        self.omega_init = float(omega_init)
        self.theta_init = float(theta_init)
        self.max_lag_days = max_lag_days
        self.lag_tol = float(lag_tol)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self.horizon_cascade = bool(horizon_cascade)
        self.background_time = background_time
        self.pixels_per_cell = pixels_per_cell
        self.leave_one_out = bool(leave_one_out)
        self.min_sigma_m = min_sigma_m
        self._check_common()

    # ---- hooks -----------------------------------------------------------------------
    def _setup(self, history: xr.Dataset, window: EventWindow) -> None:
        h = float(history.attrs["cell_size_m"])
        self.cell_size_ = h
        self.ix_ = history["ix"].values.astype(np.int64)
        self.iy_ = history["iy"].values.astype(np.int64)
        self.sigma_floor_ = float(self.min_sigma_m or SIGMA_FLOOR_CELLS * h)
        self.sigma_ = max(float(self.sigma_m or h / 2.0), self.sigma_floor_)
        self.bandwidth_ = float(self.bandwidth_m or h)
        if self.pixels_per_cell is not None:
            m = int(self.pixels_per_cell)
        else:
            m = int(np.ceil(3.0 * h / min(self.bandwidth_, self.sigma_)))
            box = (np.ptp(self.ix_) + 1) * (np.ptp(self.iy_) + 1)
            m = max(1, min(m, 12, int(np.sqrt(_MAX_PIXELS / box))))
        self.raster_ = Raster(self.ix_, self.iy_, h, m)
        self.pix_ = self.raster_.flat_index(window.x, window.y)
        mask = self.raster_.mask.astype(float)
        self.bg_kernel_ = Kernel("gaussian", self.bandwidth_, self.raster_.pixel)
        # share of each event's background kernel inside the region (edge correction)
        self.bg_mass_ = np.maximum(self.bg_kernel_.apply(mask).ravel()[self.pix_], 1e-12)
        self.mass_cache_: tuple[float, np.ndarray] | None = None
        centre = self.bg_kernel_.weights[self.bg_kernel_.weights.size // 2]
        self.self_weight_ = float(centre**2)  # mass a point puts in its own pixel
        self.mu_total_ = (1.0 - self.theta_) * window.n / window.T
        self._kde(np.ones(window.n))

    def _kde(self, weights: np.ndarray) -> None:
        """Background density from event weights: pixel masses (summing to 1 over the
        region) of the weighted KDE, each event's kernel normalised over the region; and
        each event's own share of its pixel (for the leave-one-out value at the events)."""
        self.bg_weights_ = weights
        scaled = weights / self.bg_mass_ if weights.size else weights
        image = self.raster_.image(self.pix_, scaled)
        smooth = self.bg_kernel_.apply(image) * self.raster_.mask
        total = smooth.sum()
        if total <= 0:
            self.density_ = self.raster_.mask / self.raster_.mask.sum()
            self.self_share_ = np.zeros(weights.size)
            return
        self.density_ = smooth / total
        self.self_share_ = scaled * (self.self_weight_ / total)

    def _trigger_kernel(self, pixel: float) -> Kernel:
        return Kernel(self.trigger, self.sigma_, pixel)

    def _pair_xy(self, window: EventWindow) -> tuple[np.ndarray, np.ndarray]:
        return window.x, window.y

    def _radius_fixed(self) -> float | None:
        return None if self.radius_m is None else float(self.radius_m)

    def _radius(self) -> float:
        if self.radius_m is not None:
            return float(self.radius_m)
        return min(self.radius_sigmas * self._reach() * self.sigma_, self._max_radius())

    def _reach(self) -> float:
        return _EXPONENTIAL_REACH if self.trigger == "exponential" else 1.0

    def _sigma_bounds(self) -> tuple[float, float]:
        cap = self._max_radius() / (self.radius_sigmas * self._reach())
        return self.sigma_floor_, max(cap, self.sigma_floor_)

    def _prepare(self, pairs: Pairs, window: EventWindow) -> None:
        self.distance_ = np.sqrt(pairs.d2) if self.trigger == "exponential" else None

    def _background_at(self, window: EventWindow) -> np.ndarray:
        """Background intensity at each event; with ``leave_one_out`` the event's own
        kernel is left out (floored at 1 % of the full value so an isolated event keeps
        some background)."""
        full = self.density_.ravel()[self.pix_]
        if self.leave_one_out:
            full = np.maximum(full - self.self_share_, 0.01 * full)
        return (self.mu_total_ / self.raster_.pixel**2) * full

    def _background_total(self) -> float:
        return float(self.mu_total_)

    def _log_spatial(self, pairs: Pairs, window: EventWindow) -> np.ndarray:
        sigma = self.sigma_
        if self.trigger == "gaussian":
            out = pairs.d2 * (-0.5 / sigma**2)
        else:
            out = self.distance_ * (-1.0 / sigma)
        out -= np.log(2 * np.pi * sigma**2)
        return out

    def _trigger_mass(self, window: EventWindow) -> np.ndarray:
        if self.mass_cache_ is None or self.mass_cache_[0] != self.sigma_:
            mask = self.raster_.mask.astype(float)
            mass = self._trigger_kernel(self.raster_.pixel).apply(mask).ravel()[self.pix_]
            self.mass_cache_ = (self.sigma_, np.clip(mass, 0.0, 1.0))
        return self.mass_cache_[1]

    def _update_background(self, window: EventWindow, p_background: np.ndarray) -> None:
        self.mu_total_ = float(p_background.sum()) / window.T
        self._kde(p_background)

    def _update_sigma(self, pairs: Pairs, window: EventWindow, p_pair: np.ndarray) -> None:
        total = float(p_pair.sum())
        if not self.fit_sigma or total < 1.0:
            return  # fewer than one expected offspring: σ is not identified
        if self.trigger == "gaussian":
            sigma = np.sqrt(dot(p_pair, pairs.d2) / (2.0 * total))
        else:
            sigma = dot(p_pair, self.distance_) / (2.0 * total)
        self.sigma_ = float(np.clip(sigma, *self._sigma_bounds()))

    def _model_state(self) -> np.ndarray:
        return np.concatenate([np.sqrt(self.bg_weights_),
                               [np.log(max(self.mu_total_, 1e-300)), np.log(self.sigma_)]])

    def _set_model_state(self, state: np.ndarray) -> None:
        self._kde(state[:-2] ** 2)
        self.mu_total_ = float(np.exp(min(state[-2], 700.0)))
        if self.fit_sigma:
            self.sigma_ = float(np.clip(np.exp(min(state[-1], 700.0)), *self._sigma_bounds()))

    def _forecast_parts(self) -> tuple[np.ndarray, np.ndarray, sparse.spmatrix]:
        window, raster = self.window_, self.raster_
        # finer pixels if σ shrank below three pixels during the fit
        m = max(raster.m, min(12, int(np.ceil(3.0 * self.cell_size_ / self.sigma_))))
        fine = raster if m == raster.m else Raster(self.ix_, self.iy_, self.cell_size_, m)
        trigger = self._trigger_kernel(fine.pixel)
        base = self.mu_total_ * raster.cell_sums(self.density_)
        kernel = self._cell_kernel(trigger, fine.m)
        if window.n == 0:
            return base, np.zeros(window.n_cells), kernel
        recent = np.exp(-self.omega_ * window.remaining)
        image = fine.image_linear(window.x, window.y, recent)
        spread = trigger.apply(image) * fine.mask
        return base, self.theta_ * self.omega_ * fine.cell_sums(spread), kernel

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
        src, dst, dx, dy = cell_neighbours(self.ix_, self.iy_, reach * np.sqrt(2.0))
        keep = (np.abs(dx) <= reach) & (np.abs(dy) <= reach)
        values = table[dy[keep] + reach, dx[keep] + reach]
        n = self.ix_.size
        return sparse.csr_matrix((values, (dst[keep], src[keep])), shape=(n, n))

    def _release(self) -> None:
        self.distance_ = None

    def _extra_params(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "sigma_m": self.sigma_,
            "bandwidth_m": self.bandwidth_,
            "pixel_m": self.raster_.pixel,
            "background_per_cell": self.mu_total_ * self.raster_.cell_sums(self.density_),
        }
