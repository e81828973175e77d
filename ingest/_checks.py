"""The checks every source runs after its own: future times, the store's projection and
the study area."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from hotspot.core.area import WGS84, StudyArea, same_crs
from hotspot.ingest._coordinates import project
from hotspot.ingest._rows import Rows
from hotspot.ingest.schema import FUTURE_TIME, INVALID_MONTH, OUTSIDE_STUDY_AREA


def month_labels(time: pd.Series) -> pd.Series:
    """``YYYY-MM`` of each timestamp, ``INVALID_MONTH`` where it is missing."""
    year = time.dt.year.astype("Int64").astype("str")
    month = time.dt.month.astype("Int64").astype("str").str.zfill(2)
    return (year + "-" + month).where(time.notna(), INVALID_MONTH).astype("str")


class CommonChecks:
    """The checks every source runs after its own, set up once per ingest.

    ``future_time``: ``time >= future_from``. ``outside_study_area``: the point is not in
    ``area`` (a point on the boundary counts as inside). Also sets ``x``/``y`` in ``crs``.
    """

    def __init__(self, crs: str, area: StudyArea | None, future_from: pd.Timestamp) -> None:
        self.crs = crs
        self.area = area
        # Compared once here, not per block: projected area and store share coordinates.
        self.area_in_store_crs = area is not None and same_crs(area.crs, crs)
        self.future_from = np.datetime64(future_from.as_unit("us").to_datetime64())
        self.geometry = None
        if area is not None:
            self.geometry = area.geometry
            shapely.prepare(self.geometry)

    def apply(self, rows: Rows) -> None:
        rows.flag(rows["time"] >= self.future_from, FUTURE_TIME)
        lon, lat = rows["lon"], rows["lat"]
        # Keep projected input that is already in the store's CRS (however it is written).
        if rows.xy_crs is None or not same_crs(rows.xy_crs, self.crs):
            rows["x"], rows["y"] = project(lon, lat, WGS84, self.crs)
        if self.area is None:
            return
        todo = rows.open
        if self.area_in_store_crs:
            ax, ay = rows["x"][todo], rows["y"][todo]
        else:
            ax, ay = project(lon[todo], lat[todo], WGS84, self.area.crs)
        outside = np.zeros(rows.n_rows, dtype=bool)
        outside[todo] = ~shapely.intersects_xy(self.geometry, ax, ay)
        rows.flag(outside, OUTSIDE_STUDY_AREA)
