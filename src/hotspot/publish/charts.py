"""Charts of a backtest record: the numbers behind them, and the PNGs the reports embed.

Three views of how good the forecasts were, per target:

- **score per period** (:func:`period_scores`): each model's top-N box hit rate (or any
  metric of ``metrics.csv``) per held-out period, baselines drawn dashed;
- **hit rate against coverage** (:func:`hit_rate_curves`): for each model and the oracle,
  the share of the period's crimes in the top-ranked cells covering each share of the area,
  averaged over the periods. It is computed from ``predictions.parquet`` and the cells'
  areas with the scoring rules of :mod:`hotspot.evaluation.metrics` (rank by density, ties
  by cell id, the next cell taken in part), so at the backtest's coverages it equals the
  mean ``hit_rate`` and ``oracle_hit_rate`` of ``metrics.csv``;
- **calibration** (:func:`calibration_bins`): cells binned by their expected count, the
  mean observed count per bin against the mean expected, beside the 1:1 line.

Figures are drawn on matplotlib's Agg canvas through ``Figure`` objects, never pyplot, so
no global backend or figure state is touched by a report.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hotspot.core.errors import DataError
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.compare import is_baseline

__all__ = ["COVERAGE_GRID", "ORACLE", "Chart", "backtest_charts", "calibration_bins",
           "calibration_png", "coverage_png", "curves_from_metrics", "hit_rate_curves",
           "model_colors", "period_scores", "scores_png"]

#: Model name of the oracle's rows: cells ranked by what was observed.
ORACLE = "oracle"
#: Area shares the coverage curve is drawn at: 0 to 100 % in steps of 0.5 %.
COVERAGE_GRID = np.round(np.linspace(0.0, 1.0, 201), 6)
DPI = 100
SIZE_IN = (7.5, 4.2)


@dataclass(frozen=True)
class Chart:
    """One rendered chart: ``key`` (file stem), a title, a caption for readers, PNG bytes."""

    key: str
    title: str
    caption: str
    png: bytes


# ------------------------------------------------------------------------ data


def _targets(table: pd.DataFrame) -> pd.DataFrame:
    # a record that predates targets holds one, unnamed
    return table if "target" in table.columns else table.assign(target="all")


def period_scores(metrics: pd.DataFrame, metric: str = "box_hit_rate",
                  coverage: float | None = None) -> pd.DataFrame:
    """``target, model, target_period, value``: one model's ``metric`` per held-out period
    (at ``coverage`` for the per-coverage metrics; box metrics carry their own)."""
    rows = _targets(metrics)
    rows = rows[rows["metric"] == metric]
    if coverage is not None:
        rows = rows[np.isclose(rows["coverage"].astype(float), coverage)]
    table = rows[["target", "model", "target_period", "value"]].astype({"value": float})
    return table.sort_values(["target", "model", "target_period"], kind="stable"
                             ).reset_index(drop=True)


def hit_rate_curves(predictions: pd.DataFrame, cell_area_m2: pd.Series,
                    coverages: Sequence[float] = COVERAGE_GRID) -> pd.DataFrame:
    """``target, model, coverage, hit_rate, n_periods``: mean over the held-out periods of
    the share of crimes in the top-ranked cells covering each ``coverage``; model
    :data:`ORACLE` ranks by the observed counts (the best any ranking could do).

    ``cell_area_m2`` is the area per cell id. Periods without crimes have no hit rate and
    are left out of the mean (as in ``metrics.csv``).
    """
    frame = _targets(predictions)[["target", "model", "target_period", "cell_id", "expected",
                                   "observed"]]
    area = frame["cell_id"].map(cell_area_m2)
    if area.isna().any():
        missing = frame.loc[area.isna(), "cell_id"].iloc[0]
        raise DataError(f"the predictions name cell {missing!r}, which the cell areas lack: "
                        "chart a backtest with the areas of the grid it was scored on")
    frame = frame.assign(area=area.to_numpy(dtype=float))
    # the observed counts are the same for every model: one copy ranks the oracle
    oracle = frame.drop_duplicates(["target", "target_period", "cell_id"]).assign(
        model=ORACLE, expected=lambda f: f["observed"].astype(float))
    frame = pd.concat([frame, oracle], ignore_index=True)
    frame["density"] = frame["expected"].astype(float) / frame["area"]
    frame["tie"] = frame["cell_id"].astype(str)  # ties by cell id as text, as rank_cells
    keys = ["target", "model", "target_period"]
    frame = frame.sort_values([*keys, "density", "tie"],
                              ascending=[True, True, True, False, True], kind="stable")
    grouped = frame.groupby(keys, sort=False)
    frame["area_share"] = grouped["area"].cumsum() / grouped["area"].transform("sum")
    total = grouped["observed"].transform("sum").astype(float)
    frame["hit_share"] = grouped["observed"].cumsum().astype(float) / total.where(total > 0)
    coverages = np.asarray(coverages, dtype=float)
    curves = []
    for (target, model, _), part in frame.groupby(keys, sort=False):
        shares = part["hit_share"].to_numpy()
        if np.isnan(shares).any():  # no crime in the period: no hit rate
            continue
        # the next cell taken in part counts that fraction of its crimes: linear between
        # the cumulative points, so the curve is exactly the metrics' captured share
        x = np.concatenate([[0.0], part["area_share"].to_numpy()])
        y = np.concatenate([[0.0], shares])
        curves.append(pd.DataFrame({"target": target, "model": model, "coverage": coverages,
                                    "hit_rate": np.minimum(np.interp(coverages, x, y), 1.0)}))
    if not curves:
        return pd.DataFrame(columns=["target", "model", "coverage", "hit_rate", "n_periods"])
    table = pd.concat(curves, ignore_index=True)
    return (table.groupby(["target", "model", "coverage"], sort=False)["hit_rate"]
            .agg(hit_rate="mean", n_periods="size").reset_index())


def curves_from_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """The same table as :func:`hit_rate_curves` at the backtest's set coverages only,
    from ``metrics.csv`` (``hit_rate`` per model, ``oracle_hit_rate`` as :data:`ORACLE`):
    for a record saved without the cells' areas."""
    rows = _targets(metrics)
    rows = rows[rows["metric"].isin(["hit_rate", "oracle_hit_rate"]) & rows["value"].notna()]
    # the oracle row at the boxes' share has a coverage no set coverage shares: drop it
    set_coverages = rows.loc[rows["metric"] == "hit_rate", "coverage"].unique()
    rows = rows[rows["coverage"].isin(set_coverages)]
    model = rows["model"].where(rows["metric"] == "hit_rate", ORACLE)
    rows = rows.assign(model=model).drop_duplicates(
        ["target", "model", "target_period", "coverage"])
    table = (rows.groupby(["target", "model", "coverage"], sort=False)["value"]
             .agg(hit_rate="mean", n_periods="size").reset_index())
    return table.sort_values(["target", "model", "coverage"], kind="stable"
                             ).reset_index(drop=True)


