"""A staggered rollout checked against a store (:func:`evaluate_staggered`): the treated
units start at different months (``--from rollout.csv``); cohort, overall and event-study
effects come from a stacked Poisson DiD (:mod:`.stacked`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from hotspot.core.errors import DataError
from hotspot.evaluation.claims.controls import (
    CANDIDATE,
    EXCLUDED,
    KEPT,
    MIN_COVERAGE,
    load_units,
    screen_units,
)
from hotspot.evaluation.claims.inputs import control_pool, control_store, open_store
from hotspot.evaluation.claims.rollout import read_rollout
from hotspot.evaluation.claims.series import (
    MIN_BLOCK_M,
    month_codes,
    occupied_blocks,
    parse_month,
    polygon_counts,
    unit_threshold,
)
from hotspot.evaluation.claims.stacked import (
    MIN_CLEAN_CONTROLS,
    build_stacks,
    fit_cohorts,
    fit_overall_and_events,
)

#: A cohort needs at least this many months before its start.
MIN_STAGGERED_PRE = 6
#: Months before each start in its stack.
PRE_MONTHS = 12
EFFECT_COLUMNS = ["group", "units", "n_controls", "months", "estimate", "ci_low", "ci_high",
                  "p_value", "se", "se_robust", "placebo_scale", "n_placebos"]


@dataclass(frozen=True)
class StaggeredResult:
    """What a staggered check found: per-cohort and overall effects (rate ratios with 95 %
    CIs), the event study, the rollout, the control units and the settings."""

    effects: pd.DataFrame
    event_study: pd.DataFrame
    rollout: pd.DataFrame
    control_units: gpd.GeoDataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    treated_geometry: BaseGeometry | None = field(default=None, repr=False)
    zone_geometry: BaseGeometry | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per cohort (``group`` = its start month) and a last ``overall`` row."""
        return self.effects[EFFECT_COLUMNS].copy()

    def effect(self, group: str) -> pd.Series:
        """The row of one cohort (``YYYY-MM``) or ``"overall"``."""
        return self.effects.set_index("group").loc[group]

    def summary(self) -> str:
        lines = [f"staggered rollout: {len(self.rollout)} units in "
                 f"{int((self.effects['group'] != 'overall').sum())} cohorts "
                 f"(stacked Poisson DiD)"]
        for row in self.effects.itertuples(index=False):
            lines.append(f"  {row.group:<8} {row.estimate:.3f} [{row.ci_low:.3f}, "
                         f"{row.ci_high:.3f}] p={row.p_value:.3f}  {row.units}")
        return "\n".join(lines)

    def save(self, out_dir: Path | str) -> dict[str, Path]:
        """Write the report folder atomically (see :mod:`.staggered_report`)."""
        from hotspot.evaluation.claims.staggered_report import save_staggered

        return save_staggered(self, Path(out_dir))


