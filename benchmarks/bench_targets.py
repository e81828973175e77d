"""Benchmark tables by crime type on real data: validation periods to choose, test periods once.

    .venv/bin/python benchmarks/bench_targets.py --dataset city --split validation \
        --out benchmarks/results/targets
    .venv/bin/python benchmarks/bench_targets.py --dataset city --split test --offsets 4 \
        --out benchmarks/results/targets

Per data set × target × frequency, under ``OUT/<split>/<dataset>_<target>_<freq>/``:
``metrics.csv`` (the library's contract, the unshifted grid), ``models.csv`` / ``models.md``
(per model: top-20-box hit rate, PAI at 0.5 %, 1 %, 5 %, log score as mean [95 % bootstrap
CI], oracle share of the box hit rate, fit+predict seconds), ``comparison.csv`` (each model
that is not a baseline against the best baseline, ``hotspot-map`` included, and against every
baseline) and, with ``--offsets 4``, ``offsets.csv`` and ``metrics_offsets.csv`` (the same
backtest on the grids shifted by half a cell). ``OUT/<split>_<dataset>.md`` joins the tables.

Data sets (every setting is a module constant below, fixed before the test split was run):

- ``city``: City of London police.uk, monthly, 150 m; targets crime, property, violence,
  harm; validation 2019-07..2020-06, test 2020-07..2020-12.
- ``vancouver``: 2020, break and enter residential/other and theft from vehicle, weekly and
  daily, 150 m; validation Jul–Sep, test Oct–Dec (weeks wholly inside; daily: one day in
  :data:`DAILY_STEP`); rows with withheld locations (X = Y = 0) dropped and counted.
- ``chicago``: aggravated assaults, all police districts, daily; validation 2016-07..09,
  test 2016-10..12 (one day in :data:`CHICAGO_STEP`), history from
  :data:`CHICAGO_HISTORY_START`, cells of :data:`CHICAGO_CELL_M`.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from hotspot.core.area import StudyArea, load_area
from hotspot.core.coverages import DEFAULT_COVERAGES
from hotspot.evaluation.backtest import backtest
from hotspot.evaluation.bootstrap import summarise
from hotspot.evaluation.compare import (
    HIGHER_IS_BETTER,
    comparison_table,
    is_baseline,
    oracle_share,
    paired_differences,
)
from hotspot.evaluation.metrics import box_rows
from hotspot.features.cube import build_cube, cube_periods
from hotspot.features.grid import build_grid, grid_offsets
from hotspot.features.targets import apply_target, resolve_target
from hotspot.ingest.store import read_events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, make_parser, need, write_text
from dev_targets import vancouver_area, vancouver_events

BOXES = 20
N_BOOTSTRAP = 2000
#: The variant label of etas-grid with the smoothed background (one param set per model
#: name per backtest call, so it is a second call, relabelled).
SMOOTHED = "etas-grid:smoothed"
#: Chosen on the validation split: ``OUT/validation/city_crime_M/models.md`` (the smoothed
#: background chose no smoothing there: identical to the cell one) and H's
#: ``benchmarks/results/dev_targets`` (Vancouver weekly break-ins: smoothed best log score).
#: So the smoothed background keeps its bandwidth chosen on the training counts
#: (``background_bandwidth_m=None``), and no bandwidth is fixed for hotspot-map / kde either
#: (both choose on the training data only). Fixed before any test run.
SMOOTHED_PARAMS: dict[str, Any] = {"background": "smoothed"}
#: Daily targets: one day in DAILY_STEP is scored (every fit is a full refit; all of them
#: would not fit the time budget). Chosen before the test run.
DAILY_STEP = 3
#: Chicago: history from here , cells of this size:
#: two years before the test span; set before looking at the test split (150 m gives
#: ~27 000 cells: too slow for daily refits in the time).
CHICAGO_HISTORY_START = "2014-10-01"
#: Chicago daily: one day in CHICAGO_STEP scored (event-level fits on ~30 000 events).
CHICAGO_STEP = 7
CHICAGO_CELL_M = 250.0
CHICAGO_CRS = "EPSG:26916"
CELL_M = 150.0
BASE_MODELS = ["naive-last", "naive-mean", "naive-longrun", "hotspot-map", "kde", "etas-grid"]
BASE_MODELS_SEPP = [*BASE_MODELS, "sepp"]
CITY_MODELS = [*BASE_MODELS, "glm", "sepp"]
CITY_TARGETS = ("crime", "property", "violence", "harm")
VANCOUVER_TYPES = ("Break and Enter Residential/Other", "Theft from Vehicle")
SPLITS = {
    "city": {"validation": ("2019-07-01", "2020-06-30"), "test": ("2020-07-01", "2020-12-31")},
    "vancouver": {"validation": ("2020-07-01", "2020-09-30"), "test": ("2020-10-01", "2020-12-31")},
    "chicago": {"validation": ("2016-07-01", "2016-09-30"), "test": ("2016-10-01", "2016-12-31")},
}
SHOWN_COVERAGES = (0.005, 0.01, 0.05)
COMPARED = (("box_hit_rate", None), ("log_score", None), ("pai", 0.01))


# ---------------------------------------------------------------- data sets


def city_data(data: Path, tmp: Path) -> tuple[pd.DataFrame, StudyArea]:
    """City of London events ingested with the library, and the wards area."""
    from hotspot.ingest.police_uk import ingest_police_uk

    area = load_area(ROOT / "data" / "boundaries" / "city-of-london-wards.gpkg")
    ingest_police_uk([need(data, "police-uk")], tmp / "city", area=area)
    return read_events(tmp / "city"), area


def chicago_data(data: Path) -> tuple[pd.DataFrame, StudyArea, dict]:
    """Chicago aggravated assaults (one category: the target is every row) from
    :data:`CHICAGO_HISTORY_START`, in UTM 16N, and the union of the police districts."""
    districts = gpd.read_file(need(data, "boundaries", "chicago_police_districts.gpkg"),
                              layer="districts").to_crs(CHICAGO_CRS)
    union = districts.union_all()
    area = StudyArea(parts=gpd.GeoDataFrame({"name": ["chicago"]}, geometry=[union],
                                            crs=CHICAGO_CRS), crs=CHICAGO_CRS)
    raw = pd.read_csv(need(data, "chicago", "aggravated-assaults-2010-2016.csv.gz"),
                      usecols=["date", "longitude", "latitude"])
    no_place = raw["longitude"].isna() | raw["latitude"].isna()
    raw = raw.loc[~no_place]
    when = pd.to_datetime(raw["date"])
    raw, when = raw.loc[when >= CHICAGO_HISTORY_START], when[when >= CHICAGO_HISTORY_START]
    x, y = pyproj.Transformer.from_crs("EPSG:4326", CHICAGO_CRS, always_xy=True).transform(
        raw["longitude"].to_numpy(float), raw["latitude"].to_numpy(float))
    events = pd.DataFrame({"event_id": np.arange(len(raw)).astype(str), "time": when.values,
                           "x": x, "y": y, "category": "Aggravated assault",
                           "source": "chicago"})
    events = events.sort_values("time", kind="stable").reset_index(drop=True)
    return events, area, {"rows_without_location_dropped": int(no_place.sum())}


def held_out(cube: Any, split: tuple[str, str], step: int) -> list[pd.Period]:
    """The cube's periods wholly inside ``split`` (every ``step``-th for daily cubes)."""
    start, end = pd.Timestamp(split[0]), pd.Timestamp(split[1]) + pd.Timedelta(days=1)
    periods = [p for p in cube_periods(cube)
               if p.start_time >= start and (p + 1).start_time <= end]
    return periods[::step] if cube.attrs["freq"] == "D" else periods


