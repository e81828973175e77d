"""Build the Chicago benchmark store: one busy police district, daily events, 150 m cells.

The shared file has no district polygons, so the study area is the convex hull of the
chosen district's events (buffered by half a cell); every assault inside that hull counts,
whichever district recorded it.

    .venv/bin/python benchmarks/chicago_store.py [--district 7] [--store store/chicago-d7]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hotspot.core.area import load_area  # noqa: E402
from hotspot.ingest.csv_source import ingest_csv  # noqa: E402
from hotspot.pipeline import cube_from_store, save_store_cube  # noqa: E402

CHICAGO = ROOT.parent / "shared" / "data" / "chicago" / "aggravated-assaults-2010-2016.csv.gz"


def district_area(district: int, path: Path, cell_size_m: float = 150.0) -> gpd.GeoDataFrame:
    rows = pd.read_csv(path, usecols=["longitude", "latitude", "district"]).dropna()
    rows = rows[rows["district"] == district]
    points = gpd.GeoSeries(gpd.points_from_xy(rows["longitude"], rows["latitude"]),
                           crs="EPSG:4326").to_crs("EPSG:32616")
    hull = points.union_all().convex_hull.buffer(cell_size_m / 2)
    return gpd.GeoDataFrame({"name": [f"district {district} hull"]}, geometry=[hull],
                            crs="EPSG:32616")


def build(district: int, store: Path, cell_size_m: float = 150.0) -> Path:
    area_file = store.parent / f"{store.name}-area.gpkg"
    store.parent.mkdir(parents=True, exist_ok=True)
    district_area(district, CHICAGO, cell_size_m).to_file(area_file, driver="GPKG")
    area = load_area(area_file)
    report = ingest_csv(CHICAGO, store, time_col="date", lon_col="longitude",
                        lat_col="latitude", category_col="loc_cat", area=area)
    cube = cube_from_store(store, cell_size_m, "D", area)
    print(report.summary())
    print(f"cube {dict(cube.sizes)} -> {save_store_cube(cube, store)}")
    return store


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--district", type=int, default=7)
    parser.add_argument("--store", type=Path, default=ROOT / "store" / "chicago-d7")
    args = parser.parse_args()
    build(args.district, args.store)
