"""One nightly pass: find new police.uk months, ingest them, refit, backtest, publish.

The steps, each a plain function the Prefect flow (``flows/nightly.py``) wraps as a task
and ``run_nightly`` calls in order without Prefect:

1. ``detect``: months not yet ingested, from a drop folder (street CSVs or zips whose
   content hash is not the one recorded as ingested) and from the police.uk API (months
   newer than the store's newest). Also "pending": the store changed since the last
   published run (a run that failed after ingest is finished by the next one). Nothing
   new → the pass returns at once and writes nothing.
2. ``fetch_api_month``: one API month → ``STORE/raw/api/YYYY-MM/…-street.csv``.
3. ``ingest_new``: everything new through ``ingest_police_uk`` (the same validation and
   quarantine as any file); the state file records what was ingested.
4. ``rebuild_cube`` (from the store), ``backtest_recent`` (the model and the baselines on
   the newest held-out months), ``publish_run``: forecast files, harm rankings,
   ``health.json`` and ``run.json`` are written into a temporary folder, which is renamed
   to ``RUNS/YYYY-MM-DD`` (``-2``, ``-3`` for later runs the same day); only then does
   the ``latest`` pointer move, old runs beyond ``keep`` are deleted, and the state
   records the published data fingerprint.

State lives in ``STORE/nightly_state.json``; a lock file ``STORE/.nightly.lock`` keeps two
passes (the schedule and a manual run) from overlapping.

Health warnings (logged, in ``health.json`` and the report):

- **drift**: over the backtest's recent held-out months the model does not beat the best
  baseline — on PAI@5 % (mean paired difference ≤ 0) or on Poisson deviance (mean paired
  difference ≥ 0), paired by month (``evaluation.compare``); not checked when the model is
  itself a baseline.
- **volume anomaly**: a newly ingested month's total count (events counted in the study
  area) lies outside the 1st–99th percentile band of a negative binomial fitted by moments
  to the previous (up to) 24 months — Poisson when they are not over-dispersed — or its
  robust z-score ``(x − median) / (1.4826 · MAD)`` exceeds 3. Needs 6 months of history.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from scipy import stats

import hotspot
from hotspot import publish as publishing
from hotspot.core.atomic import write_text_atomic
from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.metrics import DEFAULT_COVERAGES

log = logging.getLogger(__name__)

STATE_FILE = "nightly_state.json"
LOCK_FILE = ".nightly.lock"
LATEST = "latest"
LATEST_TXT = "latest.txt"
RUN_JSON = "run.json"
HEALTH_JSON = "health.json"
HARM_CELLS = "harm_cells.csv"
HARM_WARDS = "harm_wards.csv"
BASELINES = ("naive-last", "naive-mean", "naive-longrun")
_RUN_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<n>\d+))?$")


# =============================================================================== config


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class AreaConfig(_Section):
    file: Path
    filter: str | None = None
    crs: str | None = None


class ApiConfig(_Section):
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


class SourcesConfig(_Section):
    drop_folder: Path | None = None
    drop_settle_s: float = Field(60.0, ge=0)
    api: ApiConfig = ApiConfig()


class OutputsConfig(_Section):
    runs_dir: Path
    keep: int = Field(14, ge=1)


class BacktestConfig(_Section):
    periods: int = Field(6, ge=1)
    baselines: tuple[str, ...] = BASELINES
    coverages: tuple[float, ...] = DEFAULT_COVERAGES
    n_bootstrap: int = Field(1000, ge=100)
    seed: int = 20150601

    @field_validator("coverages")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0 < c <= 1 for c in value) or 0.05 not in value:
            raise ValueError("coverages must be fractions in (0, 1] and include 0.05")
        return value


class HarmConfig(_Section):
    weights: Path | None = None
    boundaries: Path | None = None
    boundaries_filter: str | None = None
    name_column: str | None = None
    window: int = Field(12, ge=1)
    months: int = Field(12, ge=1)
    top_n: int = Field(10, ge=1)


class HealthConfig(_Section):
    anomaly_history: int = Field(24, ge=3)
    anomaly_min_history: int = Field(6, ge=3)
    anomaly_band: tuple[float, float] = (0.01, 0.99)
    robust_z: float = Field(3.0, gt=0)
    drift_coverage: float = 0.05


class ScheduleConfig(_Section):
    cron: str = "0 2 * * *"
    timezone: str | None = None
    deployment: str = "nightly"


class NightlyConfig(_Section):
    """The nightly pass's TOML config; relative paths are relative to the file."""

    store: Path
    area: AreaConfig
    outputs: OutputsConfig
    model: str = "naive-mean"
    model_params: dict[str, Any] = Field(default_factory=dict)
    cell_size_m: float = Field(150.0, gt=0)
    sources: SourcesConfig = SourcesConfig()
    backtest: BacktestConfig = BacktestConfig()
    harm: HarmConfig = HarmConfig()
    health: HealthConfig = HealthConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    config_file: Path | None = None

    def public(self) -> dict:
        """The parameters as plain JSON values (for ``run.json``)."""
        return json.loads(self.model_dump_json())


