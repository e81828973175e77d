"""Build the Chicago benchmark store: one busy police district, daily events, 150 m cells.

The shared file has no district polygons, so the study area is the convex hull of the
chosen district's events (buffered by half a cell); every assault inside that hull counts,
whichever district recorded it.

    .venv/bin/python benchmarks/chicago_store.py [--district 7] [--out store] [--data DIR]

writes the store ``OUT/chicago-d<district>`` and its area ``OUT/chicago-d<district>-area.gpkg``.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from _common import CHICAGO_CSV, ROOT, make_parser, need

from hotspot.core.area import load_area
from hotspot.ingest.csv_source import ingest_csv
from hotspot.pipeline import cube_from_store, save_store_cube


def district_area(district: int, path: Path, cell_size_m: float = 150.0) -> gpd.GeoDataFrame:
    """The hull of ``district``'s events in ``path``, buffered by half a cell (UTM 16N)."""
    rows = pd.read_csv(path, usecols=["longitude", "latitude", "district"]).dropna()
    rows = rows[rows["district"] == district]
    points = gpd.GeoSeries(gpd.points_from_xy(rows["longitude"], rows["latitude"]),
                           crs="EPSG:4326").to_crs("EPSG:32616")
    hull = points.union_all().convex_hull.buffer(cell_size_m / 2)
    return gpd.GeoDataFrame({"name": [f"district {district} hull"]}, geometry=[hull],
                            crs="EPSG:32616")


def build(data: Path, district: int, store: Path, cell_size_m: float = 150.0) -> Path:
    """Ingest the district's hull from the Chicago file under ``data`` into ``store`` and
    save its daily cube; the area file goes beside the store."""
    chicago = need(data, *CHICAGO_CSV)
    area_file = store.parent / f"{store.name}-area.gpkg"
    store.parent.mkdir(parents=True, exist_ok=True)
    district_area(district, chicago, cell_size_m).to_file(area_file, driver="GPKG")
    area = load_area(area_file)
    report = ingest_csv(chicago, store, time_col="date", lon_col="longitude",
                        lat_col="latitude", category_col="loc_cat", area=area)
    cube = cube_from_store(store, cell_size_m, "D", area)
    print(report.summary())
    print(f"cube {dict(cube.sizes)} -> {save_store_cube(cube, store)}")
    return store


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__, out=ROOT / "store", out_help="folder for the store")
    parser.add_argument("--district", type=int, default=7)
    args = parser.parse_args(argv)
    build(args.data, args.district, args.out / f"chicago-d{args.district}")


if __name__ == "__main__":
    main()
