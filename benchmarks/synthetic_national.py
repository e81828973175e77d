"""Seeded national-volume police.uk street CSVs for the 43 territorial forces of England and
Wales plus the British Transport Police.

    .venv/bin/python benchmarks/synthetic_national.py OUT --months 12 --per-month 500000

writes ``OUT/YYYY-MM/YYYY-MM-<force>-street.csv`` in the police.uk street-level format (same
12 columns, same conventions), with what makes real files hard:

- about half of all crime on a few per cent of the land: every force has fixed "map
  points" (police.uk snaps crimes to anonymised street points) around its towns, with
  log-normal weights, so a few points take most crime, and the weights drift a little from
  month to month (hotspots persist but are not frozen);
- points only inside a coarse outline of England and Wales, and inside each force's
  bounding box (approximate, but real places: Manchester is where Manchester is);
- police.uk crime categories in roughly their national shares; anti-social behaviour has
  a blank Crime ID and outcome, other crimes a 64-hex id;
- about 7 % of rows without a location (blank Longitude/Latitude, "No location").

Everything follows from ``seed``: the same arguments give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STREET_COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip

#: slug, name, (lon_min, lat_min, lon_max, lat_max), share of national crime (per cent),
#: main towns (lon, lat). Boxes and shares are approximate but in the right places.
FORCES: tuple[tuple[str, str, tuple[float, float, float, float], float,
                    tuple[tuple[float, float], ...]], ...] = (
    ("avon-and-somerset", "Avon and Somerset Constabulary", (-3.85, 50.82, -2.24, 51.68), 2.6,
     ((-2.59, 51.45), (-2.36, 51.38), (-3.10, 51.02), (-2.97, 51.35))),
    ("bedfordshire", "Bedfordshire Police", (-0.71, 51.80, -0.15, 52.33), 1.0,
     ((-0.42, 51.88), (-0.47, 52.14))),
    ("cambridgeshire", "Cambridgeshire Constabulary", (-0.50, 52.00, 0.52, 52.75), 1.3,
     ((0.12, 52.20), (-0.24, 52.57))),
    ("cheshire", "Cheshire Constabulary", (-3.12, 52.95, -1.97, 53.48), 1.6,
     ((-2.58, 53.39), (-2.89, 53.19), (-2.44, 53.10))),
    ("city-of-london", "City of London Police", (-0.113, 51.507, -0.073, 51.523), 0.1,
     ((-0.092, 51.514),)),
    ("cleveland", "Cleveland Police", (-1.45, 54.46, -0.79, 54.73), 1.2,
     ((-1.23, 54.57), (-1.21, 54.69))),
    ("cumbria", "Cumbria Constabulary", (-3.64, 54.04, -2.16, 55.19), 0.5,
     ((-2.93, 54.89), (-3.23, 54.11), (-2.74, 54.33))),
    ("derbyshire", "Derbyshire Constabulary", (-2.03, 52.69, -1.17, 53.54), 1.6,
     ((-1.48, 52.92), (-1.42, 53.24))),
    ("devon-and-cornwall", "Devon & Cornwall Police", (-5.72, 49.96, -2.88, 51.25), 2.0,
     ((-4.14, 50.38), (-3.53, 50.72), (-3.53, 50.46), (-5.05, 50.26))),
    ("dorset", "Dorset Police", (-2.96, 50.51, -1.68, 51.08), 0.8,
     ((-1.88, 50.72), (-1.98, 50.72), (-2.44, 50.61))),
    ("durham", "Durham Constabulary", (-2.36, 54.45, -1.24, 54.92), 1.2,
     ((-1.57, 54.78), (-1.55, 54.52))),
    ("dyfed-powys", "Dyfed-Powys Police", (-5.33, 51.59, -2.95, 52.90), 0.6,
     ((-4.16, 51.68), (-4.08, 52.41), (-3.38, 52.51))),
    ("essex", "Essex Police", (-0.02, 51.45, 1.30, 52.10), 3.2,
     ((0.71, 51.54), (0.47, 51.74), (0.90, 51.89), (0.46, 51.57))),
    ("gloucestershire", "Gloucestershire Constabulary", (-2.69, 51.58, -1.61, 52.11), 0.8,
     ((-2.24, 51.86), (-2.08, 51.90))),
    ("greater-manchester", "Greater Manchester Police", (-2.73, 53.33, -1.91, 53.69), 6.5,
     ((-2.24, 53.48), (-2.43, 53.58), (-2.10, 53.54), (-2.63, 53.55), (-2.16, 53.41))),
    ("gwent", "Gwent Police", (-3.35, 51.50, -2.65, 51.98), 1.0,
     ((-2.99, 51.59), (-3.03, 51.65))),
    ("hampshire", "Hampshire Constabulary", (-1.96, 50.57, -0.73, 51.38), 3.2,
     ((-1.40, 50.91), (-1.09, 50.80), (-1.09, 51.27), (-1.31, 51.06))),
    ("hertfordshire", "Hertfordshire Constabulary", (-0.75, 51.60, 0.20, 52.08), 1.7,
     ((-0.40, 51.66), (-0.21, 51.90), (-0.34, 51.75))),
    ("humberside", "Humberside Police", (-1.10, 53.43, 0.15, 54.18), 1.8,
     ((-0.33, 53.74), (-0.08, 53.57), (-0.65, 53.59))),
    ("kent", "Kent Police", (0.03, 50.91, 1.45, 51.49), 3.4,
     ((0.52, 51.27), (0.53, 51.38), (1.08, 51.28), (1.31, 51.13), (0.26, 51.13))),
    ("lancashire", "Lancashire Constabulary", (-3.08, 53.48, -2.05, 54.24), 2.7,
     ((-2.70, 53.76), (-3.05, 53.82), (-2.48, 53.75), (-2.24, 53.79), (-2.80, 54.05))),
    ("leicestershire", "Leicestershire Police", (-1.60, 52.39, -0.43, 52.98), 1.8,
     ((-1.13, 52.64), (-1.20, 52.77))),
    ("lincolnshire", "Lincolnshire Police", (-0.82, 52.64, 0.36, 53.62), 1.1,
     ((-0.54, 53.23), (-0.02, 52.98), (-0.64, 52.91))),
    ("merseyside", "Merseyside Police", (-3.20, 53.30, -2.57, 53.70), 2.7,
     ((-2.98, 53.41), (-3.03, 53.39), (-2.74, 53.45), (-3.01, 53.65))),
    ("metropolitan", "Metropolitan Police Service", (-0.51, 51.29, 0.33, 51.69), 16.0,
     ((-0.13, 51.51), (-0.10, 51.46), (-0.07, 51.55), (-0.27, 51.51), (0.01, 51.54),
      (-0.10, 51.37), (-0.20, 51.42), (-0.30, 51.58), (0.06, 51.45), (-0.42, 51.52))),
    ("norfolk", "Norfolk Constabulary", (0.15, 52.35, 1.75, 52.99), 1.3,
     ((1.30, 52.63), (1.73, 52.61), (0.40, 52.75))),
    ("north-wales", "North Wales Police", (-4.77, 52.75, -2.72, 53.44), 1.1,
     ((-2.99, 53.05), (-3.83, 53.32), (-4.13, 53.23))),
    ("north-yorkshire", "North Yorkshire Police", (-2.57, 53.62, -0.21, 54.56), 1.0,
     ((-1.08, 53.96), (-1.54, 53.99), (-0.40, 54.28))),
    ("northamptonshire", "Northamptonshire Police", (-1.33, 51.98, -0.34, 52.64), 1.3,
     ((-0.90, 52.24), (-0.70, 52.40))),
    ("northumbria", "Northumbria Police", (-2.69, 54.78, -1.34, 55.81), 2.6,
     ((-1.61, 54.98), (-1.38, 54.91), (-1.44, 55.00), (-1.60, 54.95))),
    ("nottinghamshire", "Nottinghamshire Police", (-1.35, 52.79, -0.67, 53.50), 2.0,
     ((-1.15, 52.95), (-1.20, 53.14))),
    ("south-wales", "South Wales Police", (-4.33, 51.38, -3.07, 51.82), 2.3,
     ((-3.18, 51.48), (-3.94, 51.62), (-3.38, 51.75))),
    ("south-yorkshire", "South Yorkshire Police", (-1.83, 53.30, -0.87, 53.66), 3.2,
     ((-1.47, 53.38), (-1.13, 53.52), (-1.48, 53.55), (-1.36, 53.43))),
    ("staffordshire", "Staffordshire Police", (-2.47, 52.42, -1.58, 53.23), 1.7,
     ((-2.18, 53.00), (-2.12, 52.81), (-1.63, 52.80))),
    ("suffolk", "Suffolk Constabulary", (0.34, 51.93, 1.77, 52.55), 1.0,
     ((1.15, 52.06), (0.71, 52.25), (1.75, 52.48))),
    ("surrey", "Surrey Police", (-0.85, 51.07, 0.06, 51.47), 1.5,
     ((-0.57, 51.24), (-0.56, 51.32), (-0.20, 51.35))),
    ("sussex", "Sussex Police", (-0.96, 50.72, 0.87, 51.17), 2.7,
     ((-0.14, 50.83), (-0.37, 50.82), (-0.19, 51.11), (0.28, 50.77), (0.57, 50.86))),
    ("thames-valley", "Thames Valley Police", (-1.72, 51.33, -0.48, 52.20), 3.9,
     ((-0.97, 51.45), (-1.26, 51.75), (-0.76, 52.04), (-0.59, 51.51), (-0.81, 51.82))),
    ("warwickshire", "Warwickshire Police", (-1.97, 52.00, -1.17, 52.69), 0.9,
     ((-1.47, 52.52), (-1.26, 52.37), (-1.58, 52.29))),
    ("west-mercia", "West Mercia Police", (-3.24, 51.83, -1.76, 52.99), 2.0,
     ((-2.22, 52.19), (-2.75, 52.71), (-2.72, 52.06), (-2.45, 52.68))),
    ("west-midlands", "West Midlands Police", (-2.21, 52.35, -1.42, 52.66), 6.0,
     ((-1.90, 52.48), (-1.51, 52.41), (-2.13, 52.59), (-1.98, 52.51), (-1.98, 52.59))),
    ("west-yorkshire", "West Yorkshire Police", (-2.17, 53.52, -1.20, 53.96), 6.4,
     ((-1.55, 53.80), (-1.75, 53.79), (-1.78, 53.65), (-1.50, 53.68), (-1.86, 53.72))),
    ("wiltshire", "Wiltshire Police", (-2.37, 50.95, -1.48, 51.70), 1.0,
     ((-1.78, 51.56), (-1.79, 51.07), (-2.00, 51.35))),
)
BTP = ("btp", "British Transport Police", 1.2)

#: police.uk street-level crime types and their rough national shares (per cent).
CATEGORIES = {
    "Violence and sexual offences": 31.0, "Anti-social behaviour": 22.0,
    "Criminal damage and arson": 8.0, "Public order": 7.0, "Shoplifting": 6.0,
    "Other theft": 6.0, "Vehicle crime": 6.0, "Burglary": 4.5, "Drugs": 2.7,
    "Other crime": 2.3, "Robbery": 1.2, "Theft from the person": 1.3, "Bicycle theft": 1.2,
    "Possession of weapons": 0.8,
}  # fmt: skip
OUTCOMES = (
    "Investigation complete; no suspect identified", "Unable to prosecute suspect",
    "Under investigation", "Status update unavailable", "Awaiting court outcome",
    "Local resolution", "Offender given a caution", "Court result unavailable",
    "Action to be taken by another organisation",
    "Further investigation is not in the public interest",
)  # fmt: skip
STREETS = (
    "High Street", "Station Road", "Church Street", "Park Road", "London Road", "Victoria Road",
    "Green Lane", "Manor Road", "Church Lane", "Park Avenue", "The Avenue", "Queens Road",
    "New Road", "Grange Road", "Kings Road", "Market Place", "Mill Lane", "North Street",
    "Albert Road", "Shopping Area", "Parking Area", "Supermarket", "Petrol Station",
    "Nightclub", "Sports/Recreation Area", "Hospital", "Further/Higher Educational Building",
    "Bus/Coach Station", "Conference/Exhibition Centre", "Theatre/Concert Hall",
)  # fmt: skip
#: Share of rows with no location (blank coordinates), as in the bulk files.
MISSING_SHARE = 0.07

#: A coarse outline of England and Wales (lon, lat), clockwise from Land's End.
ENGLAND_WALES_OUTLINE = (
    (-5.72, 50.05), (-5.20, 49.96), (-4.10, 50.33), (-3.64, 50.22), (-3.40, 50.60),
    (-2.90, 50.70), (-2.45, 50.52), (-1.95, 50.68), (-1.30, 50.57), (-0.80, 50.72),
    (-0.10, 50.80), (0.25, 50.73), (0.98, 50.91), (1.40, 51.13), (1.45, 51.38), (0.90, 51.50),
    (0.75, 51.53), (1.20, 51.80), (1.35, 51.95), (1.76, 52.48), (1.30, 52.93), (0.50, 52.95),
    (0.20, 52.80), (0.35, 53.15), (0.10, 53.55), (0.12, 53.60), (-0.08, 54.12),
    (-0.60, 54.49), (-1.17, 54.69), (-1.36, 54.91), (-1.60, 55.40), (-2.00, 55.80),
    (-2.20, 55.60), (-3.10, 55.05), (-3.50, 54.90), (-3.65, 54.50), (-3.25, 54.10),
    (-2.90, 54.05), (-3.05, 53.80), (-3.10, 53.55), (-3.10, 53.35), (-3.40, 53.34),
    (-3.85, 53.33), (-4.35, 53.42), (-4.70, 53.30), (-4.75, 52.80), (-4.10, 52.40),
    (-4.70, 52.10), (-5.30, 51.88), (-5.10, 51.68), (-4.70, 51.67), (-3.95, 51.58),
    (-3.70, 51.48), (-3.15, 51.45), (-2.95, 51.55), (-2.65, 51.60), (-3.00, 51.35),
    (-3.50, 51.20), (-4.55, 51.00), (-4.95, 50.55), (-5.50, 50.22),
)  # fmt: skip


@dataclass(frozen=True)
class MapPoints:
    """One force's fixed map points: coordinates, base weights, and their labels."""

    lon: np.ndarray
    lat: np.ndarray
    weight: np.ndarray
    location: pa.Array
    lsoa_code: pa.Array
    lsoa_name: pa.Array


