"""Seeded national-volume police.uk street CSVs for the 43 territorial forces of England and
Wales plus the British Transport Police.

    .venv/bin/python benchmarks/synthetic_national.py --out DIR --months 12 --per-month 500000

writes ``DIR/YYYY-MM/YYYY-MM-<force>-street.csv`` (default ``DIR``: ``store/synthetic-national``
in the checkout) in the police.uk street-level format (same 12 columns, same conventions),
with what makes real files hard:

- about half of all crime on a few per cent of the land: every force has fixed "map
  points" (police.uk snaps crimes to anonymised street points) around its towns, with
  log-normal weights, so a few points take most crime, and the weights drift a little from
  month to month (hotspots persist but are not frozen);
- points only inside a coarse outline of England and Wales, and inside each force's
  bounding box (approximate, but real places: Manchester is where Manchester is);
- police.uk crime categories in roughly their national shares; anti-social behaviour has
  a blank Crime ID and outcome, other crimes a 64-hex id;
- about 7 % of rows without a location (blank Longitude/Latitude, "No location").

Everything follows from ``seed``: the same arguments give byte-identical files. The tables
(forces, categories, outline) are in ``national_tables.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from _common import ROOT, make_parser
from national_tables import (
    BTP,
    CATEGORIES,
    ENGLAND_WALES_OUTLINE,
    FORCES,
    MISSING_SHARE,
    OUTCOMES,
    STREET_COLUMNS,
    STREETS,
    WALES,
)

from hotspot.core.area import StudyArea

#: Stations: the busiest map points of every force, which BTP's crimes are drawn from.
STATIONS_PER_FORCE = 40


@dataclass(frozen=True)
class MapPoints:
    """One force's fixed map points: coordinates, base weights, and their labels."""

    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray
    location: pa.Array
    lsoa_code: pa.Array
    lsoa_name: pa.Array


def outline() -> shapely.Polygon:
    """The England and Wales outline as a shapely polygon in WGS84 (lon, lat)."""
    return shapely.Polygon(ENGLAND_WALES_OUTLINE)


def england_wales_area(crs: str = "EPSG:27700") -> StudyArea:
    """The outline as a :class:`hotspot.core.area.StudyArea` (the national benchmark's area)."""
    parts = gpd.GeoDataFrame({"name": ["england-and-wales"]}, geometry=[outline()],
                             crs="EPSG:4326").to_crs(crs)
    return StudyArea(parts=parts, crs=crs)


def _map_points(rng: np.random.Generator, bbox: tuple[float, float, float, float],
                towns: tuple[tuple[float, float], ...], n_points: int, shape: shapely.Polygon,
                wales: bool) -> MapPoints:
    """``n_points`` points around ``towns`` inside ``bbox`` and the outline."""
    lon_min, lat_min, lon_max, lat_max = bbox
    town_weight = rng.lognormal(0.0, 0.6, len(towns))
    town_weight[0] *= 2.5  # the force's main city
    town_weight /= town_weight.sum()
    lon, lat = np.empty(0), np.empty(0)
    spread = min(lon_max - lon_min, lat_max - lat_min)
    while lon.size < n_points:
        m = 2 * (n_points - lon.size) + 16
        town = rng.choice(len(towns), m, p=town_weight)
        centre = np.asarray(towns, dtype=float)[town]
        # most points near a town centre, a tail out into the rest of the force
        scale = np.where(rng.random(m) < 0.8, min(0.05, spread / 4), spread / 2)
        cand_lon = centre[:, 0] + rng.normal(0, 1, m) * scale * 1.6  # degrees of lon are shorter
        cand_lat = centre[:, 1] + rng.normal(0, 1, m) * scale
        keep = ((cand_lon >= lon_min) & (cand_lon <= lon_max) & (cand_lat >= lat_min)
                & (cand_lat <= lat_max) & shapely.contains_xy(shape, cand_lon, cand_lat))
        lon = np.concatenate([lon, cand_lon[keep]])
        lat = np.concatenate([lat, cand_lat[keep]])
    lon, lat = lon[:n_points], lat[:n_points]
    # heavy-tailed attractiveness: a few points get most of the crime
    weight = rng.lognormal(0.0, 1.5, n_points)
    street = rng.integers(0, len(STREETS), n_points)
    lsoa = rng.integers(0, 30_000, n_points)
    prefix = "W01" if wales else "E01"
    return MapPoints(
        lon=np.round(lon, 6), lat=np.round(lat, 6), weight=weight / weight.sum(),
        location=pa.array([f"On or near {STREETS[s]}" for s in street]),
        lsoa_code=pa.array([f"{prefix}{c:06d}" for c in lsoa]),
        lsoa_name=pa.array([f"Area {c // 5:04d}{'ABCDE'[c % 5]}" for c in lsoa]),
    )


