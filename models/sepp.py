"""``sepp``: continuous space-time self-exciting point process of Mohler et al. (2011).

Hand-written from the paper (Mohler, Short, Brantingham, Schoenberg & Tita,
"Self-exciting point process modeling of crime", JASA 106, 2011), with a parametric
trigger. The intensity (events per m² per day) at location ``s`` and time ``t`` is

    λ(s, t) = μ_tot · f(s) + Σ_{i: t_i < t} θ ω e^{−ω (t − t_i)} g_σ(s − s_i)

with ``g_σ(d) = e^{−d²/(2σ²)} / (2πσ²)`` (``trigger="gaussian"``) or
``e^{−d/σ} / (2πσ²)`` (``"exponential"``), and a time-homogeneous smooth background
density ``f`` over the study region ``S`` (the union of the cube's cells).

Fit: EM on the events (shared E-step, θ/ω M-step and truncation in
:mod:`models._em`, accelerated by SQUAREM). The model's own M-steps
(:class:`models._background.KdeBackground`, :class:`models._plane.PlaneKernel`):

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
(:func:`models._forecast.integrate_forecast`).

Limitations: the background does not change in time; its bandwidth is fixed (a
bandwidth much wider than the background's real structure pushes clustering into θ, one
much narrower lets the background absorb triggering); with month-resolution times ω is not
identified (every event sits at its month's start, same-month events never pair, and over
a short history the lags seen are longer than the window can show: θ then stops at its
cap with ω → 0 from the capped M-step of :func:`models._trigger.update_theta_omega`, a
trigger with next to no offspring); unclustered month-resolution events fit as background
only (θ → 0, or the background carrying every event); with points snapped to a small set
of locations σ collapses to its floor, and there the trigger explains repeats at the very
same point months apart (police.uk City of London, ``crime``: θ at its cap with σ = 7.5 m,
θ ≈ 0 with ``min_sigma_m=75``); cells clipped by the study area are integrated as full
squares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.features.cube import grid_offset, merged_positions
from hotspot.models._background import Background, KdeBackground
from hotspot.models._events import EventWindow
from hotspot.models._modulation import SeasonalModulation
from hotspot.models._plane import TRIGGERS, PlaneKernel
from hotspot.models._raster import Raster
from hotspot.models._selfexcite import SelfExcitingForecaster
from hotspot.models._trigger import Trigger

#: Default floor of σ, as a share of a cell.
SIGMA_FLOOR_CELLS = 0.05
#: Most pixels a raster may have.
_MAX_PIXELS = 4_000_000


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
        self.trigger = trigger
        self.sigma_m = sigma_m
        self.fit_sigma = fit_sigma
        self.bandwidth_m = bandwidth_m
        self.radius_m = radius_m
        self.radius_sigmas = radius_sigmas
        self.max_radius_m = max_radius_m
        self.omega_init = omega_init
        self.theta_init = theta_init
        self.max_lag_days = max_lag_days
        self.lag_tol = lag_tol
        self.max_iter = max_iter
        self.tol = tol
        self.horizon_cascade = horizon_cascade
        self.background_time = background_time
        self.pixels_per_cell = pixels_per_cell
        self.leave_one_out = leave_one_out
        self.min_sigma_m = min_sigma_m

    def _validate_params(self) -> None:
        if self.trigger not in TRIGGERS:
            raise ConfigError(f"sepp trigger must be one of {TRIGGERS}, got {self.trigger!r}")
        for label, value in (("sigma_m", self.sigma_m), ("bandwidth_m", self.bandwidth_m),
                             ("radius_m", self.radius_m), ("pixels_per_cell", self.pixels_per_cell),
                             ("min_sigma_m", self.min_sigma_m)):
            if value is not None and not value > 0:
                raise ConfigError(f"sepp {label} must be positive, got {value}")
        super()._validate_params()

    def _build(self, history: xr.Dataset, window: EventWindow,
               modulation: SeasonalModulation | None) -> tuple[Background, Trigger]:
        h = float(history.attrs["cell_size_m"])
        ix = history["ix"].values.astype(np.int64)
        iy = history["iy"].values.astype(np.int64)
        floor = float(self.min_sigma_m or SIGMA_FLOOR_CELLS * h)
        sigma = max(float(self.sigma_m or h / 2.0), floor)
        bandwidth = float(self.bandwidth_m or h)
        if self.pixels_per_cell is not None:
            m = int(self.pixels_per_cell)
        else:
            m = int(np.ceil(3.0 * h / min(bandwidth, sigma)))
            box = (np.ptp(ix) + 1) * (np.ptp(iy) + 1)
            m = max(1, min(m, 12, int(np.sqrt(_MAX_PIXELS / box))))
        raster = Raster(ix, iy, h, m, offset=grid_offset(history),
                        absorbed=merged_positions(history))
        pix = raster.event_index(window.x, window.y, window.cell)
        spatial = PlaneKernel(
            self.trigger, raster, pix, ix, iy, h, sigma, floor=floor,
            fit_sigma=bool(self.fit_sigma), radius=self.radius_m,
            radius_sigmas=float(self.radius_sigmas), max_radius=self._max_radius(h))
        background = KdeBackground(window, float(self.theta_init), raster, pix, bandwidth,
                                   bool(self.leave_one_out), modulation)
        return background, self._trigger(spatial)

    def _extra_params(self) -> dict[str, Any]:
        background = self.background_
        return {
            "trigger": self.trigger,
            **self.trigger_.spatial.params(),
            "bandwidth_m": background.bandwidth,
            "pixel_m": background.raster.pixel,
            "background_per_cell": background.per_cell(),
        }
