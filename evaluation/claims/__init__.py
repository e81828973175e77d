"""Check a claim like "a six-month trial in one neighbourhood cut crime by 12 %".

:func:`evaluate_claim` reads a store and a treated area, builds monthly series for the
area, a buffer ring around it and comparable control units (:mod:`.series`), and runs,
side by side:

============================  ==================================================
``its``                       interrupted time series (:mod:`.its`)
``did``, ``did_pretrend``     difference in differences + pre-trend check (:mod:`.did`)
``synthetic_control``         synthetic control + in-space placebo (:mod:`.synth`)
``placebo_time``              ITS at fake start dates (:mod:`.placebo`)
``power``, ``mde``            NB rate ratio test power and MDE (:mod:`.power`)
``rtm``                       regression to the mean (:mod:`.rtm`)
``wdq``, ``buffer``           displacement ring (:mod:`.displacement`, DiD of the ring)
============================  ==================================================

then a plain-words verdict (:mod:`.verdict`). Rate ratios are treated / counterfactual:
0.88 is a 12 % drop. If ``calibration.json`` (written by ``benchmarks/bench_claims.py``)
sits beside this file, each method's note carries its measured false-positive rate and
CI coverage on real data, and methods it marks as badly calibrated say so and are not
used as the verdict's primary estimate while a calibrated one is available.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry
from threadpoolctl import threadpool_limits

from hotspot.core.atomic import atomic_path
from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.claims.did import fit_did, fit_pretrend
from hotspot.evaluation.claims.displacement import fit_wdq
from hotspot.evaluation.claims.its import Estimate, fit_its, unavailable
from hotspot.evaluation.claims.placebo import fit_placebo_time, placebo_effects
from hotspot.evaluation.claims.power import fit_power
from hotspot.evaluation.claims.report import ESTIMATE_COLUMNS, write_report
from hotspot.evaluation.claims.rtm import fit_rtm
from hotspot.evaluation.claims.series import (
    MAX_PRE_MONTHS,
    MIN_PRE_MONTHS,
    ClaimSeries,
    build_series,
    check_window,
    parse_month,
    store_months,
)
from hotspot.evaluation.claims.synth import fit_synth
from hotspot.evaluation.claims.verdict import Verdict, change_text, choose_primary, make_verdict

__all__ = ["ClaimResult", "ClaimSeries", "Estimate", "Verdict", "analyse_series",
           "evaluate_claim", "load_calibration", "parse_claimed"]

#: Package data, measured by ``benchmarks/bench_claims.py`` (which writes a new one under its
#: ``--out``; copy it here to update the shipped table).
CALIBRATION_PATH = Path(str(files(__name__) / "calibration.json"))
METHOD_ORDER = ["its", "did", "did_pretrend", "synthetic_control", "placebo_time", "power",
                "mde", "rtm", "wdq", "buffer"]
_CLAIMED = re.compile(r"^\s*([+\-\u2212]?)\s*(\d+(?:\.\d+)?)\s*%?\s*$")


@dataclass(frozen=True)
class ClaimResult:
    """What a claim check found: the estimates table, the series, the verdict, the settings.

    ``details`` keeps each method's full :class:`Estimate` (with the fitted curves and
    placebo distributions the plots use).
    """

    estimates: pd.DataFrame
    series: ClaimSeries
    verdict: Verdict
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Estimate] = field(default_factory=dict, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The estimates table: ``method, estimate, ci_low, ci_high, p_value, note``."""
        return self.estimates[ESTIMATE_COLUMNS].copy()

    def estimate(self, method: str) -> Estimate:
        return self.details[method]

    def claim_text(self) -> str:
        s = self.settings
        claimed = s.get("claimed_rr")
        claim = f"{change_text(claimed)} claimed" if claimed is not None else "no size claimed"
        return (f"{s.get('area', 'treated area')}, {self.series.start}..{self.series.end}, "
                f"category {s.get('category') or 'all'}: {claim}")

    def summary(self) -> str:
        """Plain text: the verdict, its headline and one line per method."""
        lines = [f"claim: {self.claim_text()}", f"verdict: {self.verdict.category}",
                 f"  {self.verdict.headline}"]
        for row in self.estimates.itertuples(index=False):
            ci = (f" [{row.ci_low:.3f}, {row.ci_high:.3f}]"
                  if np.isfinite(row.ci_low) and np.isfinite(row.ci_high) else "")
            p = f" p={row.p_value:.3f}" if np.isfinite(row.p_value) else ""
            est = f"{row.estimate:.3f}" if np.isfinite(row.estimate) else "n/a"
            lines.append(f"  {row.method:<18} {est}{ci}{p}")
        return "\n".join(lines)

    def save(self, out_dir: Path | str) -> dict[str, Path]:
        """Write the report folder atomically and return the paths of its files.

        The whole folder is built under a temporary name and renamed into place, so a
        failure leaves the previous report (or nothing). An existing folder is replaced
        only if it is empty or holds an earlier claim report (``estimates.csv``).
        """
        out_dir = Path(out_dir)
        if out_dir.exists():
            if not out_dir.is_dir():
                raise ConfigError(f"--out {out_dir} is a file: pass a folder for the report")
            if any(out_dir.iterdir()) and not (out_dir / "estimates.csv").exists():
                raise ConfigError(
                    f"--out {out_dir} holds other files: pass a new or empty folder (a claim "
                    "report replaces its whole folder)")
        with atomic_path(out_dir) as tmp:
            tmp.mkdir(parents=True)
            written = write_report(self, tmp)
        return {key: out_dir / path.name for key, path in written.items()}


