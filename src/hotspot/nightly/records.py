"""The typed records of a nightly run's health (``health.json`` is their ``to_dict``).

``health.json`` keeps the shape it had when these were plain dicts, so runs published
before and after read the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class HealthWarning:
    """One warning of a run: what kind, about which metric or month, and the line shown."""

    kind: str
    message: str
    metric: str | None = None
    month: str | None = None

    def to_dict(self) -> dict[str, Any]:
        about = {key: value for key, value in (("metric", self.metric), ("month", self.month))
                 if value is not None}
        return {"kind": self.kind, **about, "message": self.message}


@dataclass(frozen=True)
class VolumeCheck:
    """A newly ingested month's total against its history (``volume_anomalies``)."""

    month: str
    total: int
    n_history: int
    checked: bool
    anomalous: bool
    note: str | None = None
    method: str | None = None
    mean: float | None = None
    p_low: float | None = None
    p_high: float | None = None
    band: tuple[float, float] | None = None
    robust_z: float | None = None
    outside_band: bool = False

    def to_dict(self) -> dict[str, Any]:
        head = {"month": self.month, "total": self.total, "n_history": self.n_history,
                "checked": self.checked}
        if not self.checked:
            return {**head, "anomalous": self.anomalous, "note": self.note}
        return {**head, "method": self.method, "mean": self.mean, "p_low": self.p_low,
                "p_high": self.p_high, "band": list(self.band or ()),
                "robust_z": self.robust_z, "outside_band": self.outside_band,
                "anomalous": self.anomalous}


@dataclass(frozen=True)
class DriftComparison:
    """The model against the best baseline on one metric, paired by month."""

    metric: str
    label: str
    coverage: float | None
    reference: str
    n_periods: int
    mean_diff: float
    ci_low: float
    ci_high: float
    beats: bool
    significantly_better: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DriftResult:
    """``drift_check``'s finding: the comparisons and the warnings they raise."""

    checked: bool
    comparisons: tuple[DriftComparison, ...] = ()
    warnings: tuple[HealthWarning, ...] = ()
    note: str | None = None

    def beating(self) -> dict[str, bool]:
        """Metric → whether the model beat the best baseline on it."""
        return {c.metric: c.beats for c in self.comparisons}

    def to_dict(self) -> dict[str, Any]:
        head: dict[str, Any] = {"checked": self.checked}
        if self.note is not None:
            head["note"] = self.note
        return {**head, "comparisons": [c.to_dict() for c in self.comparisons],
                "warnings": [w.to_dict() for w in self.warnings]}


@dataclass(frozen=True)
class BacktestRecord:
    """The backtest a run's health rests on: model, span and its summary rows."""

    model: str
    first_target: str
    last_target: str
    n_targets: int
    summary: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Health:
    """A nightly run's health record, written as ``health.json`` by :meth:`to_dict`."""

    run: str
    warnings: tuple[HealthWarning, ...]
    duration_s: float
    rows_ingested: int
    events_ingested: int
    quarantined: int
    quarantined_by_reason: dict[str, int]
    backtest: BacktestRecord
    drift: DriftResult
    harm_hit_rate: list[dict[str, Any]]
    volume: tuple[VolumeCheck, ...]
    new_months: tuple[str, ...] = field(default=())

    @property
    def status(self) -> str:
        return "warning" if self.warnings else "ok"

    @property
    def messages(self) -> list[str]:
        return [w.message for w in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        """The ``health.json`` record (the new months are in the run's ``data`` instead)."""
        return {
            "run": self.run, "status": self.status,
            "warnings": [w.to_dict() for w in self.warnings],
            "duration_s": self.duration_s, "rows_ingested": self.rows_ingested,
            "events_ingested": self.events_ingested, "quarantined": self.quarantined,
            "quarantined_by_reason": self.quarantined_by_reason,
            "backtest": self.backtest.to_dict(), "drift": self.drift.to_dict(),
            "harm_hit_rate": self.harm_hit_rate,
            "volume": [v.to_dict() for v in self.volume],
        }


def previous_beating(health_json: Mapping[str, Any] | None) -> dict[str, bool]:
    """Metric → beats, from a previous run's ``health.json`` (empty when there is none)."""
    if not health_json:
        return {}
    return {entry["metric"]: bool(entry.get("beats"))
            for entry in health_json.get("drift", {}).get("comparisons", [])
            if "metric" in entry}
