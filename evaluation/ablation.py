"""Covariate ablation: the same models with and without covariate groups, one backtest.

Each model tagged ``takes_covariates`` runs once per variant (``glm[none]``,
``glm[weather]``, ...), the variant's tables passed to its ``fit`` and ``predict``; models
that take none run once. Every variant is scored on the same held-out
periods, and the paired difference of each variant against the model's ``none`` run
(with a bootstrap CI over periods) says whether the covariates helped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from hotspot.core.errors import ConfigError
from hotspot.evaluation.backtest import BacktestResult, backtest
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.compare import paired_differences
from hotspot.models.registry import model_tag


def variant_label(name: str, variant: str) -> str:
    return f"{name}[{variant}]"


@dataclass(frozen=True)
class AblationResult:
    backtest: BacktestResult
    differences: pd.DataFrame

    def save(self, out_dir: Path | str) -> dict[str, Path]:
        # One folder swap for the backtest and its ablation table: never one without the other.
        paths = self.backtest.save(
            out_dir, extra={"covariate_ablation.csv": self.differences.to_csv(index=False)})
        paths["ablation"] = paths.pop("covariate_ablation")
        return paths


def _relabel(frame: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    return frame.assign(model=frame["model"].map(lambda m: labels.get(m, m)))


def _relabel_run(run: BacktestResult, labels: Mapping[str, str]) -> BacktestResult:
    return BacktestResult(
        metrics=_relabel(run.metrics, labels), predictions=_relabel(run.predictions, labels),
        summary_table=_relabel(run.summary_table, labels),
        fit_seconds=_relabel(run.fit_seconds, labels),
        fitted_params=[{**p, "model": labels[p["model"]]} for p in run.fitted_params],
        settings=run.settings)


def check_ablation(models: Sequence[str], variants: Sequence[str]) -> None:
    """Raise ``ConfigError`` when an ablation would compare nothing: every difference is a
    variant against ``none`` of a model that takes covariates."""
    if not [v for v in variants if v != "none"]:
        raise ConfigError("--covariates none alone compares nothing: name the groups to "
                          "compare with none, e.g. --covariates none,weather (or leave "
                          "--covariates out for a plain backtest)")
    if not any(model_tag(m, "takes_covariates") for m in models):
        raise ConfigError(f"--covariates needs a model that takes covariates (e.g. glm, gbm): "
                          f"none of --models {','.join(models)} does")


def covariate_ablation(
    cube: xr.Dataset,
    models: Sequence[str],
    first_target: pd.Period | str,
    last_target: pd.Period | str,
    variants: Mapping[str, Mapping[str, pd.DataFrame] | None],
    *,
    n_bootstrap: int = 2000,
    seed: int = 0,
    model_params: Mapping[str, Mapping[str, Any]] | None = None,
    **backtest_options,
) -> AblationResult:
    """Backtest ``models`` under each covariate variant and compare each with ``none``;
    ``model_params`` go to every run, the variant's tables to ``fit``/``predict``."""
    check_ablation(models, list(variants))
    user_params = dict(model_params or {})
    plain = [m for m in models if not model_tag(m, "takes_covariates")]
    with_covariates = [m for m in models if model_tag(m, "takes_covariates")]
    runs: list[BacktestResult] = []
    if plain:
        runs.append(backtest(cube, plain, first_target, last_target, n_bootstrap=n_bootstrap,
                             seed=seed, model_params=user_params, **backtest_options))
    for variant, tables in variants.items():
        if not with_covariates:
            break
        run = backtest(cube, with_covariates, first_target, last_target,
                       model_params=user_params, covariates=tables, n_bootstrap=n_bootstrap,
                       seed=seed, **backtest_options)
        runs.append(_relabel_run(run, {m: variant_label(m, variant) for m in with_covariates}))
    metrics = pd.concat([r.metrics for r in runs], ignore_index=True)
    combined = BacktestResult(
        metrics=metrics,
        predictions=pd.concat([r.predictions for r in runs], ignore_index=True),
        summary_table=summarise(metrics, n_resamples=n_bootstrap, seed=seed),
        fit_seconds=pd.concat([r.fit_seconds for r in runs], ignore_index=True),
        fitted_params=[p for r in runs for p in r.fitted_params],
        settings={**runs[0].settings, "models": sorted(metrics["model"].unique()),
                  "covariate_variants": list(variants)},
    )
    differences = [
        paired_differences(metrics, variant_label(m, v), variant_label(m, "none"),
                           n_bootstrap=n_bootstrap, seed=seed)
        for m in with_covariates for v in variants if v != "none"
    ]
    return AblationResult(combined, pd.concat(differences, ignore_index=True)
                          if differences else pd.DataFrame())
