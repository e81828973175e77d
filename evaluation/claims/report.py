"""The claim report: estimates table, verdict, markdown and HTML with plots.

Everything is written into one folder; :func:`write_report` fills a folder it is given
(the caller hands it a temporary one and renames it into place, see
``ClaimResult.save``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hotspot.core.errors import ConfigError
from hotspot.core.markdown import escape_text, frame_table
from hotspot.evaluation.claims.controls import KEPT, controls_frame
from hotspot.evaluation.claims.maps import plot_controls_map

if TYPE_CHECKING:
    from hotspot.evaluation.claims.result import ClaimResult

ESTIMATE_COLUMNS = ["method", "estimate", "ci_low", "ci_high", "p_value", "note"]
PLOTS = {"series": "series.png", "synth": "synthetic_control.png", "placebo": "placebo.png",
         "controls": "controls_map.png"}


#: Files whose presence marks a folder as an earlier claim report (safe to replace).
REPORT_MARKERS = ("estimates.csv", "effects.csv")


def check_out_folder(out_dir: Path) -> None:
    """Refuse a file, or a folder holding anything but an earlier claim report (a single
    claim's or a staggered rollout's)."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ConfigError(f"--out {out_dir} is a file: pass a folder for the report")
        if any(out_dir.iterdir()) and not any((out_dir / m).exists() for m in REPORT_MARKERS):
            raise ConfigError(
                f"--out {out_dir} holds other files: pass a new or empty folder (a claim "
                "report replaces its whole folder)")


def _month_x(months: pd.PeriodIndex) -> np.ndarray:
    return months.to_timestamp(how="start").to_numpy()


def _shade(ax, result: ClaimResult) -> None:
    s = result.series
    start = s.start.to_timestamp(how="start")
    end = (s.end + 1).to_timestamp(how="start")
    ax.axvspan(start, end, color="tab:orange", alpha=0.15, label="claimed period")


