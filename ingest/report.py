"""What one ingest run did: rows read per file, events and quarantined rows per month."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from hotspot.core.atomic import write_text_atomic
from hotspot.ingest.schema import INVALID_MONTH, REASONS
from hotspot.ingest.store import REPORTS_DIR

#: The ``reason`` of accepted rows in :attr:`IngestReport.counts`.
EVENT = "event"

COUNT_COLUMNS = ["month", "reason", "n"]
FILE_COLUMNS = ["file", "sha256", "n_rows", "note"]


def utc_now() -> str:
    """The current UTC time as ISO 8601 text with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _reason_order(reason: str) -> int:
    if reason == EVENT:
        return -1
    return REASONS.index(reason) if reason in REASONS else len(REASONS)


@dataclass(frozen=True, eq=False)  # frames do not compare with ==
class IngestReport:
    """The outcome of one ingest run.

    Attributes
    ----------
    store
        The event store written to.
    counts
        Long form ``month, reason, n``: ``reason`` is ``"event"`` for accepted rows, else a
        quarantine reason; ``month`` is ``YYYY-MM`` or ``"invalid"`` for unreadable dates.
    files
        ``file, sha256, n_rows, note``: every input file; files that were skipped (police.uk
        outcomes or stop-and-search files) have ``n_rows`` 0 and say why in ``note``.
    started_at, finished_at
        UTC times as ISO 8601 text.
    """

    store: Path
    counts: pd.DataFrame
    files: pd.DataFrame
    started_at: str
    finished_at: str

    def __post_init__(self) -> None:
        counts = self.counts.reindex(columns=COUNT_COLUMNS)
        counts = counts.assign(n=counts["n"].astype("int64"))
        counts = counts.assign(_order=counts["reason"].map(_reason_order))
        counts = counts.sort_values(["month", "_order"], kind="stable").drop(columns="_order")
        files = self.files.reindex(columns=FILE_COLUMNS)
        files = files.assign(n_rows=files["n_rows"].astype("int64"))
        object.__setattr__(self, "store", Path(self.store))
        object.__setattr__(self, "counts", counts.reset_index(drop=True))
        object.__setattr__(self, "files", files.reset_index(drop=True))
        counted = int(self.counts["n"].sum())
        if counted != self.n_rows:
            raise ValueError(
                f"ingest report does not add up: {self.n_rows} rows read from the files but "
                f"{counted} counted as events or quarantined"
            )

    @property
    def n_rows(self) -> int:
        """Rows read from all input files."""
        return int(self.files["n_rows"].to_numpy().sum())

    @property
    def n_events(self) -> int:
        """Rows that became events."""
        return int(self.counts["n"].to_numpy()[self._is_event].sum())

    @property
    def n_quarantined(self) -> int:
        """Rows quarantined with a reason."""
        return int(self.counts["n"].to_numpy()[~self._is_event].sum())

    @property
    def _is_event(self) -> np.ndarray:
        return self.counts["reason"].to_numpy(dtype=object) == EVENT

    @property
    def months(self) -> list[str]:
        """Months (``YYYY-MM``) that had at least one row, sorted."""
        return sorted(set(self.counts["month"]) - {INVALID_MONTH})

    @property
    def stamp(self) -> str:
        """The UTC time the run finished, as used in the report's file names."""
        return datetime.fromisoformat(self.finished_at).astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")

    @property
    def path(self) -> Path:
        """Where :meth:`save` writes the JSON report."""
        return self.store / REPORTS_DIR / f"ingest-{self.stamp}.json"

    def to_frame(self) -> pd.DataFrame:
        """Counts pivoted: one row per month, columns ``event``, each reason seen, ``total``."""
        reasons = sorted(set(self.counts["reason"]) | {EVENT}, key=_reason_order)
        table = self.counts.groupby(["month", "reason"])["n"].sum().unstack(fill_value=0)
        table = table.reindex(columns=reasons, fill_value=0).astype("int64")
        table["total"] = table.sum(axis=1)
        table.columns.name = None
        return table.sort_index().reset_index()

    def summary(self) -> str:
        """A few lines of plain text: rows, events, quarantined by reason, months, files."""
        n_files = int(self.files["note"].isna().sum())
        n_skipped = len(self.files) - n_files
        lines = [
            f"ingested {self.n_rows:,} rows from {n_files} file(s) into {self.store}",
            f"  events:      {self.n_events:,}",
            f"  quarantined: {self.n_quarantined:,}",
        ]
        by_reason = self.counts[self.counts["reason"] != EVENT].groupby("reason")["n"].sum()
        for reason in sorted(by_reason.index, key=_reason_order):
            lines.append(f"    {reason}: {int(by_reason[reason]):,}")
        months = self.months
        if months:
            lines.append(f"  months: {months[0]} .. {months[-1]} ({len(months)})")
        if n_skipped:
            lines.append(f"  skipped files: {n_skipped} (not street-level crime files)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Everything in the report as plain JSON-able values."""
        files = self.files.astype(object).where(self.files.notna(), None)
        return {
            "store": str(self.store),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "n_rows": self.n_rows,
            "n_events": self.n_events,
            "n_quarantined": self.n_quarantined,
            "counts": self.counts.astype(object).to_dict(orient="records"),
            "files": files.to_dict(orient="records"),
        }

    @classmethod
    def load(cls, path: Path | str) -> IngestReport:
        """Read a report written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        return cls(
            store=Path(data["store"]),
            counts=pd.DataFrame(data["counts"], columns=COUNT_COLUMNS),
            files=pd.DataFrame(data["files"], columns=FILE_COLUMNS),
            started_at=data["started_at"],
            finished_at=data["finished_at"],
        )

    def to_markdown(self) -> str:
        """The report as a Markdown page: summary, counts per month, files."""
        frame = self.to_frame()
        lines = [f"# Ingest {self.stamp}", "", "```", self.summary(), "```", ""]
        lines += [f"started {self.started_at}, finished {self.finished_at}", ""]
        lines += _markdown_table(frame) + [""]
        files = self.files.astype(object).where(self.files.notna(), "")
        lines += ["## Files", ""] + _markdown_table(files)
        return "\n".join(lines) + "\n"

    def save(self) -> Path:
        """Write ``STORE/reports/ingest-<UTC stamp>.json`` and ``.md``; return the JSON path."""
        path = self.path
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")
        write_text_atomic(path.with_suffix(".md"), self.to_markdown())
        return path


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *body]