_PATH_KEYS = {(): ("store",), ("area",): ("file",), ("outputs",): ("runs_dir",),
              ("sources",): ("drop_folder",), ("harm",): ("weights", "boundaries")}


def _resolve_paths(values: dict, base: Path) -> dict:
    for section, keys in _PATH_KEYS.items():
        target = values
        for part in section:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        for key in keys:
            if target.get(key):
                target[key] = str((base / Path(str(target[key])).expanduser()).resolve())
    return values


def load_nightly_config(path: Path | str) -> NightlyConfig:
    """Read and check the nightly TOML config (see ``examples/nightly.toml``)."""
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"nightly config {path} not found: pass an existing TOML file "
                          "(see examples/nightly.toml)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"nightly config {path} is not valid TOML: {exc}") from None
    values = values.get("nightly", values)
    values = _resolve_paths(values, path.resolve().parent)
    values["config_file"] = str(path.resolve())
    try:
        cfg = NightlyConfig(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "config"
        raise ConfigError(f"nightly config {path}: '{where}': {first['msg']}") from None
    import hotspot.models as registry  # registers every model

    for name in (cfg.model, *cfg.backtest.baselines):
        registry.make_model(name, **(cfg.model_params if name == cfg.model else {}))
    if not cfg.sources.drop_folder and not cfg.sources.api.enabled:
        raise ConfigError(f"nightly config {path}: no source: set sources.drop_folder or "
                          "sources.api.enabled = true")
    return cfg


def as_config(config: NightlyConfig | Path | str) -> NightlyConfig:
    return config if isinstance(config, NightlyConfig) else load_nightly_config(config)


# =============================================================================== state


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def read_state(store: Path) -> dict:
    path = Path(store) / STATE_FILE
    state = json.loads(path.read_text()) if path.exists() else {}
    state.setdefault("version", 1)
    state.setdefault("drop_files", {})
    state.setdefault("api_months", {})
    state.setdefault("published", None)
    return state


def write_state(store: Path, state: dict) -> Path:
    return write_text_atomic(Path(store) / STATE_FILE, json.dumps(state, indent=1) + "\n")


@contextlib.contextmanager
def nightly_lock(store: Path) -> Iterator[Path]:
    """Hold ``STORE/.nightly.lock`` for one pass; a lock left by a dead process is taken
    over, one held by a live process raises ``DataError``."""
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    path = store / LOCK_FILE
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(path.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise DataError(f"another nightly pass (pid {pid}) holds {path}: wait for it, "
                                "or delete the file if that process is gone") from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))
        break
    else:
        raise DataError(f"cannot take the nightly lock {path}")
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def store_fingerprint(store: Path) -> dict:
    """Hashes of the store's event files and one hash over them all."""
    from hotspot.ingest.store import EVENTS_DIR

    files = sorted((Path(store) / EVENTS_DIR).glob("month=*/*.parquet"))
    hashes = {str(f.relative_to(store)): hashlib.sha256(f.read_bytes()).hexdigest()
              for f in files}
    overall = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()
    return {"sha256": overall, "files": hashes}