def plot_series(result: ClaimResult, path: Path) -> None:
    """Treated counts, the controls' mean scaled to the treated pre-period level, and the
    ITS counterfactual, with the claimed period shaded."""
    s = result.series
    x = _month_x(s.months)
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(x, s.treated, color="black", lw=1.6, marker="o", ms=3, label="treated area")
    if s.n_controls:
        mean = s.controls.mean(axis=1)
        scale = s.treated[s.pre].mean() / max(mean[s.pre].mean(), 1e-9)
        ax.plot(x, mean * scale, color="tab:blue", lw=1.2,
                label=f"controls' mean ({s.n_controls} units, scaled to the treated level)")
    its = result.details.get("its")
    if its is not None and "counterfactual" in its.extra:
        ax.plot(x, its.extra["counterfactual"], color="tab:red", ls="--", lw=1.2,
                label="ITS counterfactual (trend + season)")
    _shade(ax, result)
    ax.set_ylabel("events per month")
    ax.set_title("Treated area vs controls")
    ax.legend(fontsize=8, loc="best")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_synth(result: ClaimResult, path: Path) -> None:
    """Treated counts and their synthetic control (or a note that there is none)."""
    s = result.series
    fig, ax = plt.subplots(figsize=(9, 4))
    synth = result.details.get("synthetic_control")
    if synth is not None and "synthetic" in synth.extra:
        x = _month_x(s.months)
        ax.plot(x, s.treated, color="black", lw=1.6, marker="o", ms=3, label="treated area")
        ax.plot(x, synth.extra["synthetic"], color="tab:green", lw=1.4,
                label=f"synthetic control (pre-period RMSPE {synth.extra['rmspe_pre']:.2f})")
        _shade(ax, result)
        ax.legend(fontsize=8)
        fig.autofmt_xdate()
    else:
        note = synth.note if synth is not None else "not estimated"
        ax.text(0.5, 0.5, f"synthetic control: {note}", ha="center", va="center", wrap=True)
        ax.set_axis_off()
    ax.set_ylabel("events per month")
    ax.set_title("Synthetic control fit")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_placebo(result: ClaimResult, path: Path) -> None:
    """Placebo distributions (in time, in space) with the observed estimate marked."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    panels = [("placebo_time", "placebo_log_rr", "ITS at fake start dates (in time)"),
              ("synthetic_control", "placebo_log_rr", "control units as pseudo-treated (space)")]
    for ax, (method, key, title) in zip(axes, panels, strict=True):
        e = result.details.get(method)
        ax.set_title(title, fontsize=10)
        if e is None or key not in e.extra or len(e.extra[key]) == 0:
            ax.text(0.5, 0.5, "not estimated", ha="center", va="center")
            ax.set_axis_off()
            continue
        values = np.exp(np.asarray(e.extra[key]))
        ax.hist(values, bins=min(20, max(5, len(values) // 2)), color="tab:gray", alpha=0.8,
                label=f"{len(values)} placebos")
        ax.axvline(e.estimate, color="tab:red", lw=2, label=f"observed {e.estimate:.2f}")
        ax.axvline(1.0, color="black", lw=0.8, ls=":")
        ax.set_xlabel("rate ratio")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def synth_weights(result: ClaimResult) -> dict[str, float]:
    """Synthetic-control weight per kept control (empty when it was not estimated)."""
    synth = result.details.get("synthetic_control")
    weights = synth.extra.get("weights") if synth is not None else None
    ids = result.series.control_ids
    if weights is None or len(weights) != len(ids):
        return {}
    return {str(u): float(w) for u, w in zip(ids, weights, strict=True)}


def plot_controls(result: ClaimResult, path: Path) -> None:
    """The donor pool on a map: treated area, ring, kept and excluded units."""
    s = result.series
    plot_controls_map(s.control_units, s.treated_geometry, s.zone_geometry, path,
                      title=f"Control units ({s.n_controls} kept of {s.n_candidates})")


def _fmt(value: object, digits: int = 3) -> str:
    if isinstance(value, float | np.floating):
        return "" if not np.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def report_markdown(result: ClaimResult) -> str:
    v = result.verdict
    s = result.series
    parts = [
        f"# Claim check: {escape_text(result.claim_text())}", "",
        f"## Verdict: {v.category}", "", f"**{v.headline}**", "",
        *[f"- {r}" for r in v.reasons], "",
        "## Estimates", "",
        "Rate ratios compare the treated area with its counterfactual (0.88 = a 12 % drop); "
        "`did_pretrend` is the treated/control trend ratio per year, `power` the power at "
        "the claimed size, `mde` the minimum detectable rate ratio, `rtm` the pre-start "
        "level over the earlier level, `wdq` the weighted displacement quotient.", "",
        "\n".join(frame_table(result.estimates[ESTIMATE_COLUMNS], digits=3)), "",
        "## Data", "",
        f"- months {s.months[0]}..{s.end}: {s.n_pre} before the start, {s.n_post} in the "
        f"claimed period; treated area {s.treated[s.pre].mean():.1f} events/month before",
        f"- controls: {s.selection_note}",
        "- settings: " + ", ".join(f"{k}={v}" for k, v in result.settings.items()), "",
        "## Plots", "",
        f"![treated vs controls]({PLOTS['series']})", "",
        f"![synthetic control]({PLOTS['synth']})", "",
        f"![placebo distributions]({PLOTS['placebo']})", "",
        "## Control units", "",
        _controls_line(result), "",
        f"![controls map]({PLOTS['controls']})", "",
    ]
    return "\n".join(parts)


def _controls_line(result: ClaimResult) -> str:
    units = result.series.control_units
    if "status" not in units:
        return "controls.csv lists the candidates."
    kept = units.loc[units["status"] == KEPT, "unit"].astype(str).tolist()
    excluded = units.loc[units["status"] != KEPT, "reason"].value_counts()
    why = "; ".join(f"{n} {escape_text(str(r))}" for r, n in excluded.items())
    return (f"Kept ({len(kept)}): {escape_text(', '.join(kept)) or 'none'}. Excluded: "
            f"{why or 'none'}. controls.csv has every candidate with its pre-period mean, "
            "level and trend distance and the reason it was kept or not.")


def report_html(result: ClaimResult) -> str:
    v = result.verdict
    e = html.escape
    rows = "".join(
        "<tr>" + "".join(f"<td>{e(_fmt(val))}</td>" for val in row) + "</tr>"
        for row in result.estimates.itertuples(index=False))
    head = "".join(f"<th>{c}</th>" for c in ESTIMATE_COLUMNS)
    reasons = "".join(f"<li>{e(r)}</li>" for r in v.reasons)
    images = "".join(f'<p><img src="{name}" alt="{key}" style="max-width:100%"></p>'
                     for key, name in PLOTS.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Claim check</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:0.85em}}td,th{{border:1px solid #ccc;padding:3px 6px;
vertical-align:top}}th{{background:#eee}}.verdict{{font-size:1.3em;font-weight:bold}}</style>
</head><body>
<h1>Claim check: {e(result.claim_text())}</h1>
<p class="verdict">Verdict: {e(v.category)}</p>
<p><strong>{e(v.headline)}</strong></p>
<ul>{reasons}</ul>
<h2>Estimates</h2>
<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<h2>Controls</h2><p>{e(result.series.selection_note)}</p>
<h2>Plots</h2>{images}
</body></html>
"""


def write_report(result: ClaimResult, folder: Path) -> dict[str, Path]:
    """Write every report file into ``folder`` (which must exist) and return their paths."""
    folder = Path(folder)
    paths = {
        "estimates": folder / "estimates.csv",
        "verdict": folder / "verdict.md",
        "report_md": folder / "report.md",
        "report_html": folder / "report.html",
        "series": folder / "series.csv",
        "controls": folder / "controls.csv",
    }
    result.estimates[ESTIMATE_COLUMNS].to_csv(paths["estimates"], index=False)
    paths["verdict"].write_text(result.verdict.to_markdown(escape_text(result.claim_text())))
    result.series.to_frame().to_csv(paths["series"], index=False)
    controls_frame(result.series.control_units, synth_weights(result)).to_csv(
        paths["controls"], index=False)
    for key, plot in (("series", plot_series), ("synth", plot_synth),
                      ("placebo", plot_placebo), ("controls", plot_controls)):
        target = folder / PLOTS[key]
        plot(result, target)
        paths[f"plot_{key}"] = target
    paths["report_md"].write_text(report_markdown(result))
    paths["report_html"].write_text(report_html(result))
    return paths
