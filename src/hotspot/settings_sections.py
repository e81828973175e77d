"""The sections of :class:`hotspot.settings.Settings` (``[hotspot.backtest]``,
``[hotspot.forecast]``, ``[hotspot.nightly.*]``, ``[hotspot.claims]``) and the constants
their defaults and checks use; each validates its own values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hotspot.core.coverages import DEFAULT_BOXES, DEFAULT_COVERAGES
from hotspot.core.errors import ConfigError
from hotspot.models.registry import available_models

BASELINES = ("naive-last", "naive-mean", "naive-longrun", "hotspot-map")
#: ``forecast.model`` value that backtests the candidates and publishes the best.
AUTO = "auto"
#: What ``auto`` backtests by default, simplest first (event models are dropped where the
#: store has months only: see ``hotspot.pipeline.auto_candidates``).
CANDIDATES = ("naive-last", "naive-mean", "naive-longrun", "hotspot-map", "kde", "glm",
              "sepp", "etas-grid")
#: Scores ``auto`` can select on: ``hotspot.evaluation.selection.SCORES`` (a test keeps the
#: two equal; importing it here would load pandas for ``hotspot --help``).
SELECT_SCORES = ("box_hit_rate", "box_pai", "hit_rate", "pai", "pei", "log_score",
                 "poisson_deviance")
#: The scores of ``SELECT_SCORES`` that are read at one coverage.
COVERAGE_SCORES = ("hit_rate", "pai", "pei")
OFFSETS = (1, 2, 4)

def _known_models(names: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [n for n in names if n not in available_models()]
    if unknown:
        raise ValueError(f"unknown model {unknown[0]!r}: choose from "
                         f"{', '.join(available_models())}")
    return names


def split_targets_or_none(value: str) -> list[str]:
    """The target names of a ``target`` setting (``crime,harm`` → two), each stripped,
    duplicates dropped (possibly none)."""
    return list(dict.fromkeys(p.strip() for p in str(value).split(",") if p.strip()))


def split_targets(value: str) -> list[str]:
    """:func:`split_targets_or_none`, with ``ConfigError`` for an empty list."""
    names = split_targets_or_none(value)
    if not names:
        raise ConfigError(f"--target {value!r} names no target: give one or more names, "
                          "e.g. crime or crime,harm")
    return names


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `key = ""` in a TOML file reads as "not set", as a commented-out line would
        return None if isinstance(value, str) and not value.strip() else value


class BacktestSettings(_Section):
    """How backtests are run and summarised, by every command, flow and the nightly pass."""

    baselines: tuple[str, ...] = BASELINES
    #: Newest held-out periods of the recent backtest (forecast report, demo, nightly).
    periods: int = Field(6, ge=1)
    coverages: tuple[float, ...] = DEFAULT_COVERAGES
    n_bootstrap: int = Field(2000, ge=100)
    seed: int = 20150601
    #: N of the top-N box scores (box hit rate, box PAI): the cells a patrol plan covers.
    boxes: int = Field(DEFAULT_BOXES, ge=1)
    #: Grids each backtest is scored on: 1 (as built), 2 or 4 (shifted by half a cell).
    offsets: int = 1

    @field_validator("offsets")
    @classmethod
    def _offsets(cls, value: int) -> int:
        if value not in OFFSETS:
            raise ValueError(f"must be 1, 2 or 4 (grids shifted by half a cell), got {value}")
        return value

    @field_validator("baselines")
    @classmethod
    def _models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _known_models(value)

    @field_validator("coverages")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        # reports, the nightly drift check and the summary tables read the 5 % coverage
        if not value or any(not 0 < c <= 1 for c in value) or 0.05 not in value:
            raise ValueError("coverages must be fractions in (0, 1] that include 0.05, "
                             "e.g. [0.01, 0.05, 0.1]")
        return value


class ForecastSettings(_Section):
    """The published forecast."""

    #: A registered model, or ``auto``: backtest ``candidates`` and publish the best.
    model: str = AUTO
    #: Area share whose top-ranked cells are marked and mapped.
    top_share: float = Field(0.05, gt=0, le=1)
    candidates: tuple[str, ...] = CANDIDATES
    #: The score ``auto`` selects on, and its coverage for hit rate, PAI and PEI.
    select_by: str = "box_hit_rate"
    select_coverage: float | None = Field(None, gt=0, le=1)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return value if value == AUTO else _known_models((value,))[0]

    @field_validator("candidates")
    @classmethod
    def _candidates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name one or more models for auto to choose from")
        return _known_models(value)

    @field_validator("select_by")
    @classmethod
    def _score(cls, value: str) -> str:
        if value not in SELECT_SCORES:
            raise ValueError(f"unknown score {value!r}: choose from {', '.join(SELECT_SCORES)}")
        return value

    @model_validator(mode="after")
    def _coverage_given(self) -> ForecastSettings:
        if self.select_by in COVERAGE_SCORES and self.select_coverage is None:
            raise ValueError(f"select_by = {self.select_by!r} is read at one coverage: set "
                             "forecast.select_coverage too (e.g. 0.05)")
        return self


class ApiSettings(_Section):
    enabled: bool = False
    base_url: str = "https://data.police.uk/api"
    #: Force id naming the API's files and store partitions (e.g. ``city-of-london``), so
    #: a bulk file of the same month later replaces them; default ``api``.
    force: str | None = None
    force_name: str = ""
    include_no_location: bool = False
    timeout_s: float = Field(60.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(2.0, ge=0)
    max_rate_per_s: float = Field(10.0, gt=0)
    max_requests: int = Field(2000, ge=1)
    max_tile_depth: int = Field(6, ge=0, le=12)
    initial_months: int = Field(12, ge=1, le=36)
    max_months_per_run: int = Field(12, ge=1, le=36)
    task_retries: int = Field(2, ge=0, le=10)
    task_retry_delay_s: float = Field(60.0, ge=0)


class SourcesSettings(_Section):
    drop_folder: Path | None = None
    drop_settle_s: float = Field(60.0, ge=0)
    api: ApiSettings = ApiSettings()


class OutputsSettings(_Section):
    runs_dir: Path | None = None
    keep: int = Field(14, ge=1)


class HarmSettings(_Section):
    weights: Path | None = None
    boundaries: Path | None = None
    boundaries_filter: str | None = None
    name_column: str | None = None
    window: int = Field(12, ge=1)
    months: int = Field(12, ge=1)
    top_n: int = Field(10, ge=1)


class HealthSettings(_Section):
    anomaly_history: int = Field(24, ge=3)
    anomaly_min_history: int = Field(6, ge=3)
    anomaly_band: tuple[float, float] = (0.01, 0.99)
    robust_z: float = Field(3.0, gt=0)
    drift_coverage: float = 0.05


class ScheduleSettings(_Section):
    cron: str = "0 2 * * *"
    timezone: str | None = None
    deployment: str = "nightly"


class NightlySettings(_Section):
    """The nightly pass (``hotspot nightly``, ``hotspot serve``; docs/nightly.md)."""

    sources: SourcesSettings = SourcesSettings()
    outputs: OutputsSettings = OutputsSettings()
    harm: HarmSettings = HarmSettings()
    health: HealthSettings = HealthSettings()
    schedule: ScheduleSettings = ScheduleSettings()


class ClaimsSettings(_Section):
    """Claim evaluation (``hotspot evaluate-claim``).

    ``controls``: ``auto`` (the other polygons of the area file, grid blocks if none),
    ``grid`` (blocks of the treated area's size) or a boundary file; ``controls_filter``
    keeps ``COLUMN=VALUE`` polygons; ``controls_store`` counts the controls in a second
    store; ``min_coverage`` is the share of a control's area that must lie inside the
    (controls) store's coverage; ``n_placebo`` and ``seed`` drive a staggered rollout's
    placebo intervals.
    """

    controls: str = "auto"
    controls_filter: str | None = None
    controls_store: Path | None = None
    buffer_m: float = Field(500.0, ge=0)
    n_controls: int = Field(20, ge=1)
    min_unit_events: float = Field(5.0, ge=0)
    min_coverage: float = Field(0.9, gt=0, le=1)
    n_placebo: int = Field(40, ge=2)
    seed: int = 0
