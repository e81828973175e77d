"""Harm weights per crime category, expected harm per cell, and harm rankings of places.

Counting crimes treats a shoplifting like a robbery. A *harm index* weights each crime by
how serious it is; the Cambridge Crime Harm Index (CCHI; Sherman, Neyroud & Neyroud 2016)
uses the days of imprisonment the sentencing guidelines give a first offender as the
starting point. police.uk publishes only 14 broad categories, each a mix of offences, so
**no official category-level CCHI exists**: the shipped ``data/harm_weights.csv`` is an
APPROXIMATION chosen by hand (anti-social behaviour, not a crime, gets a floor weight of
one day). Pass your own table (``category,weight_days,note``) for operational use; every
category present in the data must have a weight, or loading it against the data fails
with the list of missing categories.

Expected harm of a cell (``cell_harm``): the forecast's expected count times the cell's
recent **harm per crime** — the harm of the cell's crimes over the last ``window`` periods
divided by their number, shrunk towards the study area's ratio with the weight of
``prior_crimes`` crimes, so a cell with one past robbery is not scored as all robbery.
This keeps the count model in charge of *how many* crimes and lets the recent category
mix say *how harmful*; a per-category forecast would need a model per category, which
the sparse categories cannot support at 150 m.

Ward (or LSOA, or any boundary) ranking (``ward_harm_ranking``): the harm of the events
in each polygon over the last 12 months — police.uk has months only, so "the past 365
days" is the last 12 calendar months of the store — comparable to a force's ward tables.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from hotspot.core.errors import DataError
from hotspot.core.ranking import rank_cells
from hotspot.core.resources import embedded_path

DEFAULT_WEIGHTS_FILE = embedded_path("harm_weights.csv")
APPROXIMATION_NOTE = (
    "Harm weights are an APPROXIMATION in the style of the Cambridge Crime Harm Index (days "
    "of imprisonment): no official mapping from police.uk categories exists."
)
WEIGHT_COLUMNS = ("category", "weight_days", "note")


@dataclass(frozen=True)
class HarmWeights:
    """A weights table: ``weight_days`` per category, where it came from, and whether it
    is marked as an approximation (a ``#`` comment or a note saying so)."""

    table: pd.DataFrame
    source: str
    approximate: bool

    @property
    def weights(self) -> dict[str, float]:
        return dict(zip(self.table["category"], self.table["weight_days"].astype(float),
                        strict=True))

    def missing(self, categories: Iterable[str]) -> list[str]:
        """Categories with no weight, sorted."""
        known = set(self.table["category"])
        return sorted({str(c) for c in categories} - known)

    def check(self, categories: Iterable[str]) -> None:
        """Raise ``DataError`` naming every category in ``categories`` without a weight."""
        missing = self.missing(categories)
        if missing:
            raise DataError(
                f"harm weights {self.source} have no weight for {len(missing)} categor"
                f"{'y' if len(missing) == 1 else 'ies'} in the data: {', '.join(missing)}; "
                "add a row (category,weight_days,note) for each"
            )

    def vector(self, categories: Sequence[str], missing_weight: float | None = None
               ) -> np.ndarray:
        """Weights in the order of ``categories``; a category without a weight raises, or
        gets ``missing_weight`` when one is given."""
        if missing_weight is None:
            self.check(categories)
        weights = self.weights
        fallback = float(missing_weight) if missing_weight is not None else np.nan
        return np.array([weights.get(str(c), fallback) for c in categories], dtype=float)

    def to_dict(self) -> dict:
        return {"source": self.source, "approximate": self.approximate,
                "weights_days": self.weights}


def load_harm_weights(path: Path | str | None = None) -> HarmWeights:
    """Read a weights table (``category,weight_days[,note]``; ``#`` lines are comments);
    default the shipped APPROXIMATION ``data/harm_weights.csv``."""
    path = Path(path) if path else DEFAULT_WEIGHTS_FILE
    if not path.exists():
        raise DataError(f"harm weights file {path} not found: pass a CSV with columns "
                        "category,weight_days,note")
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns)


