"""Monthly series of a claim: the treated area, a buffer ring around it, and control units.

Every method works on months. Police.uk events already carry the month start; timestamped
events are counted by calendar month. Months with no events in the chosen category count
as zero, so a series covers every month from the first to the last month of the store.

Control units
-------------
Candidates are polygons (wards, beats, districts: :mod:`.controls` says where they come
from) or, with ``controls="grid"`` (``"auto"`` here too), a regular grid of square blocks
over the extent of the events, each block as large as the treated area (side
``sqrt(area)``, at least 100 m). Then, in this order:

1. candidates that overlap the exclusion zone (the treated area grown by ``buffer_m``) or
   lie mostly outside the store's coverage are dropped (:func:`.controls.screen_units`),
   so neither the treated area nor its displacement ring leaks into the controls;
2. candidates with fewer than ``min(min_unit_mean, max(1, treated_mean / 2))`` events a
   month on average in the pre-period are dropped (too noisy to compare with; the bar is
   lowered for rare categories where the treated area itself has few events);
3. the rest are ranked by how close they are to the treated area in pre-period *level*
   (log of the mean monthly count) and *trend* (OLS slope of ``log(count + 0.5)`` per
   year), each difference divided by that feature's spread across the candidates, and the
   ``n_controls`` nearest (Euclidean distance) are kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.claims.controls import (
    CANDIDATE,
    EXCLUDED,
    KEPT,
    ControlPool,
    label_units,
    screen_units,
)

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
#: Below this many pre-period months no method is run.
MIN_PRE_MONTHS = 12
#: At most this many months before the start are used (a straight trend over many years
#: bends, and older months say little about the counterfactual).
MAX_PRE_MONTHS = 48
#: Smallest control block side (metres) for ``controls="auto"``.
MIN_BLOCK_M = 100.0


@dataclass(frozen=True)
class ClaimSeries:
    """Monthly counts of the treated area, its buffer ring and the chosen control units.

    ``months`` runs from the store's first month to the end of the claimed period; months
    after ``end`` are not used by any method.
    """

    months: pd.PeriodIndex
    start: pd.Period
    end: pd.Period
    treated: np.ndarray
    buffer: np.ndarray
    controls: np.ndarray  # (n_months, n_controls)
    control_ids: list[str] = field(default_factory=list)
    control_units: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_candidates: int = 0
    selection_note: str = ""
    #: The treated area and the exclusion zone (treated + buffer ring), for the map.
    treated_geometry: BaseGeometry | None = field(default=None, repr=False)
    zone_geometry: BaseGeometry | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n = len(self.months)
        for name in ("treated", "buffer"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} months, expected {n}")
        if self.controls.ndim != 2 or self.controls.shape[0] != n:
            raise ValueError(f"controls must be (n_months={n}, n_units), got {self.controls.shape}")

    @property
    def post(self) -> np.ndarray:
        """True for the months of the claimed period."""
        return np.asarray((self.months >= self.start) & (self.months <= self.end))

    @property
    def pre(self) -> np.ndarray:
        return np.asarray(self.months < self.start)

    @property
    def n_pre(self) -> int:
        return int(self.pre.sum())

    @property
    def n_post(self) -> int:
        return int(self.post.sum())

    @property
    def n_controls(self) -> int:
        return int(self.controls.shape[1])

    def to_frame(self) -> pd.DataFrame:
        """One row per month: treated, buffer, control total and mean, and the window flag."""
        frame = pd.DataFrame({
            "month": [str(m) for m in self.months],
            "treated": self.treated,
            "buffer": self.buffer,
            "controls_total": self.controls.sum(axis=1) if self.n_controls else np.nan,
            "controls_mean": self.controls.mean(axis=1) if self.n_controls else np.nan,
            "in_window": self.post,
        })
        for j, unit in enumerate(self.control_ids):
            frame[f"control:{unit}"] = self.controls[:, j]
        return frame


def parse_month(text: str, option: str) -> pd.Period:
    """``YYYY-MM`` text → monthly period; ``ConfigError`` naming ``option`` otherwise."""
    try:
        if not isinstance(text, str) or not _MONTH.match(text.strip()):
            raise ValueError
        return pd.Period(text.strip(), freq="M")
    except (ValueError, TypeError):
        raise ConfigError(f"{option} {text!r} is not a month: write it as YYYY-MM") from None


def month_codes(times: pd.Series, first: pd.Period) -> np.ndarray:
    """Whole months from ``first`` to each event's month (may be negative)."""
    t = pd.DatetimeIndex(times)
    return (t.year.to_numpy() - first.year) * 12 + (t.month.to_numpy() - first.month)