def parse_claimed(text: str | float | None) -> float | None:
    """``"-12%"`` → 0.88 (the claimed rate ratio); ``None`` stays ``None``."""
    if text is None:
        return None
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = _CLAIMED.match(str(text))
        if not match:
            raise ConfigError(f"--claimed {text!r} is not a percentage change: write e.g. -12% "
                              "for a 12 % drop")
        sign = -1.0 if match.group(1) in ("-", "\u2212") else 1.0
        value = sign * float(match.group(2))
    if not -100 < value < 1000:
        raise ConfigError(f"--claimed {text!r} must be a change above -100%: e.g. -12%")
    if value == 0:
        raise ConfigError(f"--claimed {text!r} claims no change: write e.g. -12% for a drop")
    return 1 + value / 100


def load_calibration(path: Path | str | None = CALIBRATION_PATH) -> dict[str, Any]:
    """The calibration file's ``methods`` mapping, or ``{}`` when absent or unreadable."""
    if path is None:
        return {}
    path = Path(path)
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text()).get("methods", {}))
    except (json.JSONDecodeError, AttributeError, TypeError):
        return {}


def analyse_series(
    series: ClaimSeries,
    claimed_rr: float | None = None,
    *,
    buffer_m: float = 500.0,
    rtm_window: int = 6,
    serial: bool = True,
    calibration: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    methods: tuple[str, ...] | None = None,
) -> ClaimResult:
    """Run every method on ready-made series and return the result (no I/O).

    ``methods`` restricts the run to some of :data:`METHOD_ORDER` (the benchmark uses it);
    ``calibration`` is :func:`load_calibration`'s mapping (``None``: none).
    """
    with threadpool_limits(limits=1, user_api="blas"):  # tiny matrices: threads only cost
        return _analyse(series, claimed_rr, buffer_m=buffer_m, rtm_window=rtm_window,
                        serial=serial, calibration=calibration, settings=settings,
                        methods=methods)