def read_table_csv(path: Path, what: str, required: Sequence[str], columns: str
                   ) -> tuple[pd.DataFrame, list[str]]:
    """A small shipped or user table (harm weights, target groups): ``#`` comment lines
    and blank lines skipped, every value text, column names stripped; ``DataError``
    naming ``what`` and the ``columns`` expected when it cannot be read or lacks one of
    ``required``. Returns the table and its comment lines."""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    comments = [ln for ln in lines if ln.lstrip().startswith("#")]
    body = "\n".join(ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))
    try:
        table = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{what} file {path} is not a readable CSV: {exc}") from None
    table.columns = [c.strip() for c in table.columns]
    for column in required:
        if column not in table.columns:
            raise DataError(f"{what} file {path} lacks the column {column!r}: expected "
                            f"{columns}")
    return table, comments


@functools.lru_cache(maxsize=8)
def _load_cached(path_text: str, mtime_ns: int) -> HarmWeights:
    path = Path(path_text)
    table, comments = read_table_csv(path, "harm weights", ("category", "weight_days"),
                                     "category,weight_days,note")
    if "note" not in table.columns:
        table["note"] = ""
    table = table[list(WEIGHT_COLUMNS)].copy()
    table["category"] = table["category"].str.strip()
    if (table["category"] == "").any():
        raise DataError(f"harm weights file {path} has a row with no category")
    duplicated = sorted(set(table.loc[table["category"].duplicated(), "category"]))
    if duplicated:
        raise DataError(f"harm weights file {path} lists these categories twice: "
                        + ", ".join(duplicated))
    values = pd.to_numeric(table["weight_days"].str.strip(), errors="coerce")
    bad = table.loc[~(np.isfinite(values) & (values >= 0)), "category"].tolist()
    if bad:
        raise DataError(f"harm weights file {path}: weight_days must be a number >= 0; not so "
                        "for " + ", ".join(bad))
    table["weight_days"] = values.astype(float)
    marked = any("approximation" in c.lower() for c in comments) or bool(
        table["note"].str.lower().str.contains("approximation").any())
    return HarmWeights(table=table.reset_index(drop=True), source=str(path), approximate=marked)


# ------------------------------------------------------------------------ cells


def _category_harm(cube: xr.Dataset, weights: HarmWeights | None,
                   missing_weight: float | None = None) -> np.ndarray:
    """Harm per period and cell ``(time, cell)``: Σ_category count × weight. A cube without
    category counts (or no weights) falls back to weight 1 per crime."""
    if weights is None or "category_counts" not in cube or cube.sizes.get("category", 0) == 0:
        return cube["counts"].values.astype(float)
    w = weights.vector(list(cube["category"].values), missing_weight)
    return np.einsum("tkc,k->tc", cube["category_counts"].values.astype(float), w)


def observed_harm(cube: xr.Dataset, weights: HarmWeights | None) -> xr.DataArray:
    """Harm (weighted days) per period and cell of the cube's counted crimes."""
    return xr.DataArray(_category_harm(cube, weights), dims=("time", "cell"),
                        coords={"time": cube["time"], "cell": cube["cell"]}, name="harm")


def harm_per_crime(harm: np.ndarray, crimes: np.ndarray, prior_crimes: float = 5.0
                   ) -> np.ndarray:
    """Each cell's harm per crime, ``harm / crimes`` shrunk towards the study area's ratio
    with the weight of ``prior_crimes`` crimes: a cell with one past robbery is not scored
    as all robbery, and a cell with no past crime gets the area's ratio (1 with none at all).
    Shared by :func:`cell_harm` and the harm scaling of event models under a harm target."""
    harm = np.asarray(harm, dtype=float)
    crimes = np.asarray(crimes, dtype=float)
    overall = harm.sum() / crimes.sum() if crimes.sum() > 0 else 1.0
    return (harm + prior_crimes * overall) / (crimes + prior_crimes)


