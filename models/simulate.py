"""Seeded simulators of self-exciting crime processes with known parameters.

Hand-written. Both use the cluster (branching) representation of the Hawkes process:
background events are a Poisson process; every event independently has
``Poisson(θ)`` offspring, each after an ``Exponential(ω)`` lag and at a displacement drawn
from the spatial kernel; offspring have offspring in turn. Simulation runs generation by
generation, vectorised over all events of a generation; offspring after the end ``days``
(or outside the region) are not observed and have no offspring of their own.

- :func:`simulate_grid_etas` — the ``etas-grid`` model on a lattice of cells: background
  ``Poisson(μ_c · days)`` per cell; offspring move to a cell drawn from the same
  edge-normalised, truncated discrete Gaussian kernel the model uses
  (:func:`models._lattice.discrete_gaussian_kernel`);
- :func:`simulate_sepp` — the continuous ``sepp`` model in a rectangle: background a
  mixture of a uniform density and Gaussian bumps (truncated to the rectangle) with total
  rate ``mu_total`` per day; Gaussian (or exponential) spatial trigger.

Both return canonical-style event tables: ``event_id, time, lon, lat, x, y, category,
area_code, source`` (lon/lat NaN, category and source ``"sim"``), plus ``parent`` (row of
the parent in the returned table, -1 for background) and ``generation`` (0 background).
Times are ``start`` plus float days, rounded to the minute like timestamped sources.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from hotspot.core.errors import ConfigError
from hotspot.models._lattice import discrete_gaussian_kernel

#: One background bump: ``(centre_x, centre_y, sd_m, weight)``.
Bump = tuple[float, float, float, float]


def _branch(
    rng: np.random.Generator, t0: np.ndarray, loc0: tuple[np.ndarray, ...], theta: float,
    omega: float, days: float,
    displace: Callable[[tuple[np.ndarray, ...]], tuple[tuple[np.ndarray, ...], np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """All generations of offspring of the events ``(t0, loc0)``, vectorised per generation.

    ``displace(parent_locations)`` returns the children's locations and a mask of those
    inside the region. Returns times, parent row (-1 for background), generation and the
    location arrays, rows in generation order.
    """
    all_t, all_parent = [t0], [np.full(t0.size, -1, dtype=np.int64)]
    all_gen, all_loc = [np.zeros(t0.size, dtype=np.int64)], [loc0]
    rows, cur_t, cur_loc = np.arange(t0.size), t0, loc0
    n_total, generation = t0.size, 0
    while rows.size:
        generation += 1
        which = np.repeat(np.arange(rows.size), rng.poisson(theta, rows.size))
        if which.size == 0:
            break
        t = cur_t[which] + rng.exponential(1.0 / omega, which.size)
        loc, inside = displace(tuple(part[which] for part in cur_loc))
        keep = (t < days) & inside
        n_kept = int(keep.sum())
        all_t.append(t[keep])
        all_parent.append(rows[which[keep]])
        all_gen.append(np.full(n_kept, generation, dtype=np.int64))
        cur_loc = tuple(part[keep] for part in loc)
        all_loc.append(cur_loc)
        rows, cur_t = n_total + np.arange(n_kept), t[keep]
        n_total += n_kept
    locations = tuple(np.concatenate([loc[k] for loc in all_loc]) for k in range(len(loc0)))
    return (np.concatenate(all_t), np.concatenate(all_parent), np.concatenate(all_gen),
            locations)


def _table(
    t: np.ndarray, x: np.ndarray, y: np.ndarray, parent: np.ndarray, generation: np.ndarray,
    start: str | pd.Timestamp,
) -> pd.DataFrame:
    minutes = np.round(t * 1440.0).astype(np.int64)
    order = np.argsort(minutes, kind="stable")
    new_row = np.empty_like(order)
    new_row[order] = np.arange(order.size)
    parent_sorted = parent[order]
    parent_sorted = np.where(parent_sorted >= 0, new_row[np.maximum(parent_sorted, 0)], -1)
    n = order.size
    return pd.DataFrame({
        "event_id": [f"sim{i}" for i in range(n)],
        "time": (pd.Timestamp(start) + pd.to_timedelta(minutes[order], unit="min")).to_numpy(
            dtype="datetime64[ns]"),
        "lon": np.full(n, np.nan),
        "lat": np.full(n, np.nan),
        "x": x[order],
        "y": y[order],
        "category": "sim",
        "area_code": "",
        "source": "sim",
        "parent": parent_sorted,
        "generation": generation[order],
    })


def _check(theta: float, omega: float, days: float) -> None:
    if not 0 <= theta < 1:
        raise ConfigError(f"theta must be in [0, 1) for a stable process, got {theta}")
    if not omega > 0 or not days > 0:
        raise ConfigError("omega and days must be positive")


def simulate_grid_etas(
    ix: np.ndarray, iy: np.ndarray, cell_size_m: float, mu: np.ndarray | float, theta: float,
    omega: float, sigma_m: float, days: float, *, radius_m: float | None = None,
    start: str | pd.Timestamp = "2020-01-01", jitter: bool = True, seed: int = 0,
    day_factors: np.ndarray | None = None,
) -> pd.DataFrame:
    """Grid ETAS events on the cells ``(ix, iy)`` (lattice indices, cell ``k`` covering
    ``[ix·h, (ix+1)·h) × [iy·h, (iy+1)·h)``) over ``days`` days.

    ``mu`` is the background rate per cell per day (array, or one value for all cells),
    multiplied on day ``d`` by ``day_factors[d]`` when given (one factor per day from
    ``start``, ``days`` a whole number);
    ``sigma_m`` the kernel bandwidth (0: offspring stay in their cell); ``radius_m`` the
    kernel truncation (default 4σ, at least 1.5 cells, as the model's default). Positions
    are uniform inside the cell with ``jitter`` (else the centre).
    """
    _check(theta, omega, days)
    rng = np.random.default_rng(seed)
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    mu = np.broadcast_to(np.asarray(mu, dtype=float), ix.shape)
    radius = radius_m if radius_m is not None else max(4.0 * sigma_m, 1.5 * cell_size_m)
    kernel = discrete_gaussian_kernel(ix, iy, sigma_m / cell_size_m,
                                      radius / cell_size_m).tocsc()
    kernel.sort_indices()
    # per source column: cumulative probabilities shifted by the column number, so one
    # searchsorted draws a destination for every child at once
    column = np.repeat(np.arange(ix.size), np.diff(kernel.indptr))
    cum = np.cumsum(kernel.data)
    before = np.concatenate([[0.0], cum])[kernel.indptr[:-1]][column]
    total = np.bincount(column, weights=kernel.data, minlength=ix.size)[column]
    key = column + (cum - before) / total

    if day_factors is None:
        n_bg = rng.poisson(mu * days)
        bg_cell = np.repeat(np.arange(ix.size), n_bg)
        bg_t = rng.uniform(0.0, days, bg_cell.size)
    else:
        factors = np.asarray(day_factors, dtype=float)
        if factors.shape != (int(days),) or days != int(days) or np.any(factors < 0):
            raise ConfigError("day_factors needs one non-negative factor per day and whole "
                              "days")
        n_bg = rng.poisson(mu * factors.sum())
        bg_cell = np.repeat(np.arange(ix.size), n_bg)
        day = rng.choice(factors.size, size=bg_cell.size, p=factors / factors.sum())
        bg_t = day + rng.random(bg_cell.size)

    def displace(parent: tuple[np.ndarray, ...]) -> tuple[tuple[np.ndarray], np.ndarray]:
        (parent_cell,) = parent
        u = rng.random(parent_cell.size) * (1 - 1e-12)
        entry = np.minimum(np.searchsorted(key, parent_cell + u, side="right"), key.size - 1)
        return (kernel.indices[entry].astype(np.int64),), np.ones(parent_cell.size, bool)

    t, parent, generation, (cell,) = _branch(rng, bg_t, (bg_cell,), theta, omega, days,
                                             displace)
    h = float(cell_size_m)
    off_x = rng.random(cell.size) if jitter else np.full(cell.size, 0.5)
    off_y = rng.random(cell.size) if jitter else np.full(cell.size, 0.5)
    return _table(t, (ix[cell] + off_x) * h, (iy[cell] + off_y) * h, parent, generation, start)


def sample_background(
    rng: np.random.Generator, n: int, bounds: Sequence[float], bumps: Sequence[Bump] = (),
    uniform_share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points from the mixture: ``uniform_share`` uniform over ``bounds``, the rest
    from the Gaussian ``bumps`` (by weight), each bump truncated to the rectangle."""
    x0, y0, x1, y1 = bounds
    if not bumps:
        uniform_share = 1.0
    weights = np.array([b[3] for b in bumps], dtype=float)
    probs = np.concatenate([[uniform_share],
                            (1 - uniform_share) * weights / max(weights.sum(), 1e-300)])
    comp = rng.choice(probs.size, size=n, p=probs)
    x = rng.uniform(x0, x1, n)
    y = rng.uniform(y0, y1, n)
    for k, (cx, cy, sd, _) in enumerate(bumps, start=1):
        todo = np.flatnonzero(comp == k)
        while todo.size:
            px = rng.normal(cx, sd, todo.size)
            py = rng.normal(cy, sd, todo.size)
            ok = (px >= x0) & (px < x1) & (py >= y0) & (py < y1)
            x[todo[ok]], y[todo[ok]] = px[ok], py[ok]
            todo = todo[~ok]
    return x, y


def simulate_sepp(
    bounds: Sequence[float], mu_total: float, theta: float, omega: float, sigma_m: float,
    days: float, *, bumps: Sequence[Bump] = (), uniform_share: float = 1.0,
    trigger: str = "gaussian", start: str | pd.Timestamp = "2020-01-01", seed: int = 0,
) -> pd.DataFrame:
    """Continuous SEPP events in the rectangle ``bounds = (x0, y0, x1, y1)`` (metres).

    Background: ``Poisson(mu_total · days)`` events, uniform in time, in space from the
    uniform/bump mixture of :func:`sample_background`. Trigger: lag ``Exponential(ω)``,
    displacement ``N(0, σ² I)`` (``trigger="gaussian"``) or with density
    ``e^{−d/σ} / (2πσ²)`` (``"exponential"``: distance ``Gamma(2, σ)``, uniform angle).
    Offspring outside the rectangle are not observed and have no offspring.
    """
    _check(theta, omega, days)
    if trigger not in ("gaussian", "exponential"):
        raise ConfigError(f"trigger must be gaussian or exponential, got {trigger!r}")
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = bounds
    n_bg = rng.poisson(mu_total * days)
    bg_x, bg_y = sample_background(rng, n_bg, bounds, bumps, uniform_share)
    bg_t = rng.uniform(0.0, days, n_bg)

    def displace(parent: tuple[np.ndarray, ...]) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        px, py = parent
        n = px.size
        if trigger == "gaussian":
            dx, dy = rng.normal(0.0, sigma_m, n), rng.normal(0.0, sigma_m, n)
        else:
            r = rng.gamma(2.0, sigma_m, n)
            angle = rng.uniform(0.0, 2 * np.pi, n)
            dx, dy = r * np.cos(angle), r * np.sin(angle)
        cx, cy = px + dx, py + dy
        return (cx, cy), (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)

    t, parent, generation, (x, y) = _branch(rng, bg_t, (bg_x, bg_y), theta, omega, days,
                                            displace)
    return _table(t, x, y, parent, generation, start)