def _analyse(series: ClaimSeries, claimed_rr: float | None, *, buffer_m: float,
             rtm_window: int, serial: bool, calibration: dict[str, Any] | None,
             settings: dict[str, Any] | None, methods: tuple[str, ...] | None) -> ClaimResult:
    wanted = set(methods or METHOD_ORDER)
    post = series.post
    months = series.months
    y = series.treated
    est: dict[str, Estimate] = {}
    placebos = placebo_effects(y, months, post, min_pre=MIN_PRE_MONTHS, serial=serial)
    its = fit_its(y, months, post, serial=serial, placebo_z=placebos.z)
    if "its" in wanted or "placebo_time" in wanted or "power" in wanted:
        est["its"] = its
    if "did" in wanted:
        est["did"] = fit_did(y, series.controls, post, serial=serial)
    if "did_pretrend" in wanted:
        est["did_pretrend"] = fit_pretrend(y, series.controls, post, serial=serial)
    if "synthetic_control" in wanted:
        est["synthetic_control"] = fit_synth(y, series.controls, post,
                                             control_ids=series.control_ids)
    if "placebo_time" in wanted:
        est["placebo_time"] = (
            fit_placebo_time(placebos, its.extra["log_rr"], series.n_pre)
            if "log_rr" in its.extra else unavailable("placebo_time", "ITS not estimated"))
    calibration = calibration or {}
    badly = {m for m, c in calibration.items() if isinstance(c, dict) and c.get("badly_calibrated")}
    if "power" in wanted or "mde" in wanted:
        primary = choose_primary({**est, "its": its}, badly)
        est["power"], est["mde"] = fit_power(
            y, post, claimed_rr, mu_fit=its.extra.get("mu_pre"),
            counterfactual=its.extra.get("counterfactual"),
            design=(est.get(primary) or its) if primary else None)
    if "rtm" in wanted:
        est["rtm"] = fit_rtm(y, post, window=rtm_window)
    if "wdq" in wanted:
        est["wdq"] = fit_wdq(y, series.buffer, series.controls, post, buffer_m)
    if "buffer" in wanted:
        ring = fit_did(series.buffer, series.controls, post, method="buffer", serial=serial)
        if np.isfinite(ring.estimate):
            ring = Estimate("buffer", ring.estimate, ring.ci_low, ring.ci_high, ring.p_value,
                            f"0-{buffer_m:g} m ring vs controls (DiD): {ring.note}", ring.extra)
        est["buffer"] = ring
    est = {m: est[m] for m in METHOD_ORDER if m in est and (m in wanted or methods is None)}
    est = {m: _with_calibration(e, calibration.get(m)) for m, e in est.items()}
    verdict = make_verdict(est, claimed_rr, badly)
    table = pd.DataFrame([e.row() for e in est.values()], columns=ESTIMATE_COLUMNS)
    settings = {**(settings or {}), "claimed_rr": claimed_rr, "buffer_m": buffer_m,
                "rtm_window": rtm_window, "serial_correction": serial,
                "calibration": "used" if calibration else "none"}
    return ClaimResult(table, series, verdict, settings, est)


def _with_calibration(e: Estimate, cal: Any) -> Estimate:
    if not isinstance(cal, dict) or not cal.get("summary"):
        return e
    prefix = "BADLY CALIBRATED on real data: " if cal.get("badly_calibrated") else "calibration: "
    note = f"{e.note} | {prefix}{cal['summary']}"
    return Estimate(e.method, e.estimate, e.ci_low, e.ci_high, e.p_value, note, e.extra)


def _treated_geometry(area: Any, area_filter: str | None, crs: str) -> tuple[BaseGeometry, str]:
    from hotspot.core.area import StudyArea, load_area

    if isinstance(area, BaseGeometry):
        return area, "treated polygon"
    if isinstance(area, StudyArea):
        return area.parts.to_crs(crs).union_all(), "treated area"
    if isinstance(area, gpd.GeoDataFrame):
        return area.to_crs(crs).union_all(), "treated area"
    study = load_area(Path(area), area_filter, crs)
    label = f"{Path(area).name}" + (f" [{area_filter}]" if area_filter else "")
    return study.geometry, label


def _control_units(controls: Any, crs: str) -> str | gpd.GeoDataFrame:
    from hotspot.core.area import load_area

    if isinstance(controls, gpd.GeoDataFrame):
        return controls.to_crs(crs)
    if controls is None or (isinstance(controls, str) and controls == "auto"):
        return "auto"
    return load_area(Path(controls), None, crs).parts