def outline():
    """The England and Wales outline as a shapely polygon in WGS84 (lon, lat)."""
    return shapely.Polygon(ENGLAND_WALES_OUTLINE)


def england_wales_area(crs: str = "EPSG:27700"):
    """The outline as a :class:`hotspot.core.area.StudyArea` (the national benchmark's area)."""
    import geopandas as gpd

    from hotspot.core.area import StudyArea

    parts = gpd.GeoDataFrame({"name": ["england-and-wales"]}, geometry=[outline()],
                             crs="EPSG:4326").to_crs(crs)
    return StudyArea(parts=parts, crs=crs)


def _map_points(rng: np.random.Generator, bbox, towns, n_points: int, shape,
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


_WALES = {"dyfed-powys", "gwent", "north-wales", "south-wales"}


def _text(values: np.ndarray) -> pa.Array:
    """Coordinates as police.uk writes them (up to 6 decimals)."""
    return pc.cast(pa.array(values), pa.string())


def _crime_ids(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.bytes(32 * n).hex().encode()
    return pa.array(np.frombuffer(raw, dtype="S64")).cast(pa.string())


def _force_month(rng, points: MapPoints, name: str, month: str, n: int) -> pa.Table:
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
    constant = pa.array(np.full(n, "", dtype=object), type=pa.string())
    return pa.table({
        "Crime ID": ids, "Month": pc.if_else(pa.array(np.ones(n, bool)), month, constant),
        "Reported by": pc.if_else(pa.array(np.ones(n, bool)), name, constant),
        "Falls within": pc.if_else(pa.array(np.ones(n, bool)), name, constant),
        "Longitude": lon, "Latitude": lat, "Location": location, "LSOA code": code,
        "LSOA name": lsoa_name, "Crime type": pa.array(crime_type),
        "Last outcome category": pa.array(outcome), "Context": constant,
    })


def write_street_csv(table: pa.Table, path: Path) -> int:
    """Write text columns as a police.uk CSV (no field holds a comma or quote); bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = pc.binary_join_element_wise(*table.columns, ",")
    body = "\n".join(lines.to_pylist())
    data = (",".join(table.column_names) + "\n" + body + ("\n" if body else "")).encode()
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
) -> dict:
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
                       _map_points(rng, bbox, towns, n_points, shape, slug in _WALES)))
    # BTP: stations, i.e. the busiest few points of every force, re-weighted
    rng = np.random.default_rng([seed, len(FORCES)])
    pick = [np.argsort(f[3].weight)[-40:] for f in force_points]
    btp = MapPoints(
        lon=np.concatenate([f[3].lon[p] for f, p in zip(force_points, pick, strict=True)]),
        lat=np.concatenate([f[3].lat[p] for f, p in zip(force_points, pick, strict=True)]),
        weight=np.full(40 * len(force_points), 1.0) * rng.lognormal(0, 1.0, 40 * len(force_points)),
        location=pa.concat_arrays([f[3].location.take(pa.array(p))
                                   for f, p in zip(force_points, pick, strict=True)]),
        lsoa_code=pa.concat_arrays([f[3].lsoa_code.take(pa.array(p))
                                    for f, p in zip(force_points, pick, strict=True)]),
        lsoa_name=pa.concat_arrays([f[3].lsoa_name.take(pa.array(p))
                                    for f, p in zip(force_points, pick, strict=True)]),
    )
    btp = MapPoints(btp.lon, btp.lat, btp.weight / btp.weight.sum(), btp.location,
                    btp.lsoa_code, btp.lsoa_name)
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


def concentration(x: np.ndarray, y: np.ndarray, cell_m: float, n_cells: int,
                  shares=(0.01, 0.02, 0.05)) -> dict[str, float]:
    """Share of points in the top ``shares`` of ``n_cells`` cells of ``cell_m`` metres."""
    ix = np.floor(np.asarray(x) / cell_m).astype(np.int64)
    iy = np.floor(np.asarray(y) / cell_m).astype(np.int64)
    _, counts = np.unique(ix * 10_000_000 + iy, return_counts=True)
    counts = np.sort(counts)[::-1]
    total = counts.sum()
    return {f"top_{s:.0%}_cells": round(float(counts[: int(s * n_cells)].sum() / total), 3)
            for s in shares}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
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
    points = _map_points(rng, bbox, towns, max(50, n_rows // 10), shape, slug in _WALES)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as handle:
        handle.write((",".join(STREET_COLUMNS) + "\n").encode())
        for start in range(0, n_rows, 100_000):
            n = min(100_000, n_rows - start)
            table = _force_month(np.random.default_rng([seed, index, start]), points, name,
                                 month, n)
            lines = pc.binary_join_element_wise(*table.columns, ",")
            data = ("\n".join(lines.to_pylist()) + "\n").encode()
            handle.write(data)
            written += len(data)
    return written
