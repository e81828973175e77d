"""Study areas: a boundary file (optionally filtered) or a bounding box, in a metric CRS.

A study area can be clipped to land (``clip_to_land``, setting ``clip_water``): each part
is intersected with the union of the polygons of a land file, the polygons to *keep*
(e.g. a coastline or "land" layer). Land rather than water because boundary files such
as the City of London's wards run to the middle of the Thames, and a land layer clips
any river, dock or coast without the project shipping a water polygon for each. Parts
left with no land keep their row with an empty geometry: nothing is dropped unseen. The
clip is recorded in each part's ``land_clip`` column, so the area saved in a store (and
the reports built from it) still say that and what it was clipped to.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from shapely import make_valid
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from hotspot.core.errors import ConfigError, DataError, GridError

BRITISH_NATIONAL_GRID = "EPSG:27700"
WGS84 = "EPSG:4326"
# Great Britain's extent in WGS84 (lon_min, lat_min, lon_max, lat_max); inside it the
# British National Grid is the metric CRS every GB data set already uses.
_GREAT_BRITAIN = (-8.7, 49.8, 1.9, 60.9)
_BOUNDARY_FILES = "a shapefile, .zip, .gpkg or .geojson"
#: Column of a clipped area's parts naming the land file it was clipped to.
LAND_CLIP_COLUMN = "land_clip"


@dataclass(frozen=True)
class StudyArea:
    """A study area: its parts (e.g. wards) and their union, both in ``crs`` (metres)."""

    parts: gpd.GeoDataFrame
    crs: str

    @property
    def geometry(self) -> BaseGeometry:
        return self.parts.union_all()

    @property
    def area_m2(self) -> float:
        return float(self.geometry.area)

    @property
    def clipped_to(self) -> str | None:
        """The land file the area was clipped to, or ``None``."""
        return land_clip_of(self.parts)

    def to_file(self, path: Path) -> None:
        self.parts.to_file(path, driver="GPKG", layer="area")


def land_clip_of(parts: gpd.GeoDataFrame | None) -> str | None:
    """The land file recorded in ``parts``' ``land_clip`` column, or ``None``."""
    if parts is None or LAND_CLIP_COLUMN not in parts.columns:
        return None
    names = parts[LAND_CLIP_COLUMN].dropna().astype(str)
    names = names[names != ""]
    return None if names.empty else str(names.iloc[0])


def choose_metric_crs(lon: float, lat: float) -> str:
    """EPSG:27700 inside Great Britain, otherwise the WGS84 UTM zone of the point."""
    lon_min, lat_min, lon_max, lat_max = _GREAT_BRITAIN
    if lon_min <= lon <= lon_max and lat_min <= lat <= lat_max:
        return BRITISH_NATIONAL_GRID
    zone = int(np.floor((lon + 180) / 6)) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def _check_metric(crs: str) -> str:
    try:
        parsed = CRS.from_user_input(crs)
    except Exception:
        raise ConfigError(f"--crs {crs!r} is not a CRS pyproj knows: use e.g. EPSG:27700") from None
    unit = parsed.axis_info[0].unit_name if parsed.axis_info else ""
    if not parsed.is_projected or unit not in ("metre", "meter"):
        raise ConfigError(f"--crs {crs} is not a projected CRS in metres: cells need metres")
    return parsed.to_string()


def _parse_filter(area_filter: str) -> tuple[str, str]:
    column, sep, value = area_filter.partition("=")
    if not sep or not column.strip():
        raise ConfigError(f"--area-filter {area_filter!r} must look like COLUMN=VALUE")
    return column.strip(), value.strip()


def _finish(parts: gpd.GeoDataFrame, crs: str | None, source: str) -> StudyArea:
    if parts.empty:
        raise GridError(f"study area from {source} is empty")
    parts = parts.copy()
    parts["geometry"] = parts.geometry.apply(make_valid)
    if crs is None:
        centre = parts.to_crs(WGS84).union_all().centroid
        crs = choose_metric_crs(centre.x, centre.y)
    crs = _check_metric(crs)
    parts = parts.to_crs(crs)
    if parts.union_all().area <= 0:
        raise GridError(f"study area from {source} has no area (points or lines only?): "
                        f"a study area needs a boundary file with polygons ({_BOUNDARY_FILES})")
    return StudyArea(parts=parts.reset_index(drop=True), crs=crs)


def load_area(
    path: Path | str, area_filter: str | None = None, crs: str | None = None, *,
    clip_land: Path | str | None = None,
) -> StudyArea:
    """Read a boundary file (shapefile, zipped shapefile, GeoPackage, GeoJSON).

    Parameters
    ----------
    path
        The boundary file; a ``.zip`` is read as a zipped shapefile.
    area_filter
        ``COLUMN=VALUE`` keeps only matching features (e.g. ``BOROUGH=City of London``).
    crs
        Metric CRS for the grid; default EPSG:27700 in Great Britain, else the UTM zone.
    clip_land
        A file of land polygons: the area is clipped to them (:func:`clip_to_land`).
    """
    area = _load_area(Path(path), area_filter, crs)
    return area if clip_land is None else clip_to_land(area, clip_land)


