"""Where a published cell is, in words an officer can use: a WGS84 point and an area name.

The point is what a patrol list links to (a map pin, a phone's directions), so it must lie
inside the cell even after rounding to 5 decimals (about a metre): the cell's centroid when
it lies at least :data:`INSET_M` inside the cell, otherwise a point on the surface of the
cell shrunk by that much. Merged cells (a square with its boundary slivers) can be L-shaped
or ragged, and their centroid can fall outside them; a plain point-on-surface can sit a
rounding error from the edge.

The area name is the study-area part (e.g. ward) that contains the point. Which column of
the parts holds the name is guessed (``NAME``, ``name``, else the first text column) and
reported, since boundary files differ.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from hotspot.core.errors import DataError
from hotspot.core.names import name_column

#: How far inside its cell a published point must be (metres, in the cube's CRS).
INSET_M = 2.0
#: Decimals of the published latitude and longitude (about 1.1 m of latitude).
LATLON_DECIMALS = 5


def representative_points(cells: gpd.GeoSeries, inset_m: float = INSET_M) -> gpd.GeoSeries:
    """One point per cell, at least ``inset_m`` inside it where the cell allows (see the
    module docstring); same index and CRS as ``cells``."""
    geoms = np.asarray(cells.values, dtype=object)
    centroids = shapely.centroid(geoms)
    inner = shapely.buffer(geoms, -inset_m)
    usable = ~shapely.is_empty(inner)
    # a cell too thin to shrink keeps its own surface point rather than none
    inner = np.where(usable, inner, geoms)
    inside = shapely.contains(inner, centroids)
    points = np.where(inside, centroids, shapely.point_on_surface(inner))
    return gpd.GeoSeries(points, index=cells.index, crs=cells.crs)


def lat_lon(points: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (WGS84) of ``points``, rounded to :data:`LATLON_DECIMALS`."""
    if points.crs is None:
        raise DataError("cell points have no CRS: cannot place them in WGS84")
    wgs = points.to_crs("EPSG:4326")
    return (np.round(wgs.y.to_numpy(dtype=float), LATLON_DECIMALS),
            np.round(wgs.x.to_numpy(dtype=float), LATLON_DECIMALS))


def area_names(points: gpd.GeoSeries,
               parts: gpd.GeoDataFrame | None) -> tuple[np.ndarray, str | None]:
    """The name of the part containing each point ("" where none does, or when there are
    no parts or no name column), and the column the names came from."""
    empty = np.full(len(points), "", dtype=object)
    if parts is None:
        return empty, None
    if not isinstance(parts, gpd.GeoDataFrame) or parts.empty:
        raise DataError("area_parts must be a non-empty GeoDataFrame of boundaries")
    if parts.crs is None:
        raise DataError("area_parts has no CRS: set one (e.g. parts.set_crs('EPSG:27700'))")
    column = name_column(parts)
    if column is None:
        return empty, None
    parts = parts.to_crs(points.crs)
    names = parts[column].astype(object).where(parts[column].notna(), "").astype(str)
    point_idx, part_idx = shapely.STRtree(parts.geometry.values).query(
        np.asarray(points.values, dtype=object), predicate="intersects")
    # a point on a shared boundary touches two parts: the first part listed names it
    first = pd.Series(part_idx).groupby(point_idx).min()
    empty[first.index.to_numpy()] = names.to_numpy()[first.to_numpy()]
    return empty, column