def evaluate_claim(
    store: Path | str,
    area: Path | str | BaseGeometry | Any,
    start: str | pd.Period,
    end: str | pd.Period,
    *,
    area_filter: str | None = None,
    category: str | None = None,
    claimed: str | float | None = None,
    controls: str | Path | gpd.GeoDataFrame = "auto",
    buffer_m: float = 500.0,
    n_controls: int = 20,
    min_unit_mean: float = 5.0,
    min_pre_months: int = MIN_PRE_MONTHS,
    max_pre_months: int | None = MAX_PRE_MONTHS,
    rtm_window: int = 6,
    calibration_path: Path | str | None = CALIBRATION_PATH,
) -> ClaimResult:
    """Check a claimed change in crime in ``area`` over ``start..end`` against the store.

    Parameters
    ----------
    store
        Event store folder (``hotspot ingest``).
    area
        Boundary file (all features matching ``area_filter`` are unioned), a
        ``StudyArea``/GeoDataFrame or a shapely geometry in the store's CRS.
    start, end
        First and last month of the claimed period (``YYYY-MM``), inclusive.
    category
        Only events of this category (default: all).
    claimed
        The claimed change, e.g. ``"-12%"`` (a 12 % drop); optional.
    controls
        ``"auto"`` (grid blocks of the treated area's size) or a boundary file whose
        polygons are the candidate control units.
    buffer_m
        Ring around the treated area for displacement, excluded from the controls.
    min_pre_months, max_pre_months
        At least / at most this many months before ``start`` are analysed.
    n_controls, min_unit_mean
        Keep the ``n_controls`` candidates closest in pre-period level and trend among
        those with at least ``min_unit_mean`` events a month.

    Raises
    ------
    DataError
        Missing store or area, a period outside the store's data, too few pre-period
        months, an empty treated area.
    ConfigError
        Unreadable months, start after end, unknown category, unparsable claim.
    """
    from hotspot.ingest.store import read_events, read_store_meta

    store = Path(store)
    if not store.exists():
        raise DataError(f"store {store} not found: pass the folder 'hotspot ingest' wrote")
    meta = read_store_meta(store)
    start_p = start if isinstance(start, pd.Period) else parse_month(start, "--start")
    end_p = end if isinstance(end, pd.Period) else parse_month(end, "--end")
    if start_p > end_p:
        raise ConfigError(f"--start {start_p} is after --end {end_p}: the period must run "
                          "forwards")
    claimed_rr = parse_claimed(claimed)
    crs = meta["crs"]
    treated, label = _treated_geometry(area, area_filter, crs)
    if treated.is_empty or treated.area <= 0:
        raise DataError(f"the treated area {label} is empty (no polygon area)")
    events = read_events(store)
    if events.empty:
        raise DataError(f"store {store} holds no events: ingest data into it first")
    months = store_months(events, meta)
    if category is not None:
        available = sorted(events["category"].dropna().unique().tolist())
        if category not in available:
            raise ConfigError(f"--category {category!r} is not in the store; available: "
                              + ", ".join(available))
        events = events[events["category"] == category]
    window = check_window(months, start_p, end_p, min_pre_months, max_pre_months)
    series = build_series(events, treated, window, start_p, end_p,
                          controls=_control_units(controls, crs), buffer_m=buffer_m,
                          n_controls=n_controls, min_unit_mean=min_unit_mean)
    if series.treated.sum() == 0:
        raise DataError(
            f"the treated area {label} holds no {category or ''} events in {window[0]}.."
            f"{end_p}: is it inside the store's coverage ({store})?".replace("no  ", "no "))
    settings = {"store": str(store), "area": label, "category": category,
                "start": str(start_p), "end": str(end_p), "controls": str(
                    controls if isinstance(controls, str | Path) else "given"),
                "n_controls": n_controls, "min_unit_mean": min_unit_mean,
                "months_analysed": f"{window[0]}..{end_p}",
                "time_resolution": meta.get("time_resolution"), "crs": crs}
    return analyse_series(series, claimed_rr, buffer_m=buffer_m, rtm_window=rtm_window,
                          calibration=load_calibration(calibration_path), settings=settings)