def _read_polygons(path: Path, what: str) -> gpd.GeoDataFrame:
    if not path.exists():
        raise DataError(f"{what} {path} not found: pass a shapefile, .zip, .gpkg or .geojson")
    try:
        frame = gpd.read_file(path)
    except Exception as exc:
        raise DataError(f"{what} {path} cannot be read as a boundary file: {exc}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or (len(frame) and frame.geometry.isna().all()):
        raise DataError(f"{what} {path} has no geometry: a study area needs a boundary file "
                        f"with polygons ({_BOUNDARY_FILES})")
    if frame.crs is None:
        raise DataError(f"{what} {path} has no CRS: add a .prj or use a GeoPackage")
    return frame


def clip_to_land(area: StudyArea, land_file: Path | str) -> StudyArea:
    """``area`` with each part cut to the polygons of ``land_file`` (see the module
    docstring); ``DataError`` when the file has no polygon or none overlaps the area."""
    land_file = Path(land_file)
    what = "--clip-water land file"
    land = _read_polygons(land_file, what).to_crs(area.crs)
    geoms = shapely.make_valid(np.asarray(land.geometry.dropna().values, dtype=object))
    polygons = [g for g in shapely.get_parts(geoms)
                if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons or shapely.union_all(polygons).area <= 0:
        raise DataError(f"{what} {land_file} has no polygons: it must hold the land to keep "
                        f"as polygons ({_BOUNDARY_FILES})")
    land_union = shapely.union_all(polygons)
    parts = area.parts.copy()
    # intersections along shared edges leave lines and points: only area counts
    parts["geometry"] = [_polygonal(shapely.intersection(g, land_union))
                         for g in parts.geometry.values]
    if parts.union_all().area <= 0:
        raise DataError(f"{what} {land_file}: none of its polygons overlaps the study area "
                        f"(is it the land to keep, in the right place and CRS?)")
    parts[LAND_CLIP_COLUMN] = str(land_file)
    return StudyArea(parts=parts, crs=area.crs)


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    pieces = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    if not pieces:
        return shapely.Polygon()
    return pieces[0] if len(pieces) == 1 else shapely.MultiPolygon(pieces)


def _load_area(path: Path, area_filter: str | None, crs: str | None) -> StudyArea:
    parts = _read_polygons(path, "area file")
    # Some shapefiles' .prj (the shared London wards among them) describe the British
    # National Grid without its EPSG code, too loosely for pyproj to call it EPSG:27700 at
    # its usual confidence; name it so the grid and the store get the exact CRS.
    if parts.crs.to_epsg() is None and parts.crs.to_epsg(min_confidence=20) == 27700:
        parts = parts.set_crs(BRITISH_NATIONAL_GRID, allow_override=True)
    if area_filter:
        column, value = _parse_filter(area_filter)
        if column not in parts.columns:
            raise ConfigError(
                f"--area-filter column {column!r} is not in {path}; columns: "
                + ", ".join(c for c in parts.columns if c != "geometry")
            )
        parts = parts[parts[column].astype(str) == value]
        if parts.empty:
            raise ConfigError(f"--area-filter {area_filter!r} matches no feature in {path}")
    return _finish(parts, crs, str(path))


def bbox_area(
    lon_min: float, lat_min: float, lon_max: float, lat_max: float, crs: str | None = None
) -> StudyArea:
    """A rectangular study area given in WGS84 degrees."""
    if not (lon_min < lon_max and lat_min < lat_max):
        raise ConfigError("--bbox must be LON_MIN,LAT_MIN,LON_MAX,LAT_MAX with min < max")
    parts = gpd.GeoDataFrame(
        {"name": ["bbox"]}, geometry=[box(lon_min, lat_min, lon_max, lat_max)], crs=WGS84
    )
    return _finish(parts, crs, "--bbox")


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """Parse ``LON_MIN,LAT_MIN,LON_MAX,LAT_MAX``."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise ConfigError(f"--bbox {text!r} must be four numbers LON_MIN,LAT_MIN,LON_MAX,LAT_MAX")
    return values  # type: ignore[return-value]


def same_crs(a: object, b: object) -> bool:
    """Whether two CRS (EPSG strings, WKT, ``pyproj.CRS``) are the same CRS. Strings are never
    compared: ``EPSG:27700`` and its WKT are equal, ``epsg:27700 `` is not a different CRS."""
    return _parse_crs(a) == _parse_crs(b)


def _parse_crs(crs: object) -> CRS:
    # Ingest compares CRS once per block of rows: parse each text once (pyproj takes ~1 ms).
    return _parse_crs_text(crs) if isinstance(crs, str) else CRS.from_user_input(crs)


@functools.lru_cache(maxsize=64)
def _parse_crs_text(text: str) -> CRS:
    return CRS.from_user_input(text)