def cell_harm(
    cube: xr.Dataset,
    expected: np.ndarray | xr.DataArray,
    weights: HarmWeights,
    *,
    window: int = 12,
    prior_crimes: float = 5.0,
) -> pd.DataFrame:
    """Expected harm per cell from expected counts and the recent harm per crime.

    Columns ``cell_id, expected, harm_per_crime, expected_harm_days,
    expected_harm_per_km2, harm_rank, count_rank, area_m2``, in cube cell order. Ranks
    follow the published rule (density per m², so clipped edge cells compete fairly; ties
    by cell id), on expected harm and on expected counts.
    """
    values = np.asarray(expected.values if isinstance(expected, xr.DataArray) else expected,
                        dtype=float).reshape(-1)
    if values.shape[0] != cube.sizes["cell"]:
        raise DataError(f"expected counts have {values.shape[0]} cells, the cube "
                        f"{cube.sizes['cell']}")
    if "category_counts" in cube and cube.sizes.get("category", 0):
        weights.check(cube["category"].values)
    recent = cube.isel(time=slice(-window, None))
    harm = _category_harm(recent, weights).sum(axis=0)
    crimes = recent["counts"].values.astype(float).sum(axis=0)
    per_crime = harm_per_crime(harm, crimes, prior_crimes)
    expected_harm = values * per_crime
    area = cube["area_m2"].values
    ids = cube["cell"].values
    table = pd.DataFrame({
        "cell_id": ids.astype(str),
        "expected": values,
        "harm_per_crime": per_crime,
        "expected_harm_days": expected_harm,
        "expected_harm_per_km2": expected_harm / area * 1e6,
        "harm_rank": 0,
        "count_rank": 0,
        "area_m2": area,
    })
    table.loc[rank_cells(expected_harm, area, ids), "harm_rank"] = np.arange(1, len(ids) + 1)
    table.loc[rank_cells(values, area, ids), "count_rank"] = np.arange(1, len(ids) + 1)
    return table


# ------------------------------------------------------------------------ wards


def ward_harm_ranking(
    events: pd.DataFrame,
    events_crs: str,
    boundaries: gpd.GeoDataFrame,
    weights: HarmWeights,
    *,
    name_column: str | None = None,
    months: int = 12,
    end_month: str | None = None,
) -> pd.DataFrame:
    """Rank polygons (wards, LSOAs, ...) by the harm of their events in the last
    ``months`` calendar months up to ``end_month`` (default the newest event's month).

    Columns ``rank, name, n_crimes, harm_days, harm_share, harm_per_crime, area_km2,
    harm_per_km2, first_month, last_month``; every polygon appears (zero if no events).
    ``DataError`` when a category in the window has no weight.
    """
    if boundaries is None or boundaries.empty:
        raise DataError("ward harm ranking needs a non-empty boundary layer")
    if boundaries.crs is None:
        raise DataError("the boundary layer has no CRS")
    if name_column is None:
        name_column = next((c for c in ("NAME", "name", "ward", "WD_NAME", "LSOA21NM",
                                        "LSOA11NM") if c in boundaries.columns), None)
    if name_column is None or name_column not in boundaries.columns:
        raise DataError(
            f"boundary layer has no name column {name_column!r}; columns: "
            + ", ".join(c for c in boundaries.columns if c != "geometry"))
    if events.empty:
        raise DataError("no events to rank places by: ingest some first")
    period = pd.DatetimeIndex(events["time"]).to_period("M")
    last = pd.Period(end_month, "M") if end_month else period.max()
    first = last - (months - 1)
    window = events.loc[(period >= first) & (period <= last)]
    weights.check(window["category"].dropna().unique())
    w = window["category"].map(weights.weights).fillna(0.0).to_numpy(dtype=float)

    polygons = boundaries[[name_column, "geometry"]].to_crs(events_crs).reset_index(drop=True)
    polygons = polygons.rename(columns={name_column: "name"})
    points = gpd.GeoDataFrame({"w": w}, geometry=gpd.points_from_xy(window["x"], window["y"]),
                              crs=events_crs)
    joined = gpd.sjoin(points, polygons, how="inner", predicate="intersects")
    joined = joined[~joined.index.duplicated(keep="first")]  # a point on a shared edge
    grouped = joined.groupby("index_right").agg(n_crimes=("w", "size"), harm_days=("w", "sum"))
    table = polygons.drop(columns="geometry").join(grouped).fillna(
        {"n_crimes": 0, "harm_days": 0.0})
    table["n_crimes"] = table["n_crimes"].astype(int)
    total = table["harm_days"].sum()
    table["harm_share"] = table["harm_days"] / total if total > 0 else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        table["harm_per_crime"] = np.where(table["n_crimes"] > 0,
                                           table["harm_days"] / table["n_crimes"].clip(lower=1),
                                           0.0)
    table["area_km2"] = polygons.geometry.area.to_numpy() / 1e6
    table["harm_per_km2"] = table["harm_days"] / table["area_km2"].where(table["area_km2"] > 0)
    table = table.sort_values(["harm_days", "name"], ascending=[False, True],
                              kind="stable").reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["first_month"] = str(first)
    table["last_month"] = str(last)
    table.attrs["n_outside"] = int(len(window) - len(joined))
    return table
