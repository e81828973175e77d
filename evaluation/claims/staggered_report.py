"""The staggered-rollout report folder: effects.csv (cohorts and overall),
event_study.csv, controls.csv, the event-study plot, the controls map and report.md/html."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

from hotspot.core.atomic import atomic_path
from hotspot.core.markdown import escape_text, frame_table
from hotspot.evaluation.claims.controls import controls_frame
from hotspot.evaluation.claims.maps import plot_controls_map, plot_event_study
from hotspot.evaluation.claims.report import check_out_folder

if TYPE_CHECKING:
    from hotspot.evaluation.claims.staggered import StaggeredResult

EVENT_COLUMNS = ["months_since_start", "n_treated_units", "estimate", "ci_low", "ci_high",
                 "p_value", "se", "se_robust", "placebo_scale", "n_placebos"]
def report_markdown(result: StaggeredResult) -> str:
    s = result.settings
    kept = int((result.control_units["status"] == "kept").sum())
    effects = result.to_frame()[["group", "units", "n_controls", "estimate", "ci_low",
                                 "ci_high", "p_value"]]
    return "\n".join([
        "# Staggered rollout check", "",
        f"{len(result.rollout)} treated units, {len(effects) - 1} cohorts, "
        f"category {escape_text(str(s.get('category') or 'all'))}, treated to {s.get('end')}.",
        "", "Stacked Poisson difference in differences (Cengiz et al. 2019): one stack per "
        "cohort with never-treated and not-yet-treated controls, unit x stack and month x "
        "stack fixed effects (pyfixest). Intervals: robust standard errors scaled by "
        "placebo-in-space t-statistics. Rate ratios: 0.80 is a 20 % drop.", "",
        "**No verdict.** The stacked DiD is not in the calibration table (its false-positive "
        "rate and coverage on real null rollouts are not measured), so, like every "
        "uncalibrated method, it describes the data and does not back or reject a claim.", "",
        "## Effects by cohort (group = start month) and overall", "",
        "\n".join(frame_table(effects, digits=3)), "",
        "## Event study", "", "![event study](event_study.png)", "",
        "\n".join(frame_table(result.event_study[[
            "months_since_start", "n_treated_units", "estimate", "ci_low", "ci_high"]],
            digits=3)), "",
        "## Controls", "",
        f"{kept} never-treated control units kept from {escape_text(str(s.get('controls_source')))}"
        " (controls.csv lists every candidate and why it was excluded).", "",
        "![controls map](controls_map.png)", "",
        "- settings: " + escape_text(", ".join(f"{k}={v}" for k, v in s.items())), "",
    ])


def report_html(result: StaggeredResult, markdown: str) -> str:
    body = html.escape(markdown)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Staggered "
            f"rollout check</title></head><body><pre>{body}</pre>"
            "<p><img src=\"event_study.png\" alt=\"event study\" style=\"max-width:100%\"></p>"
            "<p><img src=\"controls_map.png\" alt=\"controls map\" style=\"max-width:100%\"></p>"
            "</body></html>\n")


def save_staggered(result: StaggeredResult, out_dir: Path) -> dict[str, Path]:
    """Build the folder under a temporary name and rename it into place."""
    check_out_folder(out_dir)
    names = {"effects": "effects.csv", "event_study": "event_study.csv",
             "controls": "controls.csv", "rollout": "rollout.csv",
             "plot_event_study": "event_study.png", "plot_controls": "controls_map.png",
             "report_md": "report.md", "report_html": "report.html"}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        result.to_frame().to_csv(tmp / names["effects"], index=False)
        result.event_study[EVENT_COLUMNS].to_csv(tmp / names["event_study"], index=False)
        controls_frame(result.control_units).to_csv(tmp / names["controls"], index=False)
        result.rollout.astype(str).replace("NaT", "").to_csv(tmp / names["rollout"],
                                                             index=False)
        overall = float(result.effect("overall")["estimate"])
        plot_event_study(result.event_study, tmp / names["plot_event_study"], overall)
        plot_controls_map(result.control_units, result.treated_geometry,
                          result.zone_geometry, tmp / names["plot_controls"],
                          title="Treated units, ring and never-treated controls")
        markdown = report_markdown(result)
        (tmp / names["report_md"]).write_text(markdown)
        (tmp / names["report_html"]).write_text(report_html(result, markdown))
    return {key: out_dir / name for key, name in names.items()}
