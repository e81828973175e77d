"""Rolling-origin backtests: refit at each origin, forecast the next period, score it.

Each (target, model) is one work unit scored by :func:`evaluation.parallel.score_unit`, the
same function the distributed grid runs call, so serial and Dask results are identical.

For every held-out target period ``t`` the origin (the fit's cutoff) is ``t - 1``: the
model is fitted on periods up to and including the origin and predicts ``t``. The cut is
made once, in ``BaseForecaster.fit``; here nothing after the origin is passed in either.

One backtest scores one target: the cube's (``cube.attrs["target"]``, ``all`` when absent),
recorded in every table's ``target`` column and in ``settings``. Several targets are
several backtests joined with :meth:`BacktestResult.concat`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xarray as xr

from hotspot.core.atomic import replace_folder, write_text_atomic
from hotspot.core.coverages import DEFAULT_BOXES
from hotspot.core.errors import ConfigError, DataError
from hotspot.core.periods import period_label, period_range, to_period
from hotspot.core.progress import ProgressCallback, no_progress
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.metrics import DEFAULT_COVERAGES, check_boxes
from hotspot.evaluation.parallel import (
    UNIT_METRIC_COLUMNS,
    UNIT_PREDICTION_COLUMNS,
    make_unit,
    run_serial,
    save_tables,
    score_unit,
    to_jsonable,
)
from hotspot.features.cube import check_cube, cube_periods
from hotspot.features.targets import cube_target
from hotspot.models.base import Covariates
from hotspot.models.registry import make_model

#: ``metrics.csv``: one row per model, target, held-out period, metric and coverage.
METRIC_COLUMNS = list(UNIT_METRIC_COLUMNS)
#: ``predictions.parquet``: one row per model, target, held-out period and cell.
PREDICTION_COLUMNS = list(UNIT_PREDICTION_COLUMNS)
#: What a saved backtest folder holds (``covariate_ablation.csv``: an ablation's extra).
BACKTEST_FILES = ("metrics.csv", "summary.csv", "predictions.parquet", "fit_times.csv",
                  "fitted_params.json", "covariate_ablation.csv")


@dataclass(frozen=True)
class BacktestResult:
    """What a backtest found: long metrics, per-cell predictions, summary with CIs."""

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    summary_table: pd.DataFrame
    fit_seconds: pd.DataFrame
    fitted_params: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return self.metrics

    def summary(self, coverage: float = 0.05) -> str:
        """Plain-text table: mean [95 % CI] per model (and target) of the top-N box hit
        rate, hit rate, PAI and PEI at one coverage, log score and deviance."""
        table = self.summary_table
        boxes = self.settings.get("boxes", DEFAULT_BOXES)
        lines = [f"backtest {self.settings.get('first_target')}..{self.settings.get('last_target')}"
                 f" ({self.settings.get('n_targets')} periods), coverage {coverage:.0%}, "
                 f"top {boxes} boxes"]
        targets = list(dict.fromkeys(table["target"])) if "target" in table else [None]
        names = {"box_hit_rate": f"top-{boxes} hit_rate"}
        for target in targets:
            rows = table if target is None else table[table["target"] == target]
            for model in rows["model"].unique():
                parts = []
                for metric in ("box_hit_rate", "hit_rate", "pai", "pei", "log_score",
                               "poisson_deviance"):
                    row = _summary_row(rows, model, metric, coverage)
                    if row is not None:
                        parts.append(f"{names.get(metric, metric)} {row['mean']:.3f} "
                                     f"[{row['ci_low']:.3f}, {row['ci_high']:.3f}]")
                label = model if len(targets) < 2 else f"{model} [{target}]"
                lines.append(f"  {label}: " + "; ".join(parts))
        return "\n".join(lines)

    @classmethod
    def concat(cls, results: Sequence[BacktestResult]) -> BacktestResult:
        """One result holding several (one per target): tables stacked in order; settings
        are the first result's, with ``targets`` listing every target, ``target`` kept only
        when there is one, and ``models`` the union."""
        results = list(results)
        if not results:
            raise ConfigError("nothing to join: give at least one backtest result")
        targets = list(dict.fromkeys(
            t for r in results for t in (r.settings.get("targets")
                                         or [r.settings.get("target", "all")])))
        models = list(dict.fromkeys(m for r in results for m in r.settings.get("models", [])))
        settings = {**results[0].settings, "models": models, "targets": targets}
        if len(targets) == 1:
            settings["target"] = targets[0]
        else:
            settings.pop("target", None)

        def stacked(name: str) -> pd.DataFrame:
            return pd.concat([getattr(r, name) for r in results], ignore_index=True)

        return cls(metrics=stacked("metrics"), predictions=stacked("predictions"),
                   summary_table=stacked("summary_table"), fit_seconds=stacked("fit_seconds"),
                   fitted_params=[p for r in results for p in r.fitted_params],
                   settings=settings)

    def save(self, out_dir: Path | str, extra: Mapping[str, str] | None = None
             ) -> dict[str, Path]:
        """Write ``metrics.csv``, ``summary.csv``, ``predictions.parquet``, ``fit_times.csv``
        and ``fitted_params.json`` (each model's learned parameters and convergence trace
        per origin), plus ``extra`` text files by name, as the folder ``out_dir``: staged
        beside it and swapped in whole, so a killed run never mixes two runs' files."""
        out_dir = Path(out_dir)
        extra = dict(extra or {})
        with replace_folder(out_dir, owned=(*BACKTEST_FILES, *extra)) as staging:
            paths = {
                **save_tables(staging, self.metrics, self.summary_table, self.fit_seconds),
                "fitted_params": write_text_atomic(
                    staging / "fitted_params.json",
                    json.dumps(self.fitted_params, indent=1, default=to_jsonable)),
            }
            pq.write_table(pa.Table.from_pandas(self.predictions, preserve_index=False),
                           staging / "predictions.parquet")
            paths["predictions"] = staging / "predictions.parquet"
            for name, text in extra.items():
                paths[Path(name).stem] = write_text_atomic(staging / name, text)
        return {key: out_dir / path.name for key, path in paths.items()}