def evaluate_staggered(
    store: Path | str,
    area_file: Path | str,
    rollout_csv: Path | str,
    end: str | pd.Period | None = None,
    *,
    area_filter: str | None = None,
    category: str | None = None,
    controls: str | Path | None = "auto",
    controls_filter: str | None = None,
    controls_store: Path | str | None = None,
    buffer_m: float = 500.0,
    min_unit_mean: float = 5.0,
    min_coverage: float = MIN_COVERAGE,
    pre_months: int = PRE_MONTHS,
    n_placebo: int = 40,
    seed: int = 0,
) -> StaggeredResult:
    """Estimate the effect of a staggered rollout with a stacked Poisson DiD.

    Parameters
    ----------
    store
        Event store folder.
    area_file
        Boundary file whose polygons (after ``area_filter``) the rollout's units name.
    rollout_csv
        ``unit,start[,end]`` (:func:`~hotspot.evaluation.claims.rollout.read_rollout`).
    end
        Last treated month for units without an end (default: the store's last month).
    controls, controls_filter, controls_store, buffer_m, min_coverage
        Never-treated control units as in
        :func:`~hotspot.evaluation.claims.evaluate.evaluate_claim`; the ring is drawn around
        every treated unit.
    min_unit_mean
        Never-treated units need this many events a month before the first start (lowered
        for rare categories, as for a single claim).
    pre_months
        Months before each cohort's start in its stack.
    n_placebo, seed
        Random placebo assignments for the overall and event-study intervals.

    Raises
    ------
    ConfigError
        A bad rollout CSV (line named), unknown unit names, bad months.
    DataError
        Too few months before a start, a start outside the store, too few clean controls.
    """
    began = time.perf_counter()
    main = open_store(store, category)
    crs = main.meta["crs"]
    units = load_units(area_file, area_filter, crs, option="--area-filter")
    rollout = read_rollout(rollout_csv, known_units=[str(u) for u in units["unit"]])
    months_all = main.months
    end_p = (months_all[-1] if end is None
             else end if isinstance(end, pd.Period) else parse_month(end, "--to"))
    _check_rollout(rollout, months_all, end_p)
    first = max(months_all[0], rollout["start"].min() - pre_months)
    window = pd.period_range(first, end_p, freq="M")
    treated_units = units.set_index("unit").loc[rollout["unit"]]
    treated = treated_units.geometry.union_all()
    zone = treated.buffer(buffer_m) if buffer_m > 0 else treated
    other = control_store(controls_store, main, window, category) if controls_store else None
    pool, fallback = control_pool(controls, controls_filter, Path(area_file), treated,
                                  crs=crs, buffer_m=buffer_m, coverage_store=other or main,
                                  window=window, min_coverage=min_coverage)
    ctl = (other or main).events
    ccodes = month_codes(ctl["time"], window[0])
    cx, cy = ctl["x"].to_numpy(dtype=float), ctl["y"].to_numpy(dtype=float)
    if isinstance(pool, str):  # grid blocks: the area file has no other usable polygons
        side = max(float(np.sqrt(treated.area / len(rollout))), MIN_BLOCK_M)
        geoms, ids, block_counts = occupied_blocks(cx, cy, ccodes, len(window), side)
        blocks = gpd.GeoDataFrame({"unit": ids, "id": np.arange(len(ids))}, geometry=geoms,
                                  crs=crs)
        pool = screen_units(blocks, treated, zone, None, buffer_m=buffer_m,
                            source=f"grid blocks of {side:.0f} m ({fallback})")
        never_counts = block_counts
    else:
        never_counts = polygon_counts(cx, cy, ccodes, len(window),
                                      np.asarray(pool.units.geometry))
    tcodes = month_codes(main.events["time"], window[0])
    treated_counts = polygon_counts(main.events["x"].to_numpy(dtype=float),
                                    main.events["y"].to_numpy(dtype=float), tcodes,
                                    len(window), np.asarray(treated_units.geometry))
    pre = np.asarray(window < rollout["start"].min())
    table, never = _never_treated(pool.units, never_counts, treated_counts, pre,
                                  min_unit_mean)
    names = [f"{u}" for u in rollout["unit"]]
    counts = pd.DataFrame(np.column_stack([treated_counts, never_counts[:, never]]),
                          index=window, columns=[*names, *table["unit"].iloc[never]])
    empty = [u for u in names if counts[u].sum() == 0]
    if empty:
        raise DataError(f"treated unit {empty[0]} holds no events in {window[0]}..{end_p}: "
                        "is it inside the store's coverage?")
    panel = build_stacks(counts, rollout, list(table["unit"].iloc[never]),
                         pre_months=pre_months, end=end_p)
    _check_stacks(panel)
    cohorts = fit_cohorts(panel)
    overall, events = fit_overall_and_events(panel, n_placebo=n_placebo, seed=seed)
    effects = pd.concat([cohorts.rename(columns={"cohort": "group"}), pd.DataFrame([{
        "group": "overall", "units": ";".join(names),
        "n_controls": int(panel.loc[~panel["treated"], "unit"].nunique()),
        "months": f"{window[0]}..{end_p}", **overall.row()}])], ignore_index=True)
    settings = {"store": str(store), "area": str(area_file), "area_filter": area_filter,
                "rollout": str(rollout_csv), "end": str(end_p), "category": category,
                "controls": str(controls), "controls_filter": controls_filter,
                "controls_store": str(controls_store) if controls_store else None,
                "controls_source": pool.source, "buffer_m": buffer_m,
                "min_unit_mean": min_unit_mean, "pre_months": pre_months,
                "n_placebo": n_placebo, "seed": seed, "method": "stacked Poisson DiD",
                "seconds": round(time.perf_counter() - began, 2)}
    return StaggeredResult(effects, events, rollout, table, settings, treated, zone)


def _check_rollout(rollout: pd.DataFrame, months: pd.PeriodIndex, end: pd.Period) -> None:
    for row in rollout.itertuples(index=False):
        n_pre = int((months < row.start).sum())
        if row.start > end or row.start > months[-1]:
            raise DataError(f"--from rollout: unit {row.unit} starts {row.start}, after the "
                            f"last month analysed ({min(end, months[-1])})")
        if n_pre < MIN_STAGGERED_PRE:
            raise DataError(f"--from rollout: unit {row.unit} starts {row.start} with only "
                            f"{n_pre} months of data before it (the store starts "
                            f"{months[0]}): at least {MIN_STAGGERED_PRE} are needed")
    if end > months[-1]:
        raise DataError(f"--to {end} is after the store's last month {months[-1]}")


def _never_treated(units: gpd.GeoDataFrame, counts: np.ndarray, treated_counts: np.ndarray,
                   pre: np.ndarray, min_unit_mean: float) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The control table (every screened unit, kept or excluded and why) and the indices
    of the kept never-treated units."""
    table = units.copy()
    means = counts[pre].mean(axis=0) if pre.any() else np.zeros(counts.shape[1])
    bar = unit_threshold(treated_counts[pre].mean(axis=1), min_unit_mean)
    table["pre_mean"] = means
    candidate = (table["status"] == CANDIDATE).to_numpy()
    enough = means >= bar
    kept = candidate & enough
    table["status"] = np.where(kept, KEPT, EXCLUDED)
    table.loc[candidate & ~enough, "reason"] = (f"fewer than {bar:.3g} events a month "
                                                "before the first start")
    return table, np.flatnonzero(kept)


def _check_stacks(panel: pd.DataFrame) -> None:
    for stack, part in panel.groupby("stack"):
        n = part.loc[~part["treated"], "unit"].nunique()
        if n < MIN_CLEAN_CONTROLS:
            raise DataError(f"cohort starting {stack} has {n} clean control units (never or "
                            f"not yet treated), at least {MIN_CLEAN_CONTROLS} are needed: "
                            "pass --controls with more units, or a smaller --buffer")