def _stations(forces: list[MapPoints], rng: np.random.Generator) -> MapPoints:
    """BTP's map points: the busiest few of every force, re-weighted."""
    pick = [np.argsort(f.weight)[-STATIONS_PER_FORCE:] for f in forces]
    n = STATIONS_PER_FORCE * len(forces)
    weight = np.full(n, 1.0) * rng.lognormal(0, 1.0, n)
    pairs = list(zip(forces, pick, strict=True))
    return MapPoints(
        lon=np.concatenate([f.lon[p] for f, p in pairs]),
        lat=np.concatenate([f.lat[p] for f, p in pairs]),
        weight=weight / weight.sum(),
        location=pa.concat_arrays([f.location.take(pa.array(p)) for f, p in pairs]),
        lsoa_code=pa.concat_arrays([f.lsoa_code.take(pa.array(p)) for f, p in pairs]),
        lsoa_name=pa.concat_arrays([f.lsoa_name.take(pa.array(p)) for f, p in pairs]),
    )


def _text(values: np.ndarray) -> pa.Array:
    """Coordinates as police.uk writes them (up to 6 decimals)."""
    return pc.cast(pa.array(values), pa.string())


def _crime_ids(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.bytes(32 * n).hex().encode()
    return pa.array(np.frombuffer(raw, dtype="S64")).cast(pa.string())


def _constant(n: int, text: str) -> pa.Array:
    return pa.array(np.full(n, text, dtype=object), type=pa.string())


def _force_month(rng: np.random.Generator, points: MapPoints, name: str, month: str,
                 n: int) -> pa.Table:
    """One force's rows for one month as a table of text columns."""
    drift = points.weight * rng.gamma(8.0, 1 / 8.0, points.weight.size)  # month-to-month noise
    point = rng.choice(points.weight.size, n, p=drift / drift.sum())
    names = np.array(list(CATEGORIES))
    shares = np.array(list(CATEGORIES.values()))
    crime_type = names[rng.choice(names.size, n, p=shares / shares.sum())]
    asb = crime_type == "Anti-social behaviour"
    missing = rng.random(n) < MISSING_SHARE
    ids = _crime_ids(rng, n)
    ids = pc.if_else(pa.array(asb), pa.scalar(""), ids)
    outcome = np.array(OUTCOMES)[rng.integers(0, len(OUTCOMES), n)]
    outcome[asb] = ""
    take = pa.array(point)
    blank = pa.array(missing)
    lon = pc.if_else(blank, pa.scalar(""), _text(points.lon[point]))
    lat = pc.if_else(blank, pa.scalar(""), _text(points.lat[point]))
    location = pc.if_else(blank, pa.scalar("No location"), points.location.take(take))
    code = pc.if_else(blank, pa.scalar(""), points.lsoa_code.take(take))
    lsoa_name = pc.if_else(blank, pa.scalar(""), points.lsoa_name.take(take))
    return pa.table({
        "Crime ID": ids, "Month": _constant(n, month), "Reported by": _constant(n, name),
        "Falls within": _constant(n, name), "Longitude": lon, "Latitude": lat,
        "Location": location, "LSOA code": code, "LSOA name": lsoa_name,
        "Crime type": pa.array(crime_type), "Last outcome category": pa.array(outcome),
        "Context": _constant(n, ""),
    })


def _csv_body(table: pa.Table) -> str:
    """The rows of a table of text columns as CSV lines (no field holds a comma or quote)."""
    body = "\n".join(pc.binary_join_element_wise(*table.columns, ",").to_pylist())
    return body + ("\n" if body else "")


def write_street_csv(table: pa.Table, path: Path) -> int:
    """Write text columns as a police.uk CSV; returns the bytes written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (",".join(table.column_names) + "\n" + _csv_body(table)).encode()
    path.write_bytes(data)
    return len(data)


def generate(
    out: Path | str,
    *,
    start: str = "2019-01",
    n_months: int = 12,
    per_month: int = 500_000,
    seed: int = 0,
    points_per_crime: float = 0.4,
    forces: list[str] | None = None,
) -> dict[str, Any]:
    """Write ``n_months`` months of street CSVs for all forces and BTP under ``out``.

    ``per_month`` is the national total per month; each force gets its share. ``forces``
    (slugs) writes only those (with the volumes they would have nationally). Returns a
    summary (rows, bytes, files, seconds).
    """
    out = Path(out)
    only = set(forces) if forces is not None else None
    started = time.perf_counter()
    shape = outline()
    shapely.prepare(shape)
    total_share = sum(f[3] for f in FORCES) + BTP[2]
    force_points = []
    for i, (slug, name, bbox, share, towns) in enumerate(FORCES):
        rng = np.random.default_rng([seed, i])
        n_month = per_month * share / total_share
        n_points = max(50, int(n_month * points_per_crime))
        force_points.append((slug, name, n_month,
                             _map_points(rng, bbox, towns, n_points, shape, slug in WALES)))
    btp = _stations([f[3] for f in force_points], np.random.default_rng([seed, len(FORCES)]))
    force_points.append((BTP[0], BTP[1], per_month * BTP[2] / total_share, btp))

    months = pd.period_range(start, periods=n_months, freq="M").strftime("%Y-%m").tolist()
    n_rows = n_bytes = n_files = 0
    for m, month in enumerate(months):
        season = 1.0 + 0.08 * np.sin(2 * np.pi * (int(month[5:]) - 4) / 12)
        for f, (slug, name, n_month, points) in enumerate(force_points):
            if only is not None and slug not in only:
                continue
            rng = np.random.default_rng([seed, 1000 + m, f])
            n = int(rng.poisson(n_month * season))
            table = _force_month(rng, points, name, month, n)
            n_bytes += write_street_csv(table, out / month / f"{month}-{slug}-street.csv")
            n_rows += n
            n_files += 1
    return {"rows": n_rows, "bytes": n_bytes, "files": n_files, "months": months,
            "forces": n_files // max(n_months, 1),
            "seconds": round(time.perf_counter() - started, 2)}


def write_big_file(path: Path | str, n_rows: int, *, month: str = "2019-01",
                   force: str = "metropolitan", seed: int = 0) -> int:
    """One force-month street CSV of ``n_rows`` rows (a file too large to hold whole);
    written in slices of 100,000 rows so making it needs little memory. Returns bytes."""
    path = Path(path)
    shape = outline()
    shapely.prepare(shape)
    index = [f[0] for f in FORCES].index(force)
    slug, name, bbox, _, towns = FORCES[index]
    rng = np.random.default_rng([seed, index])
    points = _map_points(rng, bbox, towns, max(50, n_rows // 10), shape, slug in WALES)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as handle:
        handle.write((",".join(STREET_COLUMNS) + "\n").encode())
        for start in range(0, n_rows, 100_000):
            n = min(100_000, n_rows - start)
            table = _force_month(np.random.default_rng([seed, index, start]), points, name,
                                 month, n)
            data = _csv_body(table).encode()
            handle.write(data)
            written += len(data)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__, out=ROOT / "store" / "synthetic-national", data=False,
                         out_help="folder for the generated CSVs (one subfolder a month)")
    parser.add_argument("--start", default="2019-01")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--per-month", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    summary = generate(args.out, start=args.start, n_months=args.months,
                       per_month=args.per_month, seed=args.seed)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
