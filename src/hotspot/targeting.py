"""What the pipeline forecasts and which model publishes it: targets, ``auto``, records.

Plain helpers under :mod:`hotspot.pipeline`, which orders them:

- :func:`target_cube` resolves a target name against a cube's own categories (the one
  place names are checked: one line listing the valid ones) and applies it;
- :func:`auto_candidates` and :func:`select_from_record` are ``forecast --model auto``:
  the candidates a store's data can fit, and the winner of their backtest record;
- :class:`BacktestRun` is a backtest result with what the app adds to its folder
  (``settings.json``, ``report.md`` and ``report.html`` with charts, ``cell_areas.csv``
  and, with ``--offsets``, ``offsets.csv`` and ``offset_spread.csv``);
  :func:`result_for_target` cuts a several-target result down to one.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from hotspot.core.atomic import write_text_atomic
from hotspot.core.errors import ConfigError, DataError
from hotspot.evaluation.backtest import BACKTEST_FILES, BacktestResult
from hotspot.evaluation.compare import comparison_table, oracle_share
from hotspot.evaluation.parallel import to_jsonable
from hotspot.evaluation.selection import Selection, select_model
from hotspot.features.harm import load_harm_weights
from hotspot.features.targets import (
    ALL,
    HARM,
    Target,
    apply_target,
    cube_target,
    resolve_target,
    target_of,
    target_slug,
)
from hotspot.ingest.store import read_store_meta
from hotspot.models.registry import model_tag
from hotspot.settings import Settings

#: What ``auto`` chose and why (``Selection.to_dict``), beside the published forecast.
SELECTION_FILE = "selection.json"
#: A saved backtest's settings (models, periods, coverages, boxes, targets, offsets).
SETTINGS_FILE = "settings.json"
OFFSETS_FILE, SPREAD_FILE = "offsets.csv", "offset_spread.csv"
COMPARISON_FILE, ORACLE_FILE = "comparison.csv", "oracle_share.csv"
#: The saved backtest's report and the cells' areas its coverage chart ranks by.
REPORT_FILE, REPORT_HTML_FILE, CELL_AREA_FILE = "report.md", "report.html", "cell_areas.csv"


# ------------------------------------------------------------------------ targets


def _resolve(name: str, categories: Sequence[str], settings: Settings | None) -> Target:
    """``resolve_target`` with the settings' groups and harm weights (``None``: the shipped
    ones); only a harm target reads the weights table."""
    weights = None
    path = settings.harm_weights_file if settings is not None else None
    if target_slug(name) == HARM and path is not None:
        weights = load_harm_weights(path)
    return resolve_target(name, categories,
                          groups=settings.target_groups if settings is not None else None,
                          harm_weights=weights)


def check_target_names(names: Sequence[str], categories: Sequence[str],
                       settings: Settings | None = None) -> None:
    """Raise the one-line error :func:`target_cube` would for any of ``names``, against
    categories known before a cube exists (e.g. police.uk's, for the demo), so a bad name
    is refused before anything is written."""
    for name in names:
        _resolve(name, categories, settings)


def target_cube(cube: xr.Dataset, name: str, settings: Settings | None = None) -> xr.Dataset:
    """``cube`` with ``counts`` the target ``name``'s, resolved against the cube's own
    categories with the settings' groups and harm weights (``None``: the shipped ones).

    ``ConfigError`` (one line listing the valid names) for an unknown name. A cube without
    categories can only be targeted ``all``.
    """
    categories = ([str(c) for c in cube["category"].values]
                  if "category" in cube.coords and cube.sizes.get("category", 0) else [])
    if not categories and target_slug(name) == ALL:
        return cube
    return apply_target(cube, _resolve(name, categories, settings))


def cube_targets(cube: xr.Dataset, settings: Settings) -> list[str]:
    """The targets a run on ``cube`` forecasts: the settings' when given, else the cube's
    own (``all`` for a cube built without one)."""
    return settings.targets if settings.target_set else [cube_target(cube)]


def one_target(cube: xr.Dataset, settings: Settings, what: str = "a forecast") -> str:
    """The one target of ``cube_targets``; ``ConfigError`` when the settings name several."""
    names = cube_targets(cube, settings)
    if len(names) > 1:
        raise ConfigError(f"{what} takes one target, got --target {settings.target}: "
                          "give one name (backtest takes several)")
    return names[0]


# ------------------------------------------------------------------------ auto


def auto_candidates(store: Path, candidates: Sequence[str]) -> tuple[list[str], list[str]]:
    """The candidates ``auto`` can backtest on ``store``, and a note per model dropped.

    Self-exciting models (tagged ``needs_events``) are dropped when the store's events
    are months only (police.uk): their triggering acts over days, finer than the period,
    so a fit on month stamps says nothing about it.
    """
    names = list(dict.fromkeys(candidates))
    if read_store_meta(Path(store))["time_resolution"] != "month":
        return names, []
    dropped = [n for n in names if model_tag(n, "needs_events")]
    kept = [n for n in names if n not in dropped]
    if not kept:
        raise ConfigError(f"every candidate ({', '.join(names)}) needs event times, but the "
                          "store's events are months only: add models such as naive-mean or "
                          "kde to forecast.candidates")
    notes = [f"{', '.join(dropped)} dropped: they need event times finer than the period, "
             "and the store's events are months only"] if dropped else []
    return kept, notes


def select_from_record(record: BacktestResult, candidates: Sequence[str], settings: Settings,
                       target: str, notes: Sequence[str] = ()) -> Selection:
    """The selection among ``candidates`` on ``record``'s ``target`` rows, by the
    settings' score, coverage, boxes, bootstrap and seed; ``notes`` are kept in it."""
    forecast, section = settings.forecast, settings.backtest
    selection = select_model(record.metrics, list(candidates), score=forecast.select_by,
                             coverage=forecast.select_coverage, target=target,
                             n_bootstrap=section.n_bootstrap, seed=section.seed,
                             boxes=section.boxes)
    return dataclasses.replace(selection, notes=tuple(notes))


def write_selection(selection: Selection, folder: Path) -> Path:
    """``selection.json`` in ``folder``, atomically."""
    return write_text_atomic(Path(folder) / SELECTION_FILE,
                             json.dumps(selection.to_dict(), indent=1) + "\n")


# ------------------------------------------------------------------------ records


@dataclass(frozen=True)
class BacktestRun(BacktestResult):
    """A backtest result (offset (0, 0): the cube's own grid) with, when it was scored on
    several grid offsets, the per-offset means and their spread, and the area in m² of
    each cell of the grid (``cell_area_m2``, by cell id) for the report's charts."""

    offsets: pd.DataFrame | None = None
    offset_spread: pd.DataFrame | None = None
    cell_area_m2: pd.Series | None = None

    @classmethod
    def of(cls, result: BacktestResult, **extra: object) -> BacktestRun:
        """``result`` as a run, with ``extra`` fields (or settings) replaced."""
        base = {f.name: getattr(result, f.name) for f in dataclasses.fields(BacktestResult)}
        return cls(**{**base, **extra})

    def save(self, out_dir: Path | str, extra: Mapping[str, str] | None = None
             ) -> dict[str, Path]:
        """The backtest's files, ``settings.json``, ``comparison.csv`` (each model against
        the best baseline per target and score: paired difference, 95 % CI, ``clear``),
        ``oracle_share.csv``, (with offsets) ``offsets.csv`` and ``offset_spread.csv``,
        ``cell_areas.csv`` (when the areas are known) and ``report.md`` and
        ``report.html`` (the scores tables, and the charts inline), as the folder
        ``out_dir`` (replaced whole)."""
        # publish draws with matplotlib and renders markdown: loaded only when a record
        # is saved, so commands that never save one start without it
        from hotspot.publish.backtest_report import render_backtest_html, render_backtest_report

        comparison = comparison_table(self.metrics,
                                      n_bootstrap=int(self.settings.get("n_bootstrap", 2000)),
                                      seed=int(self.settings.get("seed", 0)))
        files = {SETTINGS_FILE: json.dumps(self.settings, indent=1, default=to_jsonable)
                 + "\n", COMPARISON_FILE: comparison.to_csv(index=False),
                 ORACLE_FILE: oracle_share(self.metrics).to_csv(index=False),
                 **dict(extra or {})}
        if self.offsets is not None and self.offset_spread is not None:
            files[OFFSETS_FILE] = self.offsets.to_csv(index=False)
            files[SPREAD_FILE] = self.offset_spread.to_csv(index=False)
        if self.cell_area_m2 is not None:
            files[CELL_AREA_FILE] = self.cell_area_m2.rename("area_m2").rename_axis(
                "cell_id").reset_index().to_csv(index=False)
        listed = [*BACKTEST_FILES[:-1], *files, REPORT_FILE, REPORT_HTML_FILE]
        report = render_backtest_report(self, files=sorted(set(listed), key=listed.index))
        files[REPORT_FILE] = report
        files[REPORT_HTML_FILE] = render_backtest_html(report, self, self.cell_area_m2)
        paths = super().save(out_dir, extra=files)
        # extras are keyed by file stem, which the two reports share
        paths["report"] = Path(out_dir) / REPORT_FILE
        paths["report_html"] = Path(out_dir) / REPORT_HTML_FILE
        return paths


def result_for_target(result: BacktestResult, target: str) -> BacktestRun:
    """The part of a several-target result that scores ``target`` (every table cut to
    its rows; the settings name that one target)."""
    targets = result.settings.get("targets") or [result.settings.get("target", ALL)]
    if target not in targets:
        raise DataError(f"the backtest scored targets {', '.join(targets)}, not {target!r}")

    def cut(table: pd.DataFrame | None) -> pd.DataFrame | None:
        if table is None or "target" not in table.columns:
            return table
        return table[table["target"] == target].reset_index(drop=True)

    extra = {}
    if isinstance(result, BacktestRun):
        extra = {"offsets": cut(result.offsets), "offset_spread": cut(result.offset_spread),
                 "cell_area_m2": result.cell_area_m2}
    return BacktestRun(
        metrics=cut(result.metrics), predictions=cut(result.predictions),
        summary_table=cut(result.summary_table), fit_seconds=cut(result.fit_seconds),
        fitted_params=[p for p in result.fitted_params if p.get("target", target) == target],
        settings={**result.settings, "target": target, "targets": [target]}, **extra)


def harm_view(cube: xr.Dataset) -> xr.Dataset:
    """The cube cut to its target's categories, for harm rankings of its forecast: the
    harm per crime that turns a forecast into harm is then that of the crimes the target
    counts (for ``harm`` itself it is 1: the forecast already is harm). An untargeted cube
    is returned as it is."""
    target = target_of(cube)
    if target is None or "category_counts" not in cube:
        return cube
    index = {str(c): i for i, c in enumerate(cube["category"].values)}
    return cube.isel(category=[index[c] for c in target.categories])
