"""Backtest work units: fit one model (with one parameter set) at one origin on one cube,
forecast the target period and score it.

:func:`score_unit` is the only place a backtest fits and scores. The serial
:func:`evaluation.backtest.backtest` loops over units with it; the distributed runs
(:mod:`hotspot.flows.backtest_grid`, :func:`run_units_dask`) send the same units to Dask workers,
which call the same function on the same cube with the same parameters. A unit is
deterministic (models take any seed as a parameter, e.g. ``gbm``'s ``random_state``, and
the parameters travel with the unit), so both paths give identical metrics and
predictions; only the recorded fit times differ. Results are put back in unit order
whatever order workers finish in.

Grid runs (models x parameter sets x cell sizes x origins) can checkpoint each unit's
metrics to ``OUT/units/<key>.parquet`` (atomically): a run killed part-way is resumed by
running it again, and only the missing units are computed. The key is a hash of the unit,
the coverages, the number of boxes and a fingerprint of the cube (its counts, target and
grid), so a changed cube or a different top-N never reuses stale results.

Every table a unit writes carries the cube's target (``cube.attrs["target"]``, ``all``
when absent) right after the model: one unit scores one target.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xarray as xr

from hotspot.core.atomic import atomic_path, write_text_atomic
from hotspot.core.coverages import DEFAULT_BOXES
from hotspot.core.errors import ConfigError, DataError
from hotspot.core.periods import period_label, to_period
from hotspot.core.progress import with_detail
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.metrics import check_boxes, score_forecast
from hotspot.features.cube import cube_periods
from hotspot.features.cube_lazy import open_cube_lazy
from hotspot.features.targets import cube_target
from hotspot.ingest.store import read_events
from hotspot.models.base import Covariates
from hotspot.models.registry import make_model

UNIT_METRIC_COLUMNS = ["model", "target", "origin", "target_period", "metric", "coverage",
                       "value"]
UNIT_PREDICTION_COLUMNS = ["model", "target", "origin", "target_period", "cell_id",
                           "expected", "observed"]
GRID_METRIC_COLUMNS = ["cube", "model", "param_set", *UNIT_METRIC_COLUMNS[1:]]
UNITS_DIR = "units"


@dataclass(frozen=True)
class WorkUnit:
    """One fit-forecast-score: ``model`` with ``params`` fitted up to ``origin``, scored on
    ``target``; ``cube`` names the cube in grid runs (e.g. ``cell=150``) and ``param_set``
    labels the parameters (``""`` for the model's defaults)."""

    model: str
    origin: str
    target: str
    params: tuple[tuple[str, Any], ...] = ()
    cube: str = ""
    param_set: str = ""

    def key(self, cube_fingerprint: str = "", coverages: Sequence[float] = (),
            boxes: int = DEFAULT_BOXES) -> str:
        """A stable file-name-safe id of this unit on a given cube, coverages and boxes."""
        text = json.dumps([asdict(self), cube_fingerprint, [float(c) for c in coverages],
                           int(boxes)], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class UnitResult:
    """What one unit produced: metrics (``UNIT_METRIC_COLUMNS``), per-cell predictions
    (``None`` when not kept), the fit+predict time and the model's parameters."""

    unit: WorkUnit
    metrics: pd.DataFrame
    predictions: pd.DataFrame | None
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    fitted: dict[str, Any] = field(default_factory=dict)


def param_set_label(params: Mapping[str, Any]) -> str:
    """``k=6,decay=0.5`` (sorted), ``""`` for defaults."""
    return ",".join(f"{k}={params[k]}" for k in sorted(params))


def make_unit(model: str, origin: pd.Period | str, target: pd.Period | str,
              params: Mapping[str, Any] | None = None, cube: str = "") -> WorkUnit:
    params = dict(params or {})
    return WorkUnit(model=model, origin=_label(origin), target=_label(target),
                    params=tuple(sorted(params.items())), cube=cube,
                    param_set=param_set_label(params))


def _label(period: pd.Period | str) -> str:
    return period_label(period) if isinstance(period, pd.Period) else str(period)


def score_unit(
    cube: xr.Dataset,
    unit: WorkUnit,
    coverages: Sequence[float],
    events: pd.DataFrame | None = None,
    keep_predictions: bool = True,
    *,
    covariates: Covariates | None = None,
    boxes: int = DEFAULT_BOXES,
) -> UnitResult:
    """Fit ``unit.model`` on ``cube`` up to ``unit.origin``, forecast ``unit.target`` and
    score it against the cube's counts (the cube's target), top-``boxes`` cells included.
    Pure: the same inputs give the same numbers.

    ``covariates`` go to models tagged ``takes_covariates`` (the model base class cuts them
    at the origin for the fit and after the target for the forecast); others get none.
    """
    freq = cube.attrs["freq"]
    periods = cube_periods(cube)
    origin, target = to_period(unit.origin, freq), to_period(unit.target, freq)
    horizon = (target - origin).n
    if horizon < 1:
        raise ConfigError(f"unit target {unit.target} is not after its origin {unit.origin}")
    if target not in periods:
        raise DataError(f"target {unit.target} is not in the cube")
    model = make_model(unit.model, **dict(unit.params))
    given = covariates if model.get_tag("takes_covariates") else None
    started = time.perf_counter()
    model.fit(cube, origin, events=events, covariates=given)
    expected = model.predict(horizon, covariates=given).values[horizon - 1]
    seconds = time.perf_counter() - started
    observed = np.asarray(cube["counts"].isel(time=periods.get_loc(target)).values)
    area_m2 = np.asarray(cube["area_m2"].values)
    cell_ids = np.asarray(cube["cell"].values)
    scored = score_forecast(expected, observed, area_m2, cell_ids, coverages, boxes=boxes)
    target_name = cube_target(cube)
    scored.insert(0, "model", unit.model)
    scored.insert(1, "target", target_name)
    scored.insert(2, "origin", unit.origin)
    scored.insert(3, "target_period", unit.target)
    predictions = None
    if keep_predictions:
        # harm targets are weighted (float) counts: only whole counts become integers
        kept = (observed.astype(np.int64) if np.issubdtype(observed.dtype, np.integer)
                else observed.astype(np.float64))
        predictions = pd.DataFrame({
            "model": unit.model, "target": target_name, "origin": unit.origin,
            "target_period": unit.target, "cell_id": cell_ids, "expected": expected,
            "observed": kept,
        })
    return UnitResult(unit=unit, metrics=scored[UNIT_METRIC_COLUMNS], predictions=predictions,
                      seconds=seconds, params=model.get_params(), fitted=model.fitted_params())


# --------------------------------------------------------------------------- grids


def grid_units(
    cubes: Mapping[str, xr.Dataset | None],
    models: Sequence[str],
    first_target: str,
    last_target: str,
    freq: str,
    param_grid: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> list[WorkUnit]:
    """Every (cube, model, parameter set, target) unit, in that nesting order; the origin
    is the period before each target."""
    first, last = to_period(first_target, freq), to_period(last_target, freq)
    if first > last:
        raise ConfigError(f"--from {period_label(first)} is after --to {period_label(last)}")
    targets = pd.period_range(first, last, freq=first.freq)
    param_grid = param_grid or {}
    unknown = sorted(set(param_grid) - set(models))
    if unknown:
        raise ConfigError(f"--param names model(s) {', '.join(unknown)} not in --models")
    units = []
    for cube_name in cubes:
        for model in models:
            for params in param_grid.get(model) or [{}]:
                make_model(model, **params)  # fail on a bad name or parameter before any work
                units.extend(make_unit(model, t - 1, t, params, cube_name) for t in targets)
    return units


def cube_fingerprint(cube: xr.Dataset) -> str:
    """SHA-256 (16 hex digits) of the cube's counts, cells, times, target and grid
    attributes (two targets with equal counts must not share checkpoints: each unit's
    table is labelled with its target)."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(cube["counts"].values).tobytes())
    digest.update("|".join(map(str, cube["cell"].values)).encode())
    digest.update(np.asarray(cube["time"].values).astype("datetime64[ns]").tobytes())
    for key in ("crs", "cell_size_m", "freq", "area_wkt", "target", "target_weights",
                "grid_offset_m", "merged_squares"):
        digest.update(str(cube.attrs.get(key)).encode())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- checkpoints


class UnitCheckpoints:
    """Each finished unit's metrics in ``OUT/units/<key>.parquet`` (written atomically)."""

    def __init__(self, out_dir: Path | str) -> None:
        self.dir = Path(out_dir) / UNITS_DIR

    def path(self, unit: WorkUnit, fingerprint: str, coverages: Sequence[float],
             boxes: int = DEFAULT_BOXES) -> Path:
        return self.dir / f"{unit.key(fingerprint, coverages, boxes)}.parquet"

    def load(self, unit: WorkUnit, fingerprint: str, coverages: Sequence[float],
             boxes: int = DEFAULT_BOXES) -> UnitResult | None:
        path = self.path(unit, fingerprint, coverages, boxes)
        if not path.exists():
            return None
        try:
            table = pq.read_table(path)
            metrics = table.to_pandas()[UNIT_METRIC_COLUMNS]
        except Exception:  # a damaged (or older-format) checkpoint is recomputed, never trusted
            return None
        meta = json.loads(table.schema.metadata[b"hotspot_unit"])
        return UnitResult(unit=unit, metrics=metrics, predictions=None,
                          seconds=meta["seconds"], params=meta["params"],
                          fitted=meta["fitted"])

    def save(self, result: UnitResult, fingerprint: str, coverages: Sequence[float],
             boxes: int = DEFAULT_BOXES) -> Path:
        path = self.path(result.unit, fingerprint, coverages, boxes)
        meta = {"unit": asdict(result.unit), "seconds": result.seconds,
                "params": result.params, "fitted": result.fitted}
        table = pa.Table.from_pandas(result.metrics, preserve_index=False)
        table = table.replace_schema_metadata({
            **(table.schema.metadata or {}),
            b"hotspot_unit": json.dumps(meta, default=to_jsonable).encode(),
        })
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
        return path


# --------------------------------------------------------------------------- workers


def local_compute():
    """Compute lazy (dask) arrays right here, in this thread: inside a Dask worker the
    default would be the cluster's (asynchronous) client."""
    return dask.config.set(scheduler="synchronous")


@functools.lru_cache(maxsize=4)
def _cube_at(path: str, mtime_ns: int) -> xr.Dataset:
    cube = open_cube_lazy(path)
    # the counts every unit reads are loaded once per worker; category counts stay lazy
    with local_compute():
        return cube.assign(counts=cube["counts"].load())


def cube_at(path: str | Path) -> xr.Dataset:
    """The cube at ``path``, opened once per worker process (cached by path and mtime)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"cube {path} not found")
    return _cube_at(str(path.resolve()), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _events_at(store: str) -> pd.DataFrame:
    return read_events(Path(store))


def score_unit_at(
    cube_path: str,
    unit: WorkUnit,
    coverages: Sequence[float],
    *,
    events_store: str | None = None,
    checkpoint_dir: str | None = None,
    fingerprint: str = "",
    keep_predictions: bool = False,
    boxes: int = DEFAULT_BOXES,
) -> UnitResult:
    """:func:`score_unit` on the cube saved at ``cube_path`` (what a worker runs), with an
    optional checkpoint: a unit already finished is read back, not recomputed."""
    boxes = check_boxes(boxes)
    checkpoints = UnitCheckpoints(checkpoint_dir) if checkpoint_dir else None
    if checkpoints is not None:
        done = checkpoints.load(unit, fingerprint, coverages, boxes)
        if done is not None:
            return done
    events = _events_at(events_store) if events_store else None
    with local_compute():
        result = score_unit(cube_at(cube_path), unit, coverages, events, keep_predictions,
                            boxes=boxes)
    if checkpoints is not None:
        checkpoints.save(result, fingerprint, coverages, boxes)
    return result


def score_units_at(cube_path: str, units: Sequence[WorkUnit], coverages: Sequence[float],
                   **options: Any) -> list[UnitResult]:
    """:func:`score_unit_at` for each of ``units`` on one cube: one Dask task for a batch
    of light units. Grid workers run this module's plain functions: they import only the
    evaluation layer, not the app's (publishing, plotting)."""
    return [score_unit_at(cube_path, unit, coverages, **options) for unit in units]


def run_units_dask(
    client: Any,
    cube_paths: Mapping[str, str],
    units: Sequence[WorkUnit],
    coverages: Sequence[float],
    **options: Any,
) -> list[UnitResult]:
    """Run ``units`` on a ``distributed.Client`` (no Prefect); results in unit order."""
    futures = [
        client.submit(score_unit_at, cube_paths[u.cube], u, tuple(coverages), pure=False,
                      **options)
        for u in units
    ]
    return client.gather(futures)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class GridResult:
    """Metrics of a grid run (one row per cube, model, parameter set, target, metric and
    coverage), their bootstrap summary, and fit times."""

    metrics: pd.DataFrame
    summary_table: pd.DataFrame
    fit_seconds: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: Path | str) -> dict[str, Path]:
        """``metrics.csv``, ``summary.csv``, ``fit_times.csv``, ``settings.json`` in
        ``out_dir``, each atomically."""
        out_dir = Path(out_dir)
        return {**save_tables(out_dir, self.metrics, self.summary_table, self.fit_seconds),
                "settings": write_text_atomic(out_dir / "settings.json",
                                              json.dumps(self.settings, indent=1, default=str))}


def save_tables(out_dir: Path, metrics: pd.DataFrame, summary: pd.DataFrame,
                fit_seconds: pd.DataFrame) -> dict[str, Path]:
    """``metrics.csv``, ``summary.csv`` and ``fit_times.csv`` in ``out_dir``, each
    atomically: the tables every backtest result writes, serial or on a grid."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return {
        "metrics": write_text_atomic(out_dir / "metrics.csv", metrics.to_csv(index=False)),
        "summary": write_text_atomic(out_dir / "summary.csv", summary.to_csv(index=False)),
        "fit_times": write_text_atomic(out_dir / "fit_times.csv",
                                       fit_seconds.to_csv(index=False)),
    }


def assemble_grid(
    results: Sequence[UnitResult],
    *,
    n_bootstrap: int = 2000,
    seed: int = 0,
    settings: Mapping[str, Any] | None = None,
) -> GridResult:
    """Put unit results (in unit order) together and summarise per cube, model and
    parameter set, with the same bootstrap as the serial backtest."""
    frames, timings = [], []
    for r in results:
        frame = r.metrics.copy()
        frame.insert(0, "cube", r.unit.cube)
        frame.insert(2, "param_set", r.unit.param_set)
        frames.append(frame)
        timings.append({"cube": r.unit.cube, "model": r.unit.model,
                        "param_set": r.unit.param_set, "origin": r.unit.origin,
                        "seconds": r.seconds})
    metrics = pd.concat(frames, ignore_index=True)[GRID_METRIC_COLUMNS]
    key = metrics["cube"] + "\x1f" + metrics["model"] + "\x1f" + metrics["param_set"]
    summary = summarise(metrics.assign(model=key), n_resamples=n_bootstrap, seed=seed)
    parts = summary["model"].str.split("\x1f", expand=True)
    summary = summary.drop(columns="model")
    summary.insert(0, "cube", parts[0])
    summary.insert(1, "model", parts[1])
    summary.insert(2, "param_set", parts[2])
    return GridResult(metrics=metrics, summary_table=summary,
                      fit_seconds=pd.DataFrame(timings), settings=dict(settings or {}))


def run_serial(
    score: Callable[[WorkUnit], UnitResult], units: Sequence[WorkUnit],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[UnitResult]:
    """Score ``units`` one after another (the reference the distributed runs must match)."""
    results = []
    for done, unit in enumerate(units):
        if progress is not None:  # before the fit, so the bar names what runs now
            progress(with_detail("backtest", f"{unit.model} -> {unit.target}"), done,
                     len(units))
        results.append(score(unit))
    if progress is not None:
        progress("backtest", len(units), len(units))
    return results


def to_jsonable(value: Any) -> Any:
    """``json.dumps`` default for numpy values; anything else becomes its text."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
