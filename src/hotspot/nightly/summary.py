"""What an operator sees of one nightly pass: its outcome, a markdown summary, the top
boxes and links into the run folder.

Plain Python, no Prefect: ``hotspot.flows.nightly`` turns :func:`run_view` into the flow
run's final state (named by :func:`outcome`) and its artifacts. The summary is also
``summary.md`` in the run folder, so the page an operator reads in the Prefect UI and the
file beside the forecast say the same thing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hotspot.core.errors import DataError
from hotspot.core.markdown import escape_text, frame_table
from hotspot.nightly.records import Health

#: Final state names of a nightly flow run (a failure stays Prefect's ``Failed``).
NOTHING_NEW = "Nothing new"
PUBLISHED = "Published"
PUBLISHED_WITH_WARNINGS = "Published with warnings"
OUTCOMES = (NOTHING_NEW, PUBLISHED, PUBLISHED_WITH_WARNINGS)

SUMMARY_MD = "summary.md"
CELLS_CSV = "forecast_cells.csv"
#: Files linked from the summary when the run folder has them, by link name.
LINKED_FILES = {"map": "map.html", "report": "report.html", "report-md": "report.md",
                "patrol": "patrol.pdf"}
_KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def outcome(result: Mapping[str, Any]) -> str:
    """The outcome name of a :func:`~hotspot.nightly.run_nightly` result."""
    if result["status"] == "nothing_new":
        return NOTHING_NEW
    if result["status"] != "published":
        raise DataError(f"nightly result status {result['status']!r}: expected "
                        "'nothing_new' or 'published'")
    return PUBLISHED_WITH_WARNINGS if result.get("warnings") else PUBLISHED


def outcome_message(result: Mapping[str, Any]) -> str:
    """One line for the final state: the pass's message and its warnings, counted."""
    warnings = list(result.get("warnings") or [])
    if not warnings:
        return str(result["message"])
    return (f"{result['message']}; {len(warnings)} warning(s): " + "; ".join(warnings))


def artifact_key(deployment: str, what: str) -> str:
    """``hotspot-<deployment>-<what>`` in the form artifact keys need (lowercase letters,
    digits, dashes), so two deployments (two stores) keep separate artifact histories."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"hotspot-{deployment}-{what}".lower()).strip("-")
    if not _KEY.match(slug):
        raise DataError(f"no artifact key can be made of deployment {deployment!r} and "
                        f"{what!r}: use letters and digits in the deployment name")
    return slug


@dataclass(frozen=True)
class Link:
    """A link into the run folder: artifact key suffix, URL, text."""

    name: str
    url: str
    text: str


@dataclass(frozen=True)
class RunView:
    """One pass as the operator sees it: outcome, message, summary, boxes, links."""

    outcome: str
    message: str
    markdown: str
    boxes: list[dict[str, Any]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)


def warning_lines(health: Health) -> list[str]:
    """Markdown bullets of the run's warnings (or one line saying there are none)."""
    if not health.warnings:
        return ["None: the model beats the best baseline and no month's volume is "
                "anomalous."]
    return [f"- **WARNING ({escape_text(w.kind)})**: {escape_text(w.message)}"
            for w in health.warnings]


def drift_lines(health: Health) -> list[str]:
    """Markdown of the drift check: the model against the best baseline, by metric."""
    drift = health.drift
    if not drift.checked:
        return [f"Drift check: not applicable ({drift.note})."] if drift.note else []
    frame = pd.DataFrame([{
        "metric": c.label, "best baseline": c.reference,
        "mean difference [95 % CI]": f"{c.mean_diff:+.3f} [{c.ci_low:+.3f}, "
                                     f"{c.ci_high:+.3f}]",
        "beats it": "yes" if c.beats else "no"} for c in drift.comparisons])
    return ["### Model against the best baseline (paired by month)", "", *frame_table(frame)]