def count_by_month(codes: np.ndarray, inside: np.ndarray, n_months: int) -> np.ndarray:
    """Monthly counts of the events flagged ``inside`` (codes outside 0..n-1 ignored)."""
    keep = inside & (codes >= 0) & (codes < n_months)
    return np.bincount(codes[keep], minlength=n_months).astype(float)


def _trend_per_year(y: np.ndarray) -> np.ndarray:
    """OLS slope of ``log(y + 0.5)`` on time in years, per column of ``y`` (months x units)."""
    y = np.log(np.asarray(y, dtype=float) + 0.5)
    t = (np.arange(y.shape[0]) - (y.shape[0] - 1) / 2) / 12.0
    return (t @ (y - y.mean(axis=0))) / (t @ t)


def _spread(values: np.ndarray) -> float:
    """A robust scale (MAD-based standard deviation), 1 if degenerate."""
    mad = float(np.median(np.abs(values - np.median(values)))) * 1.4826
    if not np.isfinite(mad) or mad <= 0:
        mad = float(np.std(values))
    return mad if np.isfinite(mad) and mad > 0 else 1.0


def unit_threshold(treated_pre: np.ndarray, min_unit_mean: float) -> float:
    """Events a month a control needs before the start (rule 2 of the module docstring)."""
    return min(min_unit_mean, max(1.0, float(np.mean(treated_pre)) / 2))


def select_controls(
    treated_pre: np.ndarray, candidates_pre: np.ndarray, n_controls: int, min_unit_mean: float
) -> tuple[np.ndarray, pd.DataFrame]:
    """Indices of the chosen candidates and a table of every candidate's level, trend and
    distance (see the module docstring for the rule)."""
    means = candidates_pre.mean(axis=0) if candidates_pre.size else np.zeros(0)
    table = pd.DataFrame({"pre_mean": means})
    eligible = np.flatnonzero(means >= unit_threshold(treated_pre, min_unit_mean))
    table["eligible"] = False
    table.loc[eligible, "eligible"] = True
    table["level"] = np.log(np.maximum(means, 1e-9))
    table["trend_per_year"] = (_trend_per_year(candidates_pre) if candidates_pre.size
                               else np.zeros(0))
    for column in ("level_distance", "trend_distance", "distance"):
        table[column] = np.nan
    if eligible.size == 0:
        return eligible, table
    level_1 = np.log(max(float(treated_pre.mean()), 1e-9))
    trend_1 = float(_trend_per_year(treated_pre[:, None])[0])
    lv = table["level"].to_numpy()[eligible]
    tr = table["trend_per_year"].to_numpy()[eligible]
    level_distance = (lv - level_1) / _spread(lv)
    trend_distance = (tr - trend_1) / _spread(tr)
    distance = np.hypot(level_distance, trend_distance)
    table.loc[eligible, "level_distance"] = level_distance
    table.loc[eligible, "trend_distance"] = trend_distance
    table.loc[eligible, "distance"] = distance
    chosen = eligible[np.argsort(distance, kind="stable")[:n_controls]]
    return np.sort(chosen), table


