"""Coordinates of rows: parse longitude/latitude or projected x/y text, flag missing, bad
and out-of-country points, and project between CRS."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from pyproj import Transformer

from hotspot.core.area import WGS84
from hotspot.ingest._rows import Rows
from hotspot.ingest.schema import BAD_COORDINATES, NO_COORDINATES, OUTSIDE_COUNTRY


def _number(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse stripped text to float: the values and the mask of blank fields."""
    blank = (text == "").to_numpy()
    values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype="float64")
    return values, blank


def set_lonlat(rows: Rows, lon_text: pd.Series, lat_text: pd.Series) -> None:
    """Set ``lon``/``lat`` from text; flag ``no_coordinates`` then ``bad_coordinates``."""
    lon, lon_blank = _number(lon_text)
    lat, lat_blank = _number(lat_text)
    rows["lon"], rows["lat"] = lon, lat
    rows.flag(lon_blank | lat_blank, NO_COORDINATES)
    rows.flag(~lonlat_valid(lon, lat), BAD_COORDINATES)


def set_xy(rows: Rows, x_text: pd.Series, y_text: pd.Series, input_crs: str) -> None:
    """Set ``x``/``y`` from projected text in ``input_crs`` and ``lon``/``lat`` from them;
    flag missing or bad ones."""
    x, x_blank = _number(x_text)
    y, y_blank = _number(y_text)
    rows.flag(x_blank | y_blank, NO_COORDINATES)
    # (0, 0) is a placeholder in projected data too, never a real point.
    rows.flag(~(np.isfinite(x) & np.isfinite(y)) | ((x == 0) & (y == 0)), BAD_COORDINATES)
    rows["lon"], rows["lat"] = project(x, y, input_crs, WGS84)
    rows["x"], rows["y"], rows.xy_crs = x, y, input_crs
    rows.flag(~lonlat_valid(rows["lon"], rows["lat"]), BAD_COORDINATES)


def lonlat_valid(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Finite, within [-180, 180] x [-90, 90], and not (0, 0), police.uk's "no point"."""
    with np.errstate(invalid="ignore"):
        inside = (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    return np.isfinite(lon) & np.isfinite(lat) & inside & ~((lon == 0) & (lat == 0))


#: What police.uk covers (England, Wales, Northern Ireland; BTP also Scotland) as a WGS84
#: box ``(lon_min, lat_min, lon_max, lat_max)``: the United Kingdom with a margin.
UK_BBOX = (-8.7, 49.8, 1.9, 60.9)


def flag_outside_country(rows: Rows, bbox: tuple[float, float, float, float] = UK_BBOX) -> None:
    """Flag ``outside_country``: valid coordinates outside ``bbox`` (swapped longitude and
    latitude land in the Indian Ocean or Somalia, not in a study area nobody set)."""
    lon, lat = rows["lon"], rows["lat"]
    with np.errstate(invalid="ignore"):
        inside = (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
    rows.flag(~inside, OUTSIDE_COUNTRY)


@functools.lru_cache(maxsize=16)
def _transformer(from_crs: str, to_crs: str) -> Transformer:
    return Transformer.from_crs(from_crs, to_crs, always_xy=True)


def project(
    x: np.ndarray, y: np.ndarray, from_crs: str, to_crs: str
) -> tuple[np.ndarray, np.ndarray]:
    """Transform coordinate arrays (easting or longitude first); invalid input gives inf."""
    with np.errstate(invalid="ignore"):
        px, py = _transformer(from_crs, to_crs).transform(
            np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        )
    return np.asarray(px, dtype="float64"), np.asarray(py, dtype="float64")