# ---------------------------------------------------------------- running


def _runs(periods: list[pd.Period]) -> list[tuple[pd.Period, pd.Period]]:
    """Contiguous stretches of ``periods`` as (first, last)."""
    runs: list[tuple[pd.Period, pd.Period]] = []
    for p in periods:
        if runs and runs[-1][1] + 1 == p:
            runs[-1] = (runs[-1][0], p)
        else:
            runs.append((p, p))
    return runs


def run_models(cube: Any, events: pd.DataFrame, periods: list[pd.Period], models: list[str],
               log: Callable[[str], None]) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Backtest every model (and the smoothed etas-grid variant) on ``periods``: metrics,
    fit times, and the models that failed with why (a failure is a finding, not a stop)."""
    calls = [(m, m, {}) for m in models if m != SMOOTHED]
    if "etas-grid" in models or SMOOTHED in models:
        calls.append((SMOOTHED, "etas-grid", SMOOTHED_PARAMS))
    metrics, seconds, failed = [], [], {}
    for label, name, params in calls:
        started = time.perf_counter()
        parts, times = [], []
        try:
            for first, last in _runs(periods):
                result = backtest(cube, [name], first, last, events=events, boxes=BOXES,
                                  n_bootstrap=10, model_params={name: params} if params else None)
                parts.append(result.metrics.assign(model=label))
                times.append(result.fit_seconds.assign(model=label))
        except Exception as exc:  # any model failure is recorded; the run goes on
            failed[label] = f"{type(exc).__name__}: {str(exc)[:200]}"
            log(f"    {label}: FAILED {failed[label]}")
            continue
        metrics += parts
        seconds += times
        log(f"    {label}: {time.perf_counter() - started:.1f} s")
    return pd.concat(metrics, ignore_index=True), pd.concat(seconds, ignore_index=True), failed


# ---------------------------------------------------------------- tables


def _fmt(row: pd.Series | None, digits: int) -> str:
    if row is None or not np.isfinite(row["mean"]):
        return "–"
    if not np.isfinite(row["ci_low"]):
        return f"{row['mean']:.{digits}f}"
    return f"{row['mean']:.{digits}f} [{row['ci_low']:.{digits}f}, {row['ci_high']:.{digits}f}]"


def _pick(summary: pd.DataFrame, model: str, metric: str, coverage: float | None):
    rows = summary[(summary["model"] == model) & (summary["metric"] == metric)]
    if coverage is not None:
        rows = rows[np.isclose(rows["coverage"].astype(float), coverage)]
    return None if rows.empty else rows.iloc[0]


def model_table(metrics: pd.DataFrame, seconds: pd.DataFrame) -> pd.DataFrame:
    """Per model: the scores as mean [CI] text plus the raw means (for the CSV)."""
    summary = summarise(metrics, n_resamples=N_BOOTSTRAP, seed=0)
    share = oracle_share(metrics)
    share = share[share["metric"] == "box_hit_rate"].set_index("model")["share"]
    oracle = oracle_box_mean(metrics)
    rows = []
    for model in dict.fromkeys(metrics["model"]):
        picks = {"box_hit_rate": _pick(summary, model, "box_hit_rate", None),
                 **{f"pai@{c:g}": _pick(summary, model, "pai", c) for c in SHOWN_COVERAGES},
                 "log_score": _pick(summary, model, "log_score", None)}
        secs = seconds.loc[seconds["model"] == model, "seconds"]
        row: dict[str, Any] = {"model": model, "baseline": is_baseline(model)}
        for key, pick in picks.items():
            row[key] = np.nan if pick is None else pick["mean"]
            row[f"{key}_ci"] = _fmt(pick, 3 if key.startswith(("box", "oracle", "log")) else 2)
        row["oracle_box_hit_rate"] = oracle.get(model, np.nan)
        row["oracle_share_box"] = share.get(model, np.nan)
        row["seconds_mean"], row["seconds_max"] = secs.mean(), secs.max()
        rows.append(row)
    return pd.DataFrame(rows)


def comparisons(metrics: pd.DataFrame) -> pd.DataFrame:
    """Best-baseline comparison per model and score, plus whether the model is clear of
    EVERY baseline (paired CI on its better side against each one)."""
    table = comparison_table(metrics, n_bootstrap=N_BOOTSTRAP, seed=0)
    baselines = [m for m in dict.fromkeys(metrics["model"]) if is_baseline(m)]
    keep = np.zeros(len(table), bool)
    for metric, coverage in COMPARED:
        hit = table["metric"] == metric
        if coverage is not None:
            hit &= np.isclose(table["coverage"].astype(float), coverage)
        keep |= hit.to_numpy()
    table = table[keep].reset_index(drop=True)
    every = {}
    for model in table["model"].unique():
        against = [paired_differences(metrics, model, b, N_BOOTSTRAP, 0) for b in baselines]
        joined = pd.concat(against, ignore_index=True)
        for (metric, cov), group in joined.groupby(["metric", joined["coverage"].fillna(-1)]):
            every[(model, metric, cov)] = bool(group["better"].all())
    table["beats_every_baseline"] = [
        every.get((r.model, r.metric, -1 if pd.isna(r.coverage) else r.coverage), False)
        for r in table.itertuples()]
    return table


def comparison_md(table: pd.DataFrame) -> list[str]:
    lines = ["| model | score | best baseline | n | model | baseline | diff [95 % CI] | "
             "beats every baseline |", "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        score = r.metric if pd.isna(r.coverage) else f"{r.metric}@{r.coverage:g}"
        digits = 2 if r.metric == "pai" else 4
        star = " *" if r.clear else ""
        lines.append(f"| {r.model} | {score} | {r.baseline} | {r.n_periods} | "
                     f"{r.model_mean:.{digits}f} | {r.baseline_mean:.{digits}f} | "
                     f"{r.mean_diff:+.{digits}f} [{r.ci_low:+.{digits}f}, {r.ci_high:+.{digits}f}]"
                     f"{star} | {'yes' if r.beats_every_baseline else 'no'} |")
    return lines


def offsets_table(by_offset: dict[tuple[float, float], pd.DataFrame]) -> tuple[pd.DataFrame, dict]:
    """Per model: min/max/spread of the mean box hit rate and log score over the offset
    grids; and the winner (best mean) per grid for each score."""
    means = []
    for offset, metrics in by_offset.items():
        for metric in ("box_hit_rate", "log_score"):
            rows = metrics[metrics["metric"] == metric]
            for model, value in rows.groupby("model", sort=False)["value"].mean().items():
                means.append({"offset": f"{offset[0]:g},{offset[1]:g}", "model": model,
                              "metric": metric, "mean": value})
    frame = pd.DataFrame(means)
    on_all = frame.groupby("model")["offset"].nunique() == len(by_offset)
    frame = frame[frame["model"].isin(on_all[on_all].index)]
    winners = {metric: [str(g.sort_values("mean", ascending=not HIGHER_IS_BETTER[metric])
                            ["model"].iloc[0]) for _, g in frame[frame["metric"] == metric]
                        .groupby("offset", sort=False)]
               for metric in ("box_hit_rate", "log_score")}
    wide = frame.pivot_table(index="model", columns="metric", values="mean",
                             aggfunc=["min", "max"], sort=False)
    out = pd.DataFrame({"model": wide.index})
    for metric in ("box_hit_rate", "log_score"):
        low, high = wide[("min", metric)].to_numpy(), wide[("max", metric)].to_numpy()
        out[f"{metric}_min"], out[f"{metric}_max"], out[f"{metric}_spread"] = low, high, high - low
    return out, winners


def offsets_md(table: pd.DataFrame, winners: dict) -> list[str]:
    lines = ["| model | top-20 hit rate min | max | spread | log score min | max | spread |",
             "|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.box_hit_rate_min:.3f} | {r.box_hit_rate_max:.3f} | "
                     f"{r.box_hit_rate_spread:.3f} | {r.log_score_min:.4f} | "
                     f"{r.log_score_max:.4f} | {r.log_score_spread:.4f} |")
    for metric, names in winners.items():
        flips = "FLIPS" if len(set(names)) > 1 else "does not flip"
        lines.append(f"\nwinner on {metric} per offset grid: {', '.join(names)} ({flips})")
    return lines


def models_md(table: pd.DataFrame) -> list[str]:
    cov = " | ".join(f"PAI@{c:.1%}" for c in SHOWN_COVERAGES)
    lines = [f"| model | top-{BOXES} hit rate | {cov} | log score | oracle share (box) | "
             "fit+predict s mean/max |",
             "|---|---|" + "---|" * len(SHOWN_COVERAGES) + "---|---|---|"]
    for r in table.to_dict("records"):
        name = r["model"] + (" (baseline)" if r["baseline"] else "")
        pais = " | ".join(r[f"pai@{c:g}_ci"] for c in SHOWN_COVERAGES)
        share = "–" if not np.isfinite(r["oracle_share_box"]) else f"{r['oracle_share_box']:.2f}"
        lines.append(f"| {name} | {r['box_hit_rate_ci']} | {pais} | {r['log_score_ci']} | "
                     f"{share} | {r['seconds_mean']:.2f}/{r['seconds_max']:.2f} |")
    return lines


# ---------------------------------------------------------------- one unit


def bench_unit(key: str, header: list[str], make_cube: Callable[[tuple[float, float]], Any],
               target_name: str, events: pd.DataFrame, split: tuple[str, str], models: list[str],
               offsets: int, out: Path, log: Callable[[str], None],
               offset_models: list[str] | None = None) -> str:
    """Backtest one data set × target × frequency on every offset grid and write its
    tables under ``out/key``; returns the markdown section. ``offset_models``: the models
    rerun on the shifted grids (``None``: all)."""
    folder = out / key
    by_offset, main = {}, None
    for offset in grid_offsets(offsets, float(header_cell(header))):
        cube = make_cube(offset)
        target = resolve_target(target_name, [str(c) for c in cube["category"].values])
        targeted = apply_target(cube, target)
        step = (CHICAGO_STEP if key.startswith("chicago") else DAILY_STEP) \
            if cube.attrs["freq"] == "D" else 1
        periods = held_out(targeted, split, step)
        log(f"  {key} offset {offset}: {cube.sizes['cell']} cells, {len(periods)} periods")
        shifted = offset != (0.0, 0.0) and offset_models is not None
        # the smoothed variant is a label of its own, so it is asked for by that label
        chosen = ([m for m in [*models, SMOOTHED] if m in offset_models] if shifted
                  else models)
        metrics, seconds, failed = run_models(targeted, events, periods, chosen, log)
        by_offset[offset] = metrics
        if main is None:
            main = (metrics, seconds, failed, targeted, periods)
    metrics, seconds, failed, cube, periods = main
    write_text(folder, "metrics.csv", metrics.to_csv(index=False))
    write_text(folder, "fit_times.csv", seconds.to_csv(index=False))
    table = model_table(metrics, seconds)
    write_text(folder, "models.csv", table.to_csv(index=False))
    compared = comparisons(metrics)
    write_text(folder, "comparison.csv", compared.to_csv(index=False))
    counts = period_totals(cube, periods)
    lines = [f"## {key}", "", *[f"- {h}" for h in header],
             f"- target `{cube.attrs.get('target')}` ({cube.attrs.get('target_label')}); "
             f"{len(periods)} held-out periods {periods[0]}..{periods[-1]}"
             + (f" (one day in {step})" if cube.attrs["freq"] == "D" else ""),
             f"- crimes{' (harm)' if 'harm' in key else ''} per held-out period: mean "
             f"{counts.mean():.1f}, min {counts.min():.0f}, max {counts.max():.0f}; "
             f"{cube.sizes['cell']} cells",
             f"- oracle top-{BOXES}-box hit rate (mean, {models[0]}'s boxes): "
             f"{oracle_box_mean(metrics).iloc[0]:.3f}"]
    lines += [f"- FAILED {label}: {why}" for label, why in failed.items()]
    lines += ["", *models_md(table), "", "Each model that is not a baseline against the best "
              "baseline on the same periods (paired diff, `*` = 95 % CI clear of zero):", "",
              *comparison_md(compared)]
    if offsets > 1:
        rerun = dict.fromkeys(by_offset[list(by_offset)[-1]]["model"])
        if offset_models is not None:
            lines += ["", f"Shifted grids rerun only: {', '.join(rerun)} (time)."]
        stacked = pd.concat([m.assign(grid_offset=f"{o[0]:g},{o[1]:g}")
                             for o, m in by_offset.items()], ignore_index=True)
        write_text(folder, "metrics_offsets.csv", stacked.to_csv(index=False))
        spread, winners = offsets_table(by_offset)
        write_text(folder, "offsets.csv", spread.to_csv(index=False))
        lines += ["", f"Grid-offset spread ({offsets} grids: unshifted, half a cell in x, y, "
                  "both): per model the mean over held-out periods on each grid", "",
                  *offsets_md(spread, winners)]
    text = "\n".join(lines) + "\n"
    write_text(folder, "models.md", text)
    return text


def header_cell(header: list[str]) -> float:
    """The cell size written in a unit's first header line (``... cells of N m``)."""
    return float(header[0].split("cells of ")[1].split(" m")[0])