def occupied_blocks(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, n_months: int, side_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Square blocks of ``side_m`` (aligned on the events' minimum x and y) that hold at
    least one event: ``(geometries, ids, counts (n_months, n_blocks))``.

    Only occupied blocks are kept, so a few far-away events (e.g. another force's edge)
    cost nothing; blocks with few events are dropped later by the level rule.
    """
    keep = (codes >= 0) & (codes < n_months)
    if not keep.any():
        return np.empty(0, dtype=object), np.empty(0, dtype=str), np.zeros((n_months, 0))
    x, y, codes = x[keep], y[keep], codes[keep]
    x0, y0 = float(x.min()), float(y.min())
    ix = np.floor((x - x0) / side_m).astype(np.int64)
    iy = np.floor((y - y0) / side_m).astype(np.int64)
    key = ix * (int(iy.max()) + 1) + iy
    blocks, inverse = np.unique(key, return_inverse=True)
    bx, by = blocks // (int(iy.max()) + 1), blocks % (int(iy.max()) + 1)
    counts = np.zeros((n_months, len(blocks)))
    np.add.at(counts, (codes, inverse), 1.0)
    gx, gy = x0 + bx * side_m, y0 + by * side_m
    geoms = shapely.box(gx, gy, gx + side_m, gy + side_m)
    ids = np.array([f"block_{i}_{j}" for i, j in zip(bx, by, strict=True)])
    return geoms, ids, counts


def polygon_counts(
    x: np.ndarray, y: np.ndarray, codes: np.ndarray, n_months: int, polygons: np.ndarray
) -> np.ndarray:
    """(n_months, n_polygons) counts of events per polygon and month (first match wins)."""
    counts = np.zeros((n_months, len(polygons)))
    keep = np.flatnonzero((codes >= 0) & (codes < n_months))
    if keep.size == 0 or len(polygons) == 0:
        return counts
    tree = shapely.STRtree(polygons)
    point_idx, poly_idx = tree.query(shapely.points(x[keep], y[keep]), predicate="intersects")
    _, first = np.unique(point_idx, return_index=True)
    point_idx, poly_idx = point_idx[first], poly_idx[first]
    np.add.at(counts, (codes[keep][point_idx], poly_idx), 1.0)
    return counts


def _block_units(x: np.ndarray, y: np.ndarray, codes: np.ndarray, n_months: int,
                 side_m: float) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Occupied grid blocks as candidate units and their monthly counts."""
    geoms, ids, counts = occupied_blocks(x, y, codes, n_months, side_m)
    units = gpd.GeoDataFrame({"unit": ids, "id": np.arange(len(ids))}, geometry=geoms)
    return units, counts


def build_series(
    events: pd.DataFrame,
    treated: BaseGeometry,
    months: pd.PeriodIndex,
    start: pd.Period,
    end: pd.Period,
    *,
    controls: str | gpd.GeoDataFrame | ControlPool = "auto",
    buffer_m: float = 500.0,
    n_controls: int = 20,
    min_unit_mean: float = 5.0,
    control_events: pd.DataFrame | None = None,
    coverage: BaseGeometry | None = None,
    source: str = "",
) -> ClaimSeries:
    """Count the treated area, its buffer ring and the chosen control units by month.

    Parameters
    ----------
    events
        Canonical events (only ``time``, ``x``, ``y`` are read), already filtered to the
        category of the claim.
    treated
        The treated area (one geometry, the union of the chosen wards/polygons), in the
        events' CRS.
    months
        Every month of the analysis, first month of the store to ``end``.
    controls
        ``"auto"`` or ``"grid"`` for a grid of blocks the size of the treated area over the
        events' extent; a GeoDataFrame of candidate control polygons in the events' CRS
        (screened by :func:`~hotspot.evaluation.claims.controls.screen_units` against
        ``coverage``); or an already screened :class:`ControlPool`.
    buffer_m
        Width of the ring around the treated area used for displacement and excluded from
        the controls.
    control_events
        Events the control units are counted from (a second store, e.g. a neighbouring
        force); default ``events``.
    coverage
        Where the control events' store has data; polygons mostly outside it are excluded.
    source
        Where file polygons came from, for the selection note.
    """
    if buffer_m < 0:
        raise ConfigError(f"--buffer {buffer_m:g} must be zero or more metres")
    if n_controls < 1:
        raise ConfigError(f"n_controls {n_controls} must be at least 1")
    n_months = len(months)
    first = months[0]
    x = events["x"].to_numpy(dtype=float)
    y = events["y"].to_numpy(dtype=float)
    codes = month_codes(events["time"], first)
    shapely.prepare(treated)
    inside = shapely.contains_xy(treated, x, y) if len(x) else np.zeros(0, bool)
    zone = treated.buffer(buffer_m) if buffer_m > 0 else treated
    shapely.prepare(zone)
    in_zone = shapely.contains_xy(zone, x, y) if len(x) else np.zeros(0, bool)
    treated_counts = count_by_month(codes, inside, n_months)
    buffer_counts = count_by_month(codes, in_zone & ~inside, n_months)
    pre = np.asarray(months < start)

    ctl = events if control_events is None else control_events
    cx = ctl["x"].to_numpy(dtype=float)
    cy = ctl["y"].to_numpy(dtype=float)
    ccodes = codes if control_events is None else month_codes(ctl["time"], first)
    if isinstance(controls, str):
        if controls not in ("auto", "grid"):
            raise ConfigError(f"--controls {controls!r} must be 'auto', 'grid' or a "
                              "boundary file")
        side = max(float(np.sqrt(treated.area)), MIN_BLOCK_M)
        blocks, counts = _block_units(cx, cy, ccodes, n_months, side)
        pool = screen_units(blocks, treated, zone, None, buffer_m=buffer_m)
        how = f"grid blocks of {side:.0f} m (the treated area's size)"
    else:
        pool = controls if isinstance(controls, ControlPool) else screen_units(
            controls if "unit" in controls.columns else label_units(controls), treated,
            zone, coverage, buffer_m=buffer_m, source=source)
        counts = polygon_counts(cx, cy, ccodes, n_months, np.asarray(pool.units.geometry))
        how = f"{pool.source or 'file'}: {len(pool.units)} polygons" + (
            f" (coverage: {pool.coverage})" if pool.coverage else "")
    cand = np.flatnonzero((pool.units["status"] == CANDIDATE).to_numpy())
    chosen, table = select_controls(treated_counts[pre], counts[pre][:, cand], n_controls,
                                    min_unit_mean)
    bar = unit_threshold(treated_counts[pre], min_unit_mean)
    units = _unit_table(pool, counts[pre], cand, chosen, table, bar, n_controls)
    n_screened = int(len(pool.units) - cand.size)
    note = (f"{how}; {len(pool.units)} candidates, {n_screened} overlapping the treated "
            f"area or its {buffer_m:g} m ring or outside the store's coverage dropped, "
            f"{int(table['eligible'].sum())} with >= {bar:.3g} events/month before the "
            f"start, {chosen.size} closest in pre-period level and trend kept")
    return ClaimSeries(
        months=months, start=start, end=end,
        treated=treated_counts, buffer=buffer_counts,
        controls=counts[:, cand[chosen]],
        control_ids=[str(i) for i in pool.units["unit"].to_numpy()[cand[chosen]]],
        control_units=units,
        n_candidates=int(len(pool.units)),
        selection_note=note,
        treated_geometry=treated,
        zone_geometry=zone,
    )


def _unit_table(pool: ControlPool, counts_pre: np.ndarray, cand: np.ndarray,
                chosen: np.ndarray, table: pd.DataFrame, bar: float,
                n_controls: int) -> gpd.GeoDataFrame:
    """Every screened unit with its pre-period fit, ``status`` (kept/excluded) and why."""
    units = pool.units.copy()
    units["pre_mean"] = counts_pre.mean(axis=0) if counts_pre.size else np.nan
    for column in ("level", "trend_per_year", "level_distance", "trend_distance",
                   "distance"):
        units[column] = np.nan
        units.loc[units.index[cand], column] = table[column].to_numpy()
    units["eligible"] = False
    units.loc[units.index[cand], "eligible"] = table["eligible"].to_numpy()
    units["chosen"] = False
    units.loc[units.index[cand[chosen]], "chosen"] = True
    reason = units["reason"].to_numpy(dtype=object).copy()
    status = np.where(units["chosen"].to_numpy(), KEPT, EXCLUDED).astype(object)
    for k in cand:
        if units["chosen"].iloc[k]:
            reason[k] = ""
        elif not units["eligible"].iloc[k]:
            reason[k] = f"fewer than {bar:.3g} events a month before the start"
        else:
            reason[k] = f"not among the {n_controls} closest in level and trend"
    units["status"] = status
    units["reason"] = reason
    return units


def store_months(events: pd.DataFrame, meta: dict[str, Any]) -> pd.PeriodIndex:
    """Every month from the first to the last event month (a store's coverage)."""
    if events.empty:
        raise DataError("the store holds no events")
    times = pd.DatetimeIndex(events["time"])
    first = pd.Period(times.min(), freq="M")
    last = pd.Period(times.max(), freq="M")
    return pd.period_range(first, last, freq="M")


def check_window(months: pd.PeriodIndex, start: pd.Period, end: pd.Period,
                 min_pre_months: int = MIN_PRE_MONTHS,
                 max_pre_months: int | None = MAX_PRE_MONTHS) -> pd.PeriodIndex:
    """Validate the claimed period against the store's months; return the analysis months:
    up to ``max_pre_months`` before ``start`` (all if ``None``) through ``end``."""
    if start > end:
        raise ConfigError(f"--from {start} is after --to {end}: the period must run forwards")
    if start < months[0] or end > months[-1]:
        raise DataError(
            f"the claimed period {start}..{end} is outside the store's data "
            f"({months[0]}..{months[-1]}): choose months the store covers"
        )
    n_pre = int((months < start).sum())
    if n_pre < min_pre_months:
        raise DataError(
            f"only {n_pre} months before --from {start} (the store starts {months[0]}): at "
            f"least {min_pre_months} pre-period months are needed to model trend and season"
        )
    first = months[0] if max_pre_months is None else max(months[0], start - max_pre_months)
    return months[(months >= first) & (months <= end)]


def square_around(x: float, y: float, side_m: float) -> BaseGeometry:
    """A square of ``side_m`` centred on ``(x, y)`` (handy for random test areas)."""
    h = side_m / 2
    return box(x - h, y - h, x + h, y + h)