def calibration_bins(predictions: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """``target, model, bin, n_cells, mean_expected, mean_observed``: every (period, cell)
    forecast of a model binned by its expected count into ``n_bins`` bins of about equal
    size (equal expected values always share a bin, so there may be fewer), with the
    mean expected and mean observed count of each bin. A calibrated model's bins lie on
    the 1:1 line."""
    frame = _targets(predictions)[["target", "model", "expected", "observed"]].astype(
        {"expected": float, "observed": float})
    if frame.empty:
        return pd.DataFrame(columns=["target", "model", "bin", "n_cells", "mean_expected",
                                     "mean_observed"])
    bins = frame.groupby(["target", "model"], sort=False)["expected"].transform(
        lambda s: pd.qcut(s, n_bins, labels=False, duplicates="drop")
        if s.nunique() > 1 else pd.Series(0, index=s.index))
    frame = frame.assign(bin=bins.astype(int))
    table = (frame.groupby(["target", "model", "bin"], sort=False)
             .agg(n_cells=("expected", "size"), mean_expected=("expected", "mean"),
                  mean_observed=("observed", "mean"))
             .reset_index())
    return table.sort_values(["target", "model", "bin"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------ drawing


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # no timestamp or software tag, so one record always draws the same bytes
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """One colour per model name (sorted), so a model looks the same in every chart."""
    names = sorted({str(m) for m in models} - {ORACLE})
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def _style(name: str, colors: Mapping[str, str] | None) -> dict[str, object]:
    if name == ORACLE:
        return {"color": "black", "linestyle": ":", "linewidth": 2.0}
    style: dict[str, object] = {"linestyle": "--" if is_baseline(name) else "-",
                                "linewidth": 1.6}
    if colors and name in colors:
        style["color"] = colors[name]
    return style


def _legend(ax) -> None:
    ax.legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))


def _new_figure() -> tuple[Figure, object]:
    figure = Figure(figsize=SIZE_IN, layout="constrained")
    return figure, figure.add_subplot()


def scores_png(scores: pd.DataFrame, title: str, ylabel: str,
               colors: Mapping[str, str] | None = None) -> bytes:
    """Lines of one target's :func:`period_scores`: one per model, periods along x."""
    figure, ax = _new_figure()
    periods = sorted(scores["target_period"].astype(str).unique())
    position = {p: i for i, p in enumerate(periods)}
    for name, part in scores.groupby("model", sort=False):
        x = part["target_period"].astype(str).map(position)
        ax.plot(x, part["value"], marker="o", markersize=3, label=name, **_style(str(name), colors))
    ax.set_xticks(range(len(periods)), periods, rotation=45 if len(periods) > 8 else 0,
                  fontsize=8)
    ax.set(title=title, xlabel="held-out period", ylabel=ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    _legend(ax)
    return _png(figure)


def coverage_png(curves: pd.DataFrame, title: str,
                 colors: Mapping[str, str] | None = None) -> bytes:
    """Hit rate against area coverage of one target, a line per model and the oracle."""
    figure, ax = _new_figure()
    ordered = sorted(curves["model"].unique(), key=lambda m: m == ORACLE)  # oracle last
    for name in ordered:
        part = curves[curves["model"] == name]
        many = len(part) > 20
        ax.plot(part["coverage"] * 100, part["hit_rate"], label=name,
                marker=None if many else "o", markersize=3, **_style(str(name), colors))
    ax.plot([0, 100], [0, 1], color="grey", linewidth=0.8, label="random cells")
    ax.set(title=title, xlabel="share of the study area (%)", ylabel="hit rate",
           xlim=(0, 100), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    _legend(ax)
    return _png(figure)


def calibration_png(bins: pd.DataFrame, title: str, unit: str,
                    colors: Mapping[str, str] | None = None) -> bytes:
    """Mean observed against mean expected per bin of one target, a line per model,
    with the 1:1 line."""
    figure, ax = _new_figure()
    for name, part in bins.groupby("model", sort=False):
        ax.plot(part["mean_expected"], part["mean_observed"], marker="o", markersize=4,
                label=name, **_style(str(name), colors))
    top = float(np.nanmax([bins["mean_expected"].max(), bins["mean_observed"].max(), 1e-9]))
    ax.plot([0, top], [0, top], color="grey", linewidth=0.8, label="1:1 (calibrated)")
    ax.set(title=title, xlabel=f"expected {unit} per cell and period (bin mean)",
           ylabel=f"observed {unit} (bin mean)", xlim=(0, top * 1.05), ylim=(0, top * 1.05))
    ax.grid(alpha=0.3)
    _legend(ax)
    return _png(figure)


def backtest_charts(result: BacktestResult, cell_area_m2: pd.Series | None = None, *,
                    n_bins: int = 10) -> list[Chart]:
    """The three charts per target of ``result``: box hit rate per period, hit rate
    against coverage (from the predictions with ``cell_area_m2``, else from the metrics at
    the set coverages), and calibration. Empty for a record without metrics."""
    metrics, predictions = _targets(result.metrics), _targets(result.predictions)
    if metrics.empty:
        return []
    boxes = int(result.settings.get("boxes", 20))
    scores = period_scores(metrics)
    if cell_area_m2 is not None and not predictions.empty:
        curves, where = hit_rate_curves(predictions, cell_area_m2), "every 0.5 % of the area"
    else:
        curves, where = curves_from_metrics(metrics), "the backtest's set coverages"
    bins = calibration_bins(predictions, n_bins) if not predictions.empty else None
    colors = model_colors(metrics["model"].unique())
    charts = []
    for target in dict.fromkeys(metrics["target"]):
        slug = str(target)
        unit = "harm" if slug == "harm" else "crimes"
        part = scores[scores["target"] == target]
        if not part.empty:
            charts.append(Chart(
                f"chart_scores_{slug}", f"{slug}: top-{boxes} box hit rate per period",
                f"Share of each held-out period's {unit} that fell in each model's top "
                f"{boxes} boxes; baselines dashed. Higher is better.",
                scores_png(part, f"{slug}: top-{boxes} box hit rate per period",
                           f"top-{boxes} box hit rate", colors)))
        part = curves[curves["target"] == target]
        if not part.empty:
            charts.append(Chart(
                f"chart_coverage_{slug}", f"{slug}: hit rate against area coverage",
                f"Mean over the periods of the share of {unit} in each model's top-ranked "
                f"cells, at {where}; the dotted oracle ranks cells by what happened (the "
                "ceiling), the grey diagonal is cells picked at random.",
                coverage_png(part, f"{slug}: hit rate against coverage", colors)))
        part = bins[bins["target"] == target] if bins is not None else None
        if part is not None and not part.empty:
            charts.append(Chart(
                f"chart_calibration_{slug}", f"{slug}: observed against expected",
                f"Every cell and period binned by its expected {unit} (about {n_bins} bins of "
                "equal size per model): mean observed against mean expected. On the grey "
                "1:1 line the forecasts are calibrated; above it they under-predict.",
                calibration_png(part, f"{slug}: calibration", unit, colors)))
    return charts