def period_totals(cube: Any, periods: list[pd.Period]) -> np.ndarray:
    """The target's total (crimes, or harm) in each held-out period."""
    position = cube_periods(cube).get_indexer(pd.PeriodIndex(periods))
    return cube["counts"].isel(time=position).sum("cell").to_numpy().astype(float)


def oracle_box_mean(metrics: pd.DataFrame) -> pd.Series:
    """Mean oracle hit rate at each model's boxes' area share, per model."""
    rows = metrics[box_rows(metrics) & (metrics["metric"] == "oracle_hit_rate").to_numpy()]
    return rows.groupby("model", sort=False)["value"].mean()


# ---------------------------------------------------------------- drivers


def run_city(args: Any, log: Callable[[str], None]) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        events, area = city_data(args.data, Path(tmp))
    cubes: dict[tuple[float, float], Any] = {}

    def make_cube(offset: tuple[float, float]) -> Any:
        if offset not in cubes:
            cubes[offset] = build_cube(events, build_grid(area, CELL_M, offset_m=offset), "M",
                                       source="police-uk")
        return cubes[offset]

    sections = []
    for target in args.targets or CITY_TARGETS:
        header = [f"City of London (police.uk), monthly, cells of {CELL_M:g} m (slivers under a "
                  f"quarter cell merged), {len(events)} events 2017-01..2020-12, "
                  f"split {args.split}"]
        offsets = args.offsets if target in args.offset_targets else 1
        sections.append(bench_unit(f"city_{target}_M", header, make_cube, target, events,
                                   SPLITS["city"][args.split], args.models or CITY_MODELS,
                                   offsets, args.out / args.split, log, args.offset_models))
    return sections


