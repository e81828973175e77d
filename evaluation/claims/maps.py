"""Static plots shared by the claim and staggered reports: the donor-pool map and the
event study (matplotlib PNGs, readable offline)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import ticker
from shapely.geometry.base import BaseGeometry

from hotspot.evaluation.claims.controls import KEPT


def plot_controls_map(units: pd.DataFrame | None, treated: BaseGeometry | None,
                      zone: BaseGeometry | None, path: Path, title: str = "Control units") -> None:
    """Treated area, its ring, the kept controls and the excluded candidates on one map."""
    fig, ax = plt.subplots(figsize=(7, 7))
    drawn = False
    if isinstance(units, gpd.GeoDataFrame) and len(units) and "status" in units:
        kept = units[units["status"] == KEPT]
        other = units[units["status"] != KEPT]
        if len(other):
            other.plot(ax=ax, facecolor="#dddddd", edgecolor="#999999", lw=0.5)
        if len(kept):
            kept.plot(ax=ax, facecolor="tab:blue", alpha=0.55, edgecolor="navy", lw=0.6)
            if len(kept) <= 40:
                for name, point in zip(kept["unit"], kept.geometry.representative_point(),
                                       strict=True):
                    ax.annotate(str(name), (point.x, point.y), fontsize=6, ha="center")
        drawn = True
    if zone is not None and not zone.is_empty:
        gpd.GeoSeries([zone]).plot(ax=ax, facecolor="none", edgecolor="tab:orange", lw=1.5,
                                   ls="--")
        drawn = True
    if treated is not None and not treated.is_empty:
        gpd.GeoSeries([treated]).plot(ax=ax, facecolor="tab:red", alpha=0.7,
                                      edgecolor="darkred")
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no control units to map", ha="center", va="center")
        ax.set_axis_off()
    else:
        _zoom(ax, units, zone)
    handles = [plt.Rectangle((0, 0), 1, 1, fc=c, ec=e, alpha=a, ls=ls) for c, e, a, ls in (
        ("tab:red", "darkred", 0.7, "-"), ("none", "tab:orange", 1, "--"),
        ("tab:blue", "navy", 0.55, "-"), ("#dddddd", "#999999", 1, "-"))]
    ax.legend(handles, ["treated", "buffer ring", "kept controls", "excluded"], fontsize=8,
              loc="best")
    ax.set_title(title)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _zoom(ax, units: pd.DataFrame | None, zone: BaseGeometry | None) -> None:
    """Frame the ring and the units inside the store's coverage: a London-wide ward file
    would otherwise shrink the City to a dot among 600 excluded wards."""
    parts = []
    if zone is not None and not zone.is_empty:
        parts.append(zone.bounds)
    if isinstance(units, gpd.GeoDataFrame) and len(units):
        near = units["status"] == KEPT
        if "coverage_share" in units:
            near |= units["coverage_share"].fillna(0) >= 0.5
        if near.any():
            parts.append(tuple(units[near].total_bounds))
    if not parts:
        return
    box = np.asarray(parts, dtype=float)
    x0, y0 = box[:, 0].min(), box[:, 1].min()
    x1, y1 = box[:, 2].max(), box[:, 3].max()
    pad = 0.05 * max(x1 - x0, y1 - y0, 1.0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)


def plot_event_study(events: pd.DataFrame, path: Path, overall: float | None = None) -> None:
    """Rate ratio by months since the start, with 95 % intervals (log scale)."""
    fig, ax = plt.subplots(figsize=(9, 4))
    x = events["months_since_start"].to_numpy()
    est = events["estimate"].to_numpy(dtype=float)
    lo = events["ci_low"].to_numpy(dtype=float)
    hi = events["ci_high"].to_numpy(dtype=float)
    ok = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
    ax.errorbar(x[ok], est[ok], yerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="o",
                color="black", ms=4, capsize=2, lw=1, label="effect (95 % CI)")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="tab:orange", ls="--", lw=1, label="start")
    if overall is not None and np.isfinite(overall):
        ax.axhline(overall, color="tab:red", ls=":", lw=1.2,
                   label=f"overall effect {overall:.2f}")
    ax.set_yscale("log")
    # plain ratios (0.6, 1, 2) on the log axis, whole months on x
    ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2g"))
    ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%.2g"))
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set_xlabel("months since the start (-1 is the reference month)")
    ax.set_ylabel("rate ratio (treated / counterfactual)")
    ax.set_title("Event study (stacked Poisson DiD)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