def _summary_row(table: pd.DataFrame, model: str, metric: str, coverage: float) -> Any:
    mask = (table["model"] == model) & (table["metric"] == metric)
    if metric in ("hit_rate", "pai", "pei"):  # the others have no set coverage
        mask &= np.isclose(table["coverage"].astype(float), coverage)
    rows = table[mask]
    return None if rows.empty else rows.iloc[0]


def backtest(
    cube: xr.Dataset,
    models: Sequence[str],
    first_target: pd.Period | str,
    last_target: pd.Period | str,
    *,
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    boxes: int = DEFAULT_BOXES,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    events: pd.DataFrame | None = None,
    covariates: Covariates | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of ``models`` over target periods ``first_target..last_target``.

    Parameters
    ----------
    cube
        The counts cube; every target period must be inside it, with at least one period
        of history before the first.
    models
        Registered model names.
    boxes
        How many top-ranked cells the box hit rate and box PAI count.
    model_params
        Keyword parameters per model name, e.g. ``{"naive-mean": {"k": 6}}``.
    events
        Event table for models that need event-level data (cut at each origin by the model
        base class).
    covariates
        Covariate tables by group (``{"weather": frame}``, indexed by period start) for the
        models tagged ``takes_covariates``; the model base class cuts them at each origin
        for the fit, and after the target period for the forecast.
    """
    check_cube(cube)
    freq = cube.attrs["freq"]
    first, last = to_period(first_target, freq), to_period(last_target, freq)
    if first > last:
        raise ConfigError(f"--from {period_label(first)} is after --to {period_label(last)}")
    periods = cube_periods(cube)
    if first <= periods[0] or last > periods[-1]:
        raise DataError(
            f"targets {period_label(first)}..{period_label(last)} need history before them and "
            f"must lie within the cube ({period_label(periods[0])}..{period_label(periods[-1])}):"
            f" choose --from after {period_label(periods[0])} and --to up to "
            f"{period_label(periods[-1])}"
        )
    boxes = check_boxes(boxes)
    model_params = model_params or {}
    for name in models:  # fail on a bad name or parameter before any work
        make_model(name, **model_params.get(name, {}))

    targets = period_range(first, last)
    units = [make_unit(name, target - 1, target, model_params.get(name, {}))
             for target in targets for name in models]
    results = run_serial(
        lambda unit: score_unit(cube, unit, coverages, events, covariates=covariates,
                                boxes=boxes),
        units, progress or no_progress)
    target = cube_target(cube)
    metric_frames = [r.metrics for r in results]
    prediction_frames = [r.predictions for r in results]
    timings = [{"model": r.unit.model, "target": target, "origin": r.unit.origin,
                "seconds": r.seconds} for r in results]
    fitted = [{"model": r.unit.model, "target": target, "origin": r.unit.origin,
               "params": r.params, "fitted": r.fitted} for r in results]

    metrics = pd.concat(metric_frames, ignore_index=True)[METRIC_COLUMNS]
    return BacktestResult(
        metrics=metrics,
        predictions=pd.concat(prediction_frames, ignore_index=True)[PREDICTION_COLUMNS],
        summary_table=summarise(metrics, n_resamples=n_bootstrap, seed=seed),
        fit_seconds=pd.DataFrame(timings),
        fitted_params=fitted,
        settings={"models": list(models), "first_target": period_label(first),
                  "last_target": period_label(last), "n_targets": len(targets),
                  "coverages": list(coverages), "boxes": boxes, "target": target,
                  "targets": [target], "n_bootstrap": n_bootstrap, "seed": seed,
                  "freq": freq},
    )