def params_fingerprint(cfg: NightlyConfig) -> str:
    """What, besides the data, changes a published run: model, grid, backtest, harm."""
    weights = cfg.harm.weights
    from hotspot.features.harm import DEFAULT_WEIGHTS_FILE

    weights_file = Path(weights) if weights else DEFAULT_WEIGHTS_FILE
    relevant = {
        "model": cfg.model, "model_params": cfg.model_params, "cell_size_m": cfg.cell_size_m,
        "area": cfg.area.model_dump(mode="json"), "backtest": cfg.backtest.model_dump(mode="json"),
        "harm": cfg.harm.model_dump(mode="json"),
        "weights_sha256": hashlib.sha256(weights_file.read_bytes()).hexdigest()
        if weights_file.exists() else None,
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


# =============================================================================== detect


@dataclass
class Plan:
    """What one pass found to do."""

    drop_due: list[dict] = field(default_factory=list)
    api_months: list[str] = field(default_factory=list)
    api_newest: str | None = None
    store_months: list[str] = field(default_factory=list)
    pending_publish: bool = False
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return not self.drop_due and not self.api_months and not self.pending_publish

    def message(self) -> str:
        if self.nothing_new:
            span = (f"{self.store_months[0]}..{self.store_months[-1]}" if self.store_months
                    else "empty")
            api = f"; API newest {self.api_newest}" if self.api_newest else ""
            return f"nothing new: store months {span}{api}; no new or changed drop files"
        parts = []
        if self.drop_due:
            months = sorted({m for item in self.drop_due for m in item["months"]})
            parts.append(f"{len(self.drop_due)} drop file(s) with month(s) {_span(months)}")
        if self.api_months:
            parts.append(f"API month(s) {', '.join(self.api_months)}")
        if self.pending_publish and not parts:
            parts.append("store changed since the last published run")
        return "new data: " + "; ".join(parts)

    def to_dict(self) -> dict:
        return {"drop_due": self.drop_due, "api_months": self.api_months,
                "api_newest": self.api_newest, "store_months": self.store_months,
                "pending_publish": self.pending_publish, "notes": self.notes,
                "problems": self.problems, "nothing_new": self.nothing_new,
                "message": self.message()}

    @classmethod
    def from_dict(cls, data: dict) -> Plan:
        return cls(drop_due=list(data["drop_due"]), api_months=list(data["api_months"]),
                   api_newest=data.get("api_newest"), store_months=list(data["store_months"]),
                   pending_publish=bool(data["pending_publish"]), notes=list(data["notes"]),
                   problems=list(data.get("problems", [])))


def _span(months: Sequence[str]) -> str:
    months = sorted(months)
    if not months:
        return "-"
    return months[0] if len(months) == 1 else f"{months[0]}..{months[-1]} ({len(months)})"


def _store_months(store: Path) -> tuple[list[str], list[str]]:
    from hotspot.ingest.store import META_FILE, QUARANTINE_DIR, list_months

    if not (Path(store) / META_FILE).exists():
        return [], []
    return list_months(store), list_months(store, QUARANTINE_DIR)


def make_client(cfg: NightlyConfig):
    from hotspot.ingest.police_api import PoliceAPIClient

    api = cfg.sources.api
    return PoliceAPIClient(api.base_url, timeout_s=api.timeout_s, max_retries=api.max_retries,
                           backoff_s=api.backoff_s, max_rate_per_s=api.max_rate_per_s,
                           max_requests=api.max_requests, max_tile_depth=api.max_tile_depth)


def api_months_to_fetch(available: Sequence[str], covered: Sequence[str], initial: int,
                        most: int) -> list[str]:
    """Months the API has that are newer than every covered month (or its newest
    ``initial`` months for an empty store), oldest first, at most ``most``."""
    available = sorted(available)
    if covered:
        newest = max(covered)
        todo = [m for m in available if m > newest]
    else:
        todo = available[-initial:]
    return todo[:most]


def detect(cfg: NightlyConfig, state: dict | None = None,
           logger: logging.Logger | logging.LoggerAdapter | None = None) -> Plan:
    """What is new: due drop files, API months to fetch, or an unpublished store."""
    from hotspot.ingest.drop_folder import due_items, scan_drop_folder

    logger = logger or log
    state = state if state is not None else read_state(cfg.store)
    events_months, quarantine_months = _store_months(cfg.store)
    plan = Plan(store_months=events_months)
    drop_months: set[str] = set()
    if cfg.sources.drop_folder:
        items = scan_drop_folder(cfg.sources.drop_folder, known=state["drop_files"],
                                 settle_s=cfg.sources.drop_settle_s)
        due = due_items(items, state["drop_files"], set(events_months) | set(quarantine_months))
        plan.drop_due = [item.to_dict() for item in due]
        drop_months = {m for item in due for m in item.months}
        plan.notes.append(f"drop folder {cfg.sources.drop_folder}: {len(items)} file(s), "
                          f"{len(due)} new or changed")
    if cfg.sources.api.enabled:
        try:
            with make_client(cfg) as client:
                available = client.available_months()
        except DataError as exc:
            if not plan.drop_due:
                raise
            # the drop folder has new data: publish it, and say loudly what is missing
            logger.warning("police.uk API unavailable, going on with the drop folder: %s", exc)
            plan.problems.append(f"police.uk API unavailable: {exc}")
            available = []
        plan.api_newest = available[-1] if available else None
        covered = sorted(set(events_months) | drop_months | set(state["api_months"]))
        plan.api_months = api_months_to_fetch(available, covered,
                                              cfg.sources.api.initial_months,
                                              cfg.sources.api.max_months_per_run)
        plan.notes.append(f"police.uk API {cfg.sources.api.base_url}: newest month "
                          f"{plan.api_newest}, to fetch: {', '.join(plan.api_months) or 'none'}")
    if events_months and not plan.drop_due and not plan.api_months:
        plan.pending_publish = _published_differs(cfg, state)
    logger.info("nightly detect: %s", plan.message())
    return plan


def _published_differs(cfg: NightlyConfig, state: dict) -> bool:
    published = state.get("published") or {}
    return (published.get("data") != store_fingerprint(cfg.store)["sha256"]
            or published.get("params") != params_fingerprint(cfg))


# =============================================================================== fetch


def area_of(cfg: NightlyConfig):
    from hotspot.core.area import load_area

    return load_area(cfg.area.file, cfg.area.filter, cfg.area.crs)


def fetch_api_month(cfg: NightlyConfig, month: str,
                    logger: logging.Logger | logging.LoggerAdapter | None = None) -> dict:
    """Download one month of the study area from the API into ``STORE/raw/api``."""
    from hotspot.ingest.police_api import download_month

    logger = logger or log
    area = area_of(cfg)
    wgs84 = area.parts.to_crs("EPSG:4326").union_all()
    api = cfg.sources.api
    with make_client(cfg) as client:
        got = download_month(client, wgs84, month, cfg.store, force=api.force,
                             force_name=api.force_name,
                             include_no_location=api.include_no_location)
    logger.info("police.uk API %s: %d records in %d request(s), %d tile(s), %d answered 503",
                month, got.n_records, got.n_requests, got.n_tiles, got.n_too_many)
    return got.to_dict()


# =============================================================================== ingest


def _supersede_api_months(cfg: NightlyConfig, state: dict, drop_due: list[dict]) -> list[str]:
    """Remove API partitions of months a drop file now brings under another source name,
    so the file's rows replace them instead of being flagged as their duplicates."""
    from hotspot.ingest.store import EVENTS_DIR, QUARANTINE_DIR, remove_partition

    removed = []
    for item in drop_due:
        for month in item["months"]:
            fetched = state["api_months"].get(month)
            if not fetched or fetched.get("source") in item["sources"]:
                continue
            for kind in (EVENTS_DIR, QUARANTINE_DIR):
                remove_partition(cfg.store, kind, month, fetched["source"])
            state["api_months"].pop(month)
            removed.append(month)
    return removed


def ingest_new(cfg: NightlyConfig, plan: Plan, downloads: Sequence[dict],
               logger: logging.Logger | logging.LoggerAdapter | None = None) -> dict:
    """Ingest the due drop files and the API downloads in one ``ingest_police_uk`` call and
    record them in the state file. Returns counts and whether the store changed since the
    last published run."""
    from hotspot.ingest.police_uk import force_slug, ingest_police_uk

    logger = logger or log
    state = read_state(cfg.store)
    paths = [Path(item["path"]) for item in plan.drop_due] + [Path(d["path"]) for d in downloads]
    summary: dict[str, Any] = {"n_rows": 0, "n_events": 0, "n_quarantined": 0, "by_reason": {},
                               "months": [], "report": None, "files": [str(p) for p in paths]}
    if paths:
        superseded = _supersede_api_months(cfg, state, plan.drop_due)
        if superseded:
            logger.info("drop files replace API months %s", ", ".join(superseded))
        report = ingest_police_uk(paths, cfg.store, area=area_of(cfg))
        quarantined = report.counts[report.counts["reason"] != "event"]
        summary.update(
            n_rows=report.n_rows, n_events=report.n_events, n_quarantined=report.n_quarantined,
            by_reason={str(k): int(v) for k, v in quarantined.groupby("reason")["n"].sum().items()},
            months=report.months, report=str(report.path),
        )
        now = utc_now()
        for item in plan.drop_due:
            state["drop_files"][item["path"]] = {**item, "ingested_at": now}
        for got in downloads:
            source = force_slug(Path(got["path"]).name)
            state["api_months"][got["month"]] = {**got, "source": source, "ingested_at": now}
        write_state(cfg.store, state)
        logger.info("ingested %d rows: %d events, %d quarantined, months %s", report.n_rows,
                    report.n_events, report.n_quarantined, _span(report.months))
    summary["changed"] = _published_differs(cfg, state)
    return summary


# =============================================================================== refit


def rebuild_cube(cfg: NightlyConfig) -> xr.Dataset:
    """The cube rebuilt from the whole store (only the new months were ingested), saved as
    ``STORE/cube.zarr``; checks the harm weights cover its categories."""
    from hotspot.features.harm import load_harm_weights
    from hotspot.pipeline import cube_from_store, save_store_cube

    cube = cube_from_store(cfg.store, cfg.cell_size_m, "M", area_of(cfg))
    load_harm_weights(cfg.harm.weights).check(cube["category"].values)
    save_store_cube(cube, cfg.store)
    return cube


def _events_if_needed(cfg: NightlyConfig, names: Sequence[str]) -> pd.DataFrame | None:
    from hotspot.ingest.store import read_events
    from hotspot.models.registry import make_model

    if any(make_model(n).needs_events for n in names):
        return read_events(cfg.store)
    return None


def backtest_recent(cfg: NightlyConfig, cube: xr.Dataset):
    """The model and the baselines over the newest ``backtest.periods`` held-out months."""
    from hotspot.evaluation.backtest import backtest
    from hotspot.pipeline import recent_targets

    first, last = recent_targets(cube, cfg.backtest.periods)
    names = list(dict.fromkeys([cfg.model, *cfg.backtest.baselines]))
    return backtest(cube, names, first, last, coverages=cfg.backtest.coverages,
                    model_params={cfg.model: cfg.model_params},
                    events=_events_if_needed(cfg, names), n_bootstrap=cfg.backtest.n_bootstrap,
                    seed=cfg.backtest.seed)


# =============================================================================== health


def volume_anomalies(
    totals: pd.Series,
    months: Sequence[str],
    *,
    history: int = 24,
    min_history: int = 6,
    band: tuple[float, float] = (0.01, 0.99),
    robust_z: float = 3.0,
) -> list[dict]:
    """Check each of ``months`` against the ``history`` months before it in ``totals``
    (index ``YYYY-MM``, total count per month): outside the NB/Poisson percentile band, or
    a robust z-score beyond ``robust_z``, is anomalous."""
    totals = totals.sort_index()
    checks = []
    for month in months:
        if month not in totals.index:
            continue
        before = totals[totals.index < month].iloc[-history:].to_numpy(dtype=float)
        value = float(totals[month])
        row: dict[str, Any] = {"month": month, "total": int(value), "n_history": len(before)}
        if len(before) < min_history:
            checks.append({**row, "checked": False, "anomalous": False,
                           "note": f"fewer than {min_history} months of history"})
            continue
        mean, var = before.mean(), before.var(ddof=1)
        if var > mean > 0:
            r = mean**2 / (var - mean)
            dist, method = stats.nbinom(r, r / (r + mean)), "negative binomial"
        else:
            dist, method = stats.poisson(max(mean, 1e-9)), "poisson"
        low, high = (float(dist.ppf(band[0])), float(dist.ppf(band[1])))
        median = float(np.median(before))
        mad = 1.4826 * float(np.median(np.abs(before - median)))
        z = (value - median) / mad if mad > 0 else (0.0 if value == median else float("inf"))
        outside = value < low or value > high
        checks.append({**row, "checked": True, "method": method, "mean": round(mean, 2),
                       "p_low": low, "p_high": high, "band": list(band),
                       "robust_z": round(z, 2) if np.isfinite(z) else None,
                       "outside_band": outside, "anomalous": bool(outside or abs(z) > robust_z)})
    return checks


def drift_check(record, model: str, *, coverage: float = 0.05, n_bootstrap: int = 1000,
                seed: int = 0, previous: dict | None = None) -> dict:
    """Does ``model`` beat the best baseline over the backtest's months, on PAI at
    ``coverage`` and on Poisson deviance? Paired by month; ``previous`` is the last run's
    result, to say when it *stopped* beating them."""
    from hotspot.evaluation.compare import BASELINE_PREFIX, best_baseline, paired_differences

    if model.startswith(BASELINE_PREFIX):
        return {"checked": False, "note": f"{model} is itself a baseline", "comparisons": [],
                "warnings": []}
    summary = record.summary_table
    others = summary[summary["model"] != model]
    comparisons, warnings = [], []
    for metric, cov in (("pai", coverage), ("poisson_deviance", None)):
        reference = best_baseline(others, metric, cov)
        diffs = paired_differences(record.metrics, model, reference, n_bootstrap, seed)
        rows = diffs[diffs["metric"] == metric]
        if cov is not None:
            rows = rows[np.isclose(rows["coverage"].astype(float), cov)]
        row = rows.iloc[0]
        beats = bool(row["mean_diff"] > 0) if metric == "pai" else bool(row["mean_diff"] < 0)
        label = f"PAI@{cov:.0%}" if cov else "Poisson deviance"
        entry = {"metric": metric, "label": label, "coverage": cov, "reference": reference,
                 "n_periods": int(row["n_periods"]), "mean_diff": float(row["mean_diff"]),
                 "ci_low": float(row["ci_low"]), "ci_high": float(row["ci_high"]),
                 "beats": beats, "significantly_better": bool(row["better"])}
        comparisons.append(entry)
        if not beats:
            was = _previously_beating(previous, metric)
            when = ("stopped beating" if was else "does not beat")
            warnings.append({
                "kind": "drift", "metric": metric,
                "message": f"{model} {when} the best baseline {reference} on {label} over the "
                           f"last {entry['n_periods']} month(s): mean difference "
                           f"{entry['mean_diff']:+.3f} [{entry['ci_low']:+.3f}, "
                           f"{entry['ci_high']:+.3f}]",
            })
    return {"checked": True, "comparisons": comparisons, "warnings": warnings}


def _previously_beating(previous: dict | None, metric: str) -> bool:
    if not previous:
        return False
    for entry in previous.get("drift", {}).get("comparisons", []):
        if entry.get("metric") == metric:
            return bool(entry.get("beats"))
    return False


def harm_hit_rates(record, cube: xr.Dataset, weights) -> pd.DataFrame:
    """Mean harm-weighted hit rate per model and coverage over the backtest months."""
    from hotspot.core.periods import period_label
    from hotspot.evaluation.harm_metrics import backtest_harm_hit_rates
    from hotspot.features.cube import cube_periods
    from hotspot.features.harm import observed_harm

    harm = observed_harm(cube, weights).values
    labels = [period_label(p) for p in cube_periods(cube)]
    by_target = {label: harm[i] for i, label in enumerate(labels)}
    table = backtest_harm_hit_rates(record.predictions, by_target, cube["area_m2"].values,
                                    cube["cell"].values, record.settings["coverages"])
    return table.groupby(["model", "coverage"], sort=False)["value"].mean().reset_index()


# =============================================================================== runs


def list_runs(runs_dir: Path) -> list[str]:
    """Run folder names, oldest first (by date, then the same-day suffix)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        return []
    found = []
    for path in runs_dir.iterdir():
        match = _RUN_NAME.match(path.name)
        if match and path.is_dir() and not path.is_symlink():
            found.append((match["date"], int(match["n"] or 1), path.name))
    return [name for *_, name in sorted(found)]


def next_run_name(runs_dir: Path, day: dt.date) -> str:
    base = day.isoformat()
    if not (Path(runs_dir) / base).exists():
        return base
    n = 2
    while (Path(runs_dir) / f"{base}-{n}").exists():
        n += 1
    return f"{base}-{n}"


def read_latest(runs_dir: Path) -> str | None:
    """The run ``latest`` points to: the symlink's target, else ``latest.txt``."""
    runs_dir = Path(runs_dir)
    link = runs_dir / LATEST
    if link.is_symlink():
        return Path(os.readlink(link)).name
    text = runs_dir / LATEST_TXT
    if text.exists():
        return text.read_text().strip() or None
    return None


def update_latest(runs_dir: Path, name: str) -> None:
    """Point ``latest`` at ``runs_dir/name``: a relative symlink swapped in with
    ``os.replace`` (atomic), and ``latest.txt`` for platforms without symlinks."""
    runs_dir = Path(runs_dir)
    if not (runs_dir / name).is_dir():
        raise DataError(f"run folder {runs_dir / name} does not exist")
    tmp = runs_dir / f".{LATEST}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(name, tmp, target_is_directory=True)
        os.replace(tmp, runs_dir / LATEST)
    except (OSError, NotImplementedError) as exc:
        log.info("no symlink for latest (%s); latest.txt only", exc)
    finally:
        if tmp.is_symlink():
            tmp.unlink()
    write_text_atomic(runs_dir / LATEST_TXT, name + "\n")


def prune_runs(runs_dir: Path, keep: int) -> list[str]:
    """Delete the oldest runs beyond ``keep``, never the one ``latest`` points to."""
    runs = list_runs(runs_dir)
    latest = read_latest(runs_dir)
    doomed = [name for name in runs[:-keep] if name != latest] if keep < len(runs) else []
    for name in doomed:
        shutil.rmtree(Path(runs_dir) / name)
    return doomed


#: Where the code runs from: a git checkout (editable install) names its commit; a wheel
#: in site-packages has none.
_CODE_DIR = Path(__file__).resolve().parent


def code_version() -> dict:
    """The package version and, where available, the git commit of the code."""
    info: dict[str, Any] = {"package": "hotspot", "version": hotspot.__version__,
                            "git_commit": None, "git_dirty": None}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_CODE_DIR, timeout=5,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=_CODE_DIR, timeout=5, capture_output=True, text=True,
                               check=True).stdout.strip()
        info.update(git_commit=commit or None, git_dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        pass
    return info


# =============================================================================== publish


def _boundaries(cfg: NightlyConfig) -> gpd.GeoDataFrame:
    from hotspot.core.area import load_area

    if cfg.harm.boundaries:
        return load_area(cfg.harm.boundaries, cfg.harm.boundaries_filter).parts
    return area_of(cfg).parts


def _md_table(frame: pd.DataFrame) -> list[str]:
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    return [header, rule, *("| " + " | ".join(str(v) for v in row) + " |"
                            for row in frame.itertuples(index=False))]


def _report_section(run_name: str, health: dict, data: dict, cells: pd.DataFrame,
                    wards: pd.DataFrame, weights, top_n: int) -> str:
    lines = ["", f"## Nightly run {run_name}", ""]
    lines.append(f"Data: months {data['first_month']}..{data['last_month']} "
                 f"({data['n_months']}); new this run: {', '.join(data['new_months']) or '-'}. "
                 f"Rows ingested {health['rows_ingested']:,} "
                 f"(events {health['events_ingested']:,}, quarantined "
                 f"{health['quarantined']:,}). Duration {health['duration_s']:.1f} s.")
    lines += ["", "### Warnings", ""]
    if health["warnings"]:
        lines += [f"- **WARNING ({w['kind']})**: {w['message']}" for w in health["warnings"]]
    else:
        lines.append("None: the model beats the best baseline and no month's volume is "
                     "anomalous.")
    drift = health["drift"]
    if drift.get("checked"):
        lines += ["", "### Model against the best baseline (paired by month)", ""]
        frame = pd.DataFrame([{
            "metric": c["label"], "best baseline": c["reference"],
            "mean difference [95 % CI]": f"{c['mean_diff']:+.3f} [{c['ci_low']:+.3f}, "
                                         f"{c['ci_high']:+.3f}]",
            "beats it": "yes" if c["beats"] else "no"} for c in drift["comparisons"]])
        lines += _md_table(frame)
    elif drift.get("note"):
        lines += ["", f"Drift check: not applicable ({drift['note']})."]
    if health["harm_hit_rate"]:
        table = pd.DataFrame(health["harm_hit_rate"])
        wide = table.pivot_table(index="model", columns="coverage", values="value",
                                 sort=False)
        wide.columns = [f"{c:.0%}" for c in wide.columns]
        wide = wide.map(lambda v: f"{v:.3f}").reset_index()
        lines += ["", "### Harm-weighted hit rate (share of next month's harm in the top "
                  "cells), mean over the backtest months", ""] + _md_table(wide)
    top = cells.sort_values("harm_rank").head(top_n)
    frame = pd.DataFrame({
        "harm rank": top["harm_rank"], "count rank": top["count_rank"], "cell": top["cell_id"],
        "expected crimes": top["expected"].map(lambda v: f"{v:.2f}"),
        "harm per crime (days)": top["harm_per_crime"].map(lambda v: f"{v:.1f}"),
        "expected harm (days)": top["expected_harm_days"].map(lambda v: f"{v:.1f}"),
        "per km²": top["expected_harm_per_km2"].map(lambda v: f"{v:,.0f}")})
    lines += ["", f"### Expected harm: top {len(top)} cells", "",
              "Expected harm = expected count × the cell's harm per crime over the last "
              "months (shrunk towards the area's ratio); cells are ranked by expected harm "
              "per km², as the count ranking is by density.", ""] + _md_table(frame)
    if not wards.empty:
        head = wards.head(top_n)
        frame = pd.DataFrame({
            "rank": head["rank"], "place": head["name"], "crimes": head["n_crimes"],
            "harm (days)": head["harm_days"].map(lambda v: f"{v:,.0f}"),
            "share": head["harm_share"].map(lambda v: f"{v:.1%}")})
        lines += ["", f"### Harm by place, {head['first_month'].iloc[0]}.."
                  f"{head['last_month'].iloc[0]}", ""] + _md_table(frame)
    lines += ["", f"> {'APPROXIMATION: ' if weights.approximate else ''}harm weights from "
              f"`{Path(weights.source).name}`. "
              + ("No official mapping from police.uk categories to the Cambridge Crime Harm "
                 "Index exists; these weights are rough and for ranking only."
                 if weights.approximate else "User-supplied weights table."), ""]
    return "\n".join(lines)


def publish_run(
    cfg: NightlyConfig,
    cube: xr.Dataset,
    record,
    *,
    plan: Plan,
    downloads: Sequence[dict],
    ingest: dict,
    started: float,
    started_at: str,
    today: dt.date | None = None,
    flow_run_id: str | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> dict:
    """Fit on everything, publish into a new dated run folder, move ``latest``, prune."""
    from hotspot.core.periods import period_label
    from hotspot.features.cube import cube_periods
    from hotspot.features.harm import (
        APPROXIMATION_NOTE,
        cell_harm,
        load_harm_weights,
        ward_harm_ranking,
    )
    from hotspot.ingest.store import AREA_FILE, read_events, read_store_meta
    from hotspot.models.registry import make_model
    from hotspot.pipeline import OGL_ATTRIBUTION

    logger = logger or log
    runs_dir = Path(cfg.outputs.runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    tmp = runs_dir / f".run-{uuid.uuid4().hex[:8]}.tmp"
    periods = cube_periods(cube)
    labels = [period_label(p) for p in periods]
    try:
        forecast = make_model(cfg.model, **cfg.model_params).fit(
            cube, periods[-1], events=_events_if_needed(cfg, [cfg.model])).predict(1)
        record.save(tmp / "backtest")
        area_file = Path(cfg.store) / AREA_FILE
        attribution = (OGL_ATTRIBUTION if read_store_meta(cfg.store)["time_resolution"] == "month"
                       else None)
        outputs = publishing.publish_forecast(
            forecast, cube, tmp, backtest=record,
            area_parts=gpd.read_file(area_file) if area_file.exists() else None,
            attribution=attribution)

        weights = load_harm_weights(cfg.harm.weights)
        cells = cell_harm(cube, forecast.values[0], weights, window=cfg.harm.window)
        write_text_atomic(tmp / HARM_CELLS, cells.to_csv(index=False))
        events = read_events(cfg.store)
        wards = ward_harm_ranking(events, cube.attrs["crs"], _boundaries(cfg), weights,
                                  name_column=cfg.harm.name_column, months=cfg.harm.months)
        write_text_atomic(tmp / HARM_WARDS, wards.to_csv(index=False))

        previous_name = read_latest(runs_dir)
        previous = None
        if previous_name and (runs_dir / previous_name / HEALTH_JSON).exists():
            previous = json.loads((runs_dir / previous_name / HEALTH_JSON).read_text())
        drift = drift_check(record, cfg.model, coverage=cfg.health.drift_coverage,
                            n_bootstrap=cfg.backtest.n_bootstrap, seed=cfg.backtest.seed,
                            previous=previous)
        totals = pd.Series(cube["counts"].values.sum(axis=1), index=labels)
        published = (read_state(cfg.store).get("published") or {}).get("months") or []
        new_months = sorted((set(ingest.get("months") or []) | (set(labels) - set(published)))
                            & set(labels))
        volume = volume_anomalies(totals, new_months, history=cfg.health.anomaly_history,
                                  min_history=cfg.health.anomaly_min_history,
                                  band=cfg.health.anomaly_band, robust_z=cfg.health.robust_z)
        warnings = [{"kind": "source_unavailable", "message": problem}
                    for problem in plan.problems] + list(drift["warnings"])
        for check in volume:
            if check["anomalous"]:
                warnings.append({"kind": "volume_anomaly", "month": check["month"], "message": (
                    f"{check['month']} has {check['total']} crimes: outside the "
                    f"{check['band'][0]:.0%}-{check['band'][1]:.0%} band "
                    f"[{check['p_low']:.0f}, {check['p_high']:.0f}] of a {check['method']} "
                    f"fit to the previous {check['n_history']} months"
                    if check["outside_band"] else
                    f"{check['month']} has {check['total']} crimes: robust z-score "
                    f"{check['robust_z']} beyond ±{cfg.health.robust_z:g}")})
        for warning in warnings:
            logger.warning("nightly health: %s", warning["message"])
        summary = record.summary_table
        keep = summary["metric"].isin(["pai", "hit_rate", "pei"]) & np.isclose(
            summary["coverage"].astype(float).fillna(-1), cfg.health.drift_coverage)
        keep |= summary["metric"] == "poisson_deviance"
        hit = harm_hit_rates(record, cube, weights)
        run_name = next_run_name(runs_dir, today or dt.date.today())
        health = {
            "run": run_name,
            "status": "warning" if warnings else "ok",
            "warnings": warnings,
            "duration_s": round(time.monotonic() - started, 2),
            "rows_ingested": int(ingest.get("n_rows", 0)),
            "events_ingested": int(ingest.get("n_events", 0)),
            "quarantined": int(ingest.get("n_quarantined", 0)),
            "quarantined_by_reason": ingest.get("by_reason", {}),
            "backtest": {
                "model": cfg.model, "first_target": record.settings["first_target"],
                "last_target": record.settings["last_target"],
                "n_targets": record.settings["n_targets"],
                "summary": json.loads(summary[keep].to_json(orient="records")),
            },
            "drift": drift,
            "harm_hit_rate": json.loads(hit.to_json(orient="records")),
            "volume": volume,
        }
        fingerprint = store_fingerprint(cfg.store)
        data = {
            "first_month": labels[0], "last_month": labels[-1], "n_months": len(labels),
            "new_months": new_months,
            "target_period": period_label(periods[-1] + 1),
            "drop_files": [{k: item[k] for k in ("path", "sha256", "months")}
                           for item in plan.drop_due],
            "api_months": list(downloads),
            "event_files_sha256": fingerprint["files"],
            "store_sha256": fingerprint["sha256"],
            "ingest_report": ingest.get("report"),
        }
        write_text_atomic(tmp / "report.md", (tmp / "report.md").read_text() + _report_section(
            run_name, health, data, cells, wards, weights, cfg.harm.top_n))
        write_text_atomic(tmp / HEALTH_JSON, json.dumps(health, indent=1, default=str) + "\n")
        run = {
            "run": run_name, "status": health["status"], "started_at": started_at,
            "finished_at": utc_now(), "duration_s": health["duration_s"],
            "parameters": cfg.public(), "data": data,
            "ingest": {k: v for k, v in ingest.items() if k != "changed"},
            "forecast": {"model": cfg.model, "target_period": data["target_period"],
                         "files": sorted([p.name for p in outputs.values()]
                                         + [HARM_CELLS, HARM_WARDS, HEALTH_JSON, RUN_JSON])},
            "harm_weights": {**weights.to_dict(), "note": APPROXIMATION_NOTE
                             if weights.approximate else ""},
            "health": health,
            "code": code_version(),
            "prefect": {"flow_run_id": flow_run_id},
        }
        write_text_atomic(tmp / RUN_JSON, json.dumps(run, indent=1, default=str) + "\n")
        os.rename(tmp, runs_dir / run_name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    update_latest(runs_dir, run_name)
    pruned = prune_runs(runs_dir, cfg.outputs.keep)
    state = read_state(cfg.store)
    state["published"] = {"data": fingerprint["sha256"], "params": params_fingerprint(cfg),
                          "run": run_name, "at": utc_now(), "months": labels}
    write_state(cfg.store, state)
    logger.info("published run %s (forecast for %s, %s)%s", run_name, data["target_period"],
                health["status"], f"; pruned {', '.join(pruned)}" if pruned else "")
    return {"status": "published", "run": run_name, "run_dir": str(runs_dir / run_name),
            "target_period": data["target_period"], "new_months": new_months,
            "health": health["status"], "warnings": [w["message"] for w in warnings],
            "pruned": pruned, "message": f"published {run_name}: forecast for "
                                         f"{data['target_period']}"}


# =============================================================================== whole pass


def nothing_new_result(plan: Plan, message: str | None = None) -> dict:
    return {"status": "nothing_new", "run": None, "message": message or plan.message(),
            "notes": plan.notes}


def run_nightly(
    config: NightlyConfig | Path | str,
    *,
    today: dt.date | None = None,
    logger: logging.Logger | logging.LoggerAdapter | None = None,
) -> dict:
    """One nightly pass without Prefect (the flow runs the same steps as tasks)."""
    cfg = as_config(config)
    logger = logger or log
    started, started_at = time.monotonic(), utc_now()
    with nightly_lock(cfg.store):
        plan = detect(cfg, logger=logger)
        if plan.nothing_new:
            return nothing_new_result(plan)
        downloads = [fetch_api_month(cfg, month, logger) for month in plan.api_months]
        ingest = ingest_new(cfg, plan, downloads, logger)
        if not ingest["changed"]:
            return nothing_new_result(plan, "ingested files, but the store's events did not "
                                            "change since the last published run")
        cube = rebuild_cube(cfg)
        record = backtest_recent(cfg, cube)
        return publish_run(cfg, cube, record, plan=plan, downloads=downloads, ingest=ingest,
                           started=started, started_at=started_at, today=today, logger=logger)


__all__ = [
    "NightlyConfig", "Plan", "backtest_recent", "detect", "drift_check",
    "fetch_api_month", "ingest_new", "list_runs", "load_nightly_config", "next_run_name",
    "nightly_lock", "prune_runs", "publish_run", "read_latest", "read_state", "rebuild_cube",
    "run_nightly", "store_fingerprint", "update_latest", "volume_anomalies",
]
