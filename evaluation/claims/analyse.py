"""Every method side by side on ready-made monthly series (no I/O): :func:`analyse_series`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from hotspot.evaluation.claims.calibration import with_calibration
from hotspot.evaluation.claims.cits import fit_cits
from hotspot.evaluation.claims.did import fit_did, fit_pretrend
from hotspot.evaluation.claims.displacement import fit_wdq
from hotspot.evaluation.claims.its import Estimate, fit_its, unavailable
from hotspot.evaluation.claims.placebo import fit_placebo_time, placebo_effects
from hotspot.evaluation.claims.power import fit_power
from hotspot.evaluation.claims.report import ESTIMATE_COLUMNS
from hotspot.evaluation.claims.result import ClaimResult
from hotspot.evaluation.claims.rtm import fit_rtm
from hotspot.evaluation.claims.series import MIN_PRE_MONTHS, ClaimSeries
from hotspot.evaluation.claims.sts import fit_sts
from hotspot.evaluation.claims.synth import fit_synth
from hotspot.evaluation.claims.verdict import choose_primary, make_verdict

METHOD_ORDER = ["its", "cits", "sts", "did", "did_pretrend", "did_fepois", "synthetic_control",
                "synth_pysyncon", "placebo_time", "power", "mde", "rtm", "wdq", "buffer"]
#: Library counterparts the benchmark evaluates; run only when asked for by ``methods``
#: (slow imports and fits, and the calibration table says they may not drive a verdict).
OPTIONAL_METHODS = ("did_fepois", "synth_pysyncon")


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
    """Run every method on ready-made series and return the result.

    ``methods`` restricts the run to some of :data:`METHOD_ORDER` (the benchmark uses it);
    without it every method but :data:`OPTIONAL_METHODS` runs.
    ``calibration`` is :func:`~hotspot.evaluation.claims.calibration.load_calibration`'s
    mapping (``None``: none).
    """
    with threadpool_limits(limits=1, user_api="blas"):  # tiny matrices: threads only cost
        return _analyse(series, claimed_rr, buffer_m=buffer_m, rtm_window=rtm_window,
                        serial=serial, calibration=calibration or {}, settings=settings,
                        methods=methods)


def _analyse(series: ClaimSeries, claimed_rr: float | None, *, buffer_m: float,
             rtm_window: int, serial: bool, calibration: dict[str, Any],
             settings: dict[str, Any] | None, methods: tuple[str, ...] | None) -> ClaimResult:
    wanted = set(methods or (m for m in METHOD_ORDER if m not in OPTIONAL_METHODS))
    post = series.post
    y = series.treated
    est: dict[str, Estimate] = {}
    placebos = placebo_effects(y, series.months, post, min_pre=MIN_PRE_MONTHS, serial=serial)
    # ITS always runs: placebo_time and power build on its fit
    its = fit_its(y, series.months, post, serial=serial, placebo_z=placebos.z)
    if wanted & {"its", "placebo_time", "power"}:
        est["its"] = its
    if "cits" in wanted:
        est["cits"] = fit_cits(y, series.controls, series.months, post, serial=serial)
    if "sts" in wanted:
        est["sts"] = fit_sts(y, series.controls, post)
    if "did" in wanted:
        est["did"] = fit_did(y, series.controls, post, serial=serial)
    if "did_fepois" in wanted:
        from hotspot.evaluation.claims.fepois import fit_did_fepois

        est["did_fepois"] = fit_did_fepois(y, series.controls, post)
    if "did_pretrend" in wanted:
        est["did_pretrend"] = fit_pretrend(y, series.controls, post, serial=serial)
    if "synthetic_control" in wanted:
        est["synthetic_control"] = fit_synth(y, series.controls, post,
                                             control_ids=series.control_ids)
    if "synth_pysyncon" in wanted:
        from hotspot.evaluation.claims.synth_lib import fit_synth_pysyncon

        est["synth_pysyncon"] = fit_synth_pysyncon(y, series.controls, post,
                                                   control_ids=series.control_ids)
    if "placebo_time" in wanted:
        est["placebo_time"] = (
            fit_placebo_time(placebos, its.extra["log_rr"], series.n_pre)
            if "log_rr" in its.extra else unavailable("placebo_time", "ITS not estimated"))
    if wanted & {"power", "mde"}:
        primary = choose_primary({**est, "its": its}, calibration)
        est["power"], est["mde"] = fit_power(
            y, post, claimed_rr, mu_fit=its.extra.get("mu_pre"),
            counterfactual=its.extra.get("counterfactual"),
            design=(est.get(primary) or its) if primary else None)
    if "rtm" in wanted:
        est["rtm"] = fit_rtm(y, post, window=rtm_window)
    if "wdq" in wanted:
        est["wdq"] = fit_wdq(y, series.buffer, series.controls, post, buffer_m)
    if "buffer" in wanted:
        est["buffer"] = _buffer_ring(series, buffer_m, serial)
    est = {m: with_calibration(est[m], calibration.get(m)) for m in METHOD_ORDER
           if m in est and m in wanted}
    verdict = make_verdict(est, claimed_rr, calibration, n_controls=series.n_controls)
    table = pd.DataFrame([e.row() for e in est.values()], columns=ESTIMATE_COLUMNS)
    settings = {**(settings or {}), "claimed_rr": claimed_rr, "buffer_m": buffer_m,
                "rtm_window": rtm_window, "serial_correction": serial,
                "calibration": "used" if calibration else "none"}
    return ClaimResult(table, series, verdict, settings, est)


def _buffer_ring(series: ClaimSeries, buffer_m: float, serial: bool) -> Estimate:
    """DiD of the displacement ring against the controls."""
    ring = fit_did(series.buffer, series.controls, series.post, method="buffer", serial=serial)
    if not np.isfinite(ring.estimate):
        return ring
    return Estimate("buffer", ring.estimate, ring.ci_low, ring.ci_high, ring.p_value,
                    f"0-{buffer_m:g} m ring vs controls (DiD): {ring.note}", ring.extra)
