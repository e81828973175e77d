"""What one ingest run did: rows read per file, events and quarantined rows per month."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

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


@dataclass(frozen=True)
class InputFile:
    """One input file of an ingest run.

    ``sha256`` is ``None`` for files that were not read; ``note`` says why a file was
    skipped (police.uk outcomes or stop-and-search files, identical copies), with
    ``n_rows`` 0.
    """

    file: str
    sha256: str | None
    n_rows: int
    note: str | None = None


@dataclass(frozen=True)
class RowCount:
    """``n`` rows of ``month`` with one outcome: ``reason`` is :data:`EVENT` for accepted
    rows, else a quarantine reason; ``month`` is ``YYYY-MM`` or ``"invalid"``."""

    month: str
    reason: str
    n: int


@dataclass(frozen=True)
class MonthCounts:
    """One month's rows by outcome (:data:`EVENT` first, then reasons in precedence order)."""

    month: str
    by_outcome: dict[str, int]

    @property
    def total(self) -> int:
        """Rows of the month, events and quarantined."""
        return sum(self.by_outcome.values())


@dataclass(frozen=True)
class IngestReport:
    """The outcome of one ingest run.

    Attributes
    ----------
    store
        The event store written to.
    counts
        Rows per month and outcome, sorted by month then outcome (events first).
    files
        Every input file, read or skipped.
    started_at, finished_at
        UTC times as ISO 8601 text.
    warnings
        What the user must hear about although the run succeeded (a file whose every row
        was quarantined, many unreadable times), one line each.
    """

    store: Path
    counts: tuple[RowCount, ...]
    files: tuple[InputFile, ...]
    started_at: str
    finished_at: str
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        counts = sorted(self.counts, key=lambda c: (c.month, _reason_order(c.reason)))
        object.__setattr__(self, "store", Path(self.store))
        object.__setattr__(self, "counts", tuple(counts))
        object.__setattr__(self, "files", tuple(self.files))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        counted = sum(c.n for c in self.counts)
        if counted != self.n_rows:
            raise ValueError(
                f"ingest report does not add up: {self.n_rows} rows read from the files but "
                f"{counted} counted as events or quarantined"
            )

    @property
    def n_rows(self) -> int:
        """Rows read from all input files."""
        return sum(f.n_rows for f in self.files)

    @property
    def n_events(self) -> int:
        """Rows that became events."""
        return sum(c.n for c in self.counts if c.reason == EVENT)

    @property
    def n_quarantined(self) -> int:
        """Rows quarantined with a reason."""
        return sum(c.n for c in self.counts if c.reason != EVENT)

    @property
    def by_reason(self) -> dict[str, int]:
        """Quarantined rows per reason (over all months), in precedence order."""
        totals: dict[str, int] = {}
        for c in self.counts:
            if c.reason != EVENT:
                totals[c.reason] = totals.get(c.reason, 0) + c.n
        return {r: totals[r] for r in sorted(totals, key=_reason_order)}

    @property
    def outcomes(self) -> list[str]:
        """:data:`EVENT` and every reason seen, in precedence order."""
        return sorted({c.reason for c in self.counts} | {EVENT}, key=_reason_order)

    def by_month(self) -> list[MonthCounts]:
        """Rows per month (sorted) and outcome, every outcome of :attr:`outcomes` present."""
        table: dict[str, dict[str, int]] = {}
        for c in self.counts:
            row = table.setdefault(c.month, dict.fromkeys(self.outcomes, 0))
            row[c.reason] += c.n
        return [MonthCounts(month, table[month]) for month in sorted(table)]

    @property
    def months(self) -> list[str]:
        """Months (``YYYY-MM``) that had at least one row, sorted."""
        return sorted({c.month for c in self.counts} - {INVALID_MONTH})

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
        rows = [{"month": m.month, **m.by_outcome, "total": m.total} for m in self.by_month()]
        frame = pd.DataFrame(rows, columns=["month", *self.outcomes, "total"])
        return frame.astype({c: "int64" for c in frame.columns if c != "month"})

    def summary(self) -> str:
        """A few lines of plain text: rows, events, quarantined by reason, months, files."""
        n_files = sum(f.note is None for f in self.files)
        n_skipped = len(self.files) - n_files
        lines = [
            f"ingested {self.n_rows:,} rows from {n_files} file(s) into {self.store}",
            f"  events:      {self.n_events:,}",
            f"  quarantined: {self.n_quarantined:,}",
        ]
        lines += [f"    {reason}: {n:,}" for reason, n in self.by_reason.items()]
        months = self.months
        if months:
            lines.append(f"  months: {months[0]} .. {months[-1]} ({len(months)})")
        if n_skipped:
            lines.append(f"  skipped files: {n_skipped} (not street-level crime files)")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Everything in the report as plain JSON-able values."""
        return {
            "store": str(self.store),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "n_rows": self.n_rows,
            "n_events": self.n_events,
            "n_quarantined": self.n_quarantined,
            "counts": [asdict(c) for c in self.counts],
            "files": [asdict(f) for f in self.files],
            "warnings": list(self.warnings),
        }

    @classmethod
    def load(cls, path: Path | str) -> IngestReport:
        """Read a report written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        return cls(
            store=Path(data["store"]),
            counts=tuple(RowCount(**{k: c[k] for k in COUNT_COLUMNS}) for c in data["counts"]),
            files=tuple(InputFile(**{k: f.get(k) for k in FILE_COLUMNS}) for f in data["files"]),
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            warnings=tuple(data.get("warnings", ())),
        )

    def to_markdown(self) -> str:
        """The report as a Markdown page: summary, counts per month, files."""
        frame = self.to_frame()
        lines = [f"# Ingest {self.stamp}", "", "```", self.summary(), "```", ""]
        lines += [f"started {self.started_at}, finished {self.finished_at}", ""]
        lines += [f"**warning:** {w}" for w in self.warnings] + ([""] if self.warnings else [])
        lines += _markdown_table(list(frame.columns), frame.itertuples(index=False)) + [""]
        files = ([f.file, f.sha256 or "", f.n_rows, f.note or ""] for f in self.files)
        lines += ["## Files", ""] + _markdown_table(FILE_COLUMNS, files)
        return "\n".join(lines) + "\n"

    def save(self) -> Path:
        """Write ``STORE/reports/ingest-<UTC stamp>.json`` and ``.md``; return the JSON path."""
        path = self.path
        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")
        write_text_atomic(path.with_suffix(".md"), self.to_markdown())
        return path


def _markdown_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    header = "| " + " | ".join(str(c) for c in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return [header, rule, *body]