def run_vancouver(args: Any, log: Callable[[str], None]) -> list[str]:
    events, withheld = vancouver_events(args.data)
    area = vancouver_area(events)
    sections = []
    cubes: dict[tuple[str, tuple[float, float]], Any] = {}
    for freq in args.freqs:

        def make_cube(offset: tuple[float, float], freq: str = freq) -> Any:
            if (freq, offset) not in cubes:
                cubes.clear()  # one grid's cube at a time: daily ones are large
                cubes[(freq, offset)] = build_cube(
                    events, build_grid(area, CELL_M, offset_m=offset), freq, source="vancouver")
            return cubes[(freq, offset)]

        for kind in args.targets or VANCOUVER_TYPES:
            header = [f"Vancouver 2020, {'weekly' if freq == 'W' else 'daily'}, cells of "
                      f"{CELL_M:g} m over the events' 200 m buffer, history from 2020-01-01; "
                      f"{len(events)} events kept, {withheld} rows with withheld locations "
                      f"(X = Y = 0) dropped; split {args.split}"]
            slug = resolve_target(kind, [kind]).name
            offsets = args.offsets if freq in args.offset_freqs else 1
            sections.append(bench_unit(f"vancouver_{slug}_{freq}", header, make_cube, kind,
                                       events, SPLITS["vancouver"][args.split],
                                       args.models or BASE_MODELS_SEPP, offsets,
                                       args.out / args.split, log, args.offset_models))
    return sections