def summary_markdown(run_name: str, health: Health, data: Mapping[str, Any], *,
                     model: str, target_title: str, backtest_lines: Sequence[str]) -> str:
    """The run's ``summary.md``: outcome, data, warnings, drift check and the backtest
    scores (``backtest_lines``: the report's backtest section)."""
    name = PUBLISHED_WITH_WARNINGS if health.warnings else PUBLISHED
    new = ", ".join(data["new_months"]) or "-"
    lines = [f"# Nightly run {run_name}: {name}", "",
             f"Forecast of **{escape_text(target_title)}** for **{data['target_period']}** "
             f"by **{escape_text(model)}**. Data {data['first_month']}..{data['last_month']} "
             f"({data['n_months']} months); new this run: {new}. Rows ingested "
             f"{health.rows_ingested:,} (events {health.events_ingested:,}, quarantined "
             f"{health.quarantined:,}); {health.duration_s:.1f} s.", "",
             f"## Warnings ({len(health.warnings)})", "", *warning_lines(health), ""]
    drift = drift_lines(health)
    if drift:
        lines += [*drift, ""]
    lines += list(backtest_lines)
    return "\n".join(lines).rstrip() + "\n"


def top_box_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The patrol list of a published run, from its ``forecast_cells.csv``: rank, cell,
    expected, per km², lat, lon and area name of each box, in rank order."""
    path = Path(run_dir) / CELLS_CSV
    if not path.exists():
        raise DataError(f"{path} not found: the run folder has no cell table")
    cells = pd.read_csv(path, dtype={"cell_id": str, "area_name": str},
                        keep_default_na=False, na_values={"expected": [""]})
    missing = {"rank", "cell_id", "expected", "expected_per_km2", "in_boxes", "lat", "lon",
               "area_name"} - set(cells.columns)
    if missing:
        raise DataError(f"{path} lacks column(s) {', '.join(sorted(missing))}")
    boxes = cells[cells["in_boxes"].astype(str).str.lower() == "true"].sort_values("rank")
    return [{"rank": int(row.rank), "cell": str(row.cell_id),
             "expected": round(float(row.expected), 3),
             "per_km2": round(float(row.expected_per_km2), 1),
             "lat": float(row.lat), "lon": float(row.lon), "area": str(row.area_name)}
            for row in boxes.itertuples(index=False)]


def run_links(run_dir: Path) -> list[Link]:
    """``file://`` links to the run folder and the files in it an operator opens."""
    run_dir = Path(run_dir).resolve()
    links = [Link("run-folder", run_dir.as_uri(), f"run folder {run_dir.name}")]
    links += [Link(name, (run_dir / file).as_uri(), f"{file} of {run_dir.name}")
              for name, file in LINKED_FILES.items() if (run_dir / file).exists()]
    return links


def _nothing_new_markdown(result: Mapping[str, Any], latest: str | None,
                          runs_dir: Path | None) -> str:
    lines = [f"# Nightly pass: {NOTHING_NEW}", "", escape_text(result["message"]), ""]
    if result.get("notes"):
        lines += [f"- {escape_text(note)}" for note in result["notes"]] + [""]
    if latest and runs_dir is not None:
        folder = (Path(runs_dir) / latest).resolve()
        lines.append(f"The latest published run is still [{latest}]({folder.as_uri()}).")
    else:
        lines.append("No run has been published yet.")
    return "\n".join(lines) + "\n"


def run_view(result: Mapping[str, Any], *, latest: str | None = None,
             runs_dir: Path | None = None) -> RunView:
    """The operator's view of a ``run_nightly`` result: a published run's summary, boxes
    and links are read from its run folder; nothing new says so and names ``latest``."""
    name, message = outcome(result), outcome_message(result)
    if name == NOTHING_NEW:
        return RunView(name, message, _nothing_new_markdown(result, latest, runs_dir))
    run_dir = Path(result["run_dir"])
    summary = run_dir / SUMMARY_MD
    if not summary.exists():
        raise DataError(f"{summary} not found: the published run has no summary")
    return RunView(name, message, summary.read_text(), top_box_rows(run_dir),
                   run_links(run_dir))
