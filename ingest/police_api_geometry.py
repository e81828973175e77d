"""Geometry for police.uk API queries: polygons as the API's ``poly`` text, and the
quadrants a polygon is split into when the API answers 503 (too many crimes)."""

from __future__ import annotations

from collections.abc import Sequence

import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from hotspot.core.errors import DataError


def encode_poly(ring: Sequence[tuple[float, float]]) -> str:
    """``lat,lng:lat,lng:…`` (6 decimals) from ``(lon, lat)`` vertices; the closing vertex
    is dropped (the API closes the ring itself)."""
    points = list(ring)
    if len(points) > 1 and points[0] == points[-1]:
        points = points[:-1]
    if len(points) < 3:
        raise DataError("a police.uk poly needs at least three vertices")
    return ":".join(f"{lat:.6f},{lon:.6f}" for lon, lat in points)


def polygon_parts(geometry: BaseGeometry) -> list[Polygon]:
    """The polygons of any geometry (collections flattened, lines and points dropped)."""
    if geometry.is_empty:
        return []
    if isinstance(geometry, Polygon):
        return [geometry] if geometry.area > 0 else []
    if isinstance(geometry, MultiPolygon) or hasattr(geometry, "geoms"):
        return [p for g in geometry.geoms for p in polygon_parts(g)]
    return []


def polygon_rings(geometry: BaseGeometry) -> list[list[tuple[float, float]]]:
    """Exterior rings (holes are ignored: points in them are quarantined at ingest)."""
    return [list(p.exterior.coords) for p in polygon_parts(geometry)]


def quadrants(piece: BaseGeometry) -> list[Polygon]:
    """The four quadrants of ``piece``'s bounding box."""
    minx, miny, maxx, maxy = piece.bounds
    mx, my = (minx + maxx) / 2, (miny + maxy) / 2
    return [box(minx, miny, mx, my), box(mx, miny, maxx, my),
            box(minx, my, mx, maxy), box(mx, my, maxx, maxy)]


def query_polygon(area_wgs84: BaseGeometry, buffer_deg: float = 0.0003,
                  tolerance_deg: float = 0.0001) -> BaseGeometry:
    """The area as sent to the API: buffered a little (about 30 m, so points snapped onto
    the boundary are not lost) and simplified (fewer vertices, shorter requests).

    Points the buffer adds outside the area are quarantined as ``outside_study_area`` at
    ingest, exactly like the out-of-area rows of a downloaded file."""
    grown = area_wgs84.buffer(buffer_deg)
    return shapely.simplify(grown, tolerance_deg, preserve_topology=True)