def run_chicago(args: Any, log: Callable[[str], None]) -> list[str]:
    events, area, info = chicago_data(args.data)
    cubes: dict[tuple[float, float], Any] = {}

    def make_cube(offset: tuple[float, float]) -> Any:
        if offset not in cubes:
            cubes.clear()
            cubes[offset] = build_cube(events, build_grid(area, CHICAGO_CELL_M, offset_m=offset),
                                       "D", source="chicago")
        return cubes[offset]

    header = [f"Chicago aggravated assaults, all police districts (union, EPSG:26916), daily, "
              f"cells of {CHICAGO_CELL_M:g} m (150 m, ~27 000 cells, not tried: judged too "
              "slow for daily refits), history from "
              f"{CHICAGO_HISTORY_START}; {len(events)} events, "
              f"{info['rows_without_location_dropped']} rows without location dropped; "
              f"split {args.split}"]
    return [bench_unit("chicago_all_D", header, make_cube, "all", events,
                       SPLITS["chicago"][args.split], args.models or BASE_MODELS_SEPP,
                       args.offsets, args.out / args.split, log, args.offset_models)]


def summarise_split(out: Path, split: str) -> str:
    """Across every unit of ``split`` already written: which models beat EVERY baseline on
    the top-20-box hit rate or the log score (paired 95 % CI clear of zero), and where none
    does, the numbers that say why (oracle vs best baseline, crimes per period, CI width)."""
    lines = [f"# {split} split: does any model beat every baseline?", "",
             "| unit | score | winners (clear of every baseline) | best baseline | baseline "
             "mean | oracle (box) | best other model: diff [95 % CI] | CI width |",
             "|---|---|---|---|---|---|---|---|"]
    for folder in sorted(p for p in (out / split).iterdir() if (p / "comparison.csv").exists()):
        compared = pd.read_csv(folder / "comparison.csv")
        models = pd.read_csv(folder / "models.csv")
        oracle = models.loc[~models["baseline"], "oracle_box_hit_rate"].max()
        for metric in ("box_hit_rate", "log_score"):
            rows = compared[compared["metric"] == metric]
            if rows.empty:
                continue
            winners = rows.loc[rows["beats_every_baseline"], "model"].tolist()
            best = rows.sort_values("mean_diff", ascending=False).iloc[0]
            lines.append(
                f"| {folder.name} | {metric} | {', '.join(winners) or 'none'} | "
                f"{best['baseline']} | {best['baseline_mean']:.4f} | "
                f"{oracle:.3f} | {best['model']}: {best['mean_diff']:+.4f} "
                f"[{best['ci_low']:+.4f}, {best['ci_high']:+.4f}] | "
                f"{best['ci_high'] - best['ci_low']:.4f} |")
    text = "\n".join(lines) + "\n"
    write_text(out, f"{split}_summary.md", text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__, out=ROOT / "benchmarks" / "results" / "targets")
    parser.add_argument("--dataset", choices=("city", "vancouver", "chicago", "summary"),
                        required=True, help="summary: only join the written units' verdicts")
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--offsets", type=int, default=1, choices=(1, 2, 4),
                        help="grids scored (shifted by half a cell)")
    parser.add_argument("--offset-targets", default="crime",
                        help="city: targets the offsets run for (comma-separated)")
    parser.add_argument("--offset-freqs", default="W",
                        help="vancouver: frequencies the offsets run for")
    parser.add_argument("--offset-models", default="",
                        help="models rerun on the shifted grids (default: all)")
    parser.add_argument("--freqs", default="W,D", help="vancouver: frequencies")
    parser.add_argument("--targets", default="", help="subset of targets (comma-separated)")
    parser.add_argument("--models", default="", help="subset of models (comma-separated)")
    args = parser.parse_args(argv)
    args.freqs = args.freqs.split(",")
    args.offset_freqs = args.offset_freqs.split(",")
    args.offset_targets = args.offset_targets.split(",")
    args.targets = [t for t in args.targets.split(",") if t]
    args.models = [m for m in args.models.split(",") if m]
    args.offset_models = [m for m in args.offset_models.split(",") if m] or None
    started = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - started:6.0f} s] {text}", flush=True)

    if args.dataset == "summary":
        print(summarise_split(args.out, args.split))
        return
    runner = {"city": run_city, "vancouver": run_vancouver, "chicago": run_chicago}[args.dataset]
    sections = runner(args, log)
    title = (f"# {args.dataset}: {args.split} split (top {BOXES} boxes, coverages "
             f"{', '.join(f'{c:g}' for c in DEFAULT_COVERAGES)}; CIs: 95 % percentile bootstrap "
             f"over held-out periods, {N_BOOTSTRAP} resamples; {time.perf_counter() - started:.0f}"
             " s in all)\n")
    write_text(args.out, f"{args.split}_{args.dataset}.md", title + "\n" + "\n".join(sections))
    log("done")


if __name__ == "__main__":
    main()
