"""Which column of a boundary layer names its polygons (wards, beats, districts).

Maps, patrol sheets and claim control units all label polygons the same way, so the rule
lives once here, below every layer that needs it.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

#: Columns tried first, in this order, when they hold text.
NAME_COLUMNS = ("NAME", "name", "Name")


def is_text(column: pd.Series) -> bool:
    """True when every non-missing value of ``column`` is a string."""
    if pd.api.types.is_string_dtype(column.dtype) and column.dtype != object:
        return True
    values = column.dropna()
    return column.dtype == object and not values.empty and bool(
        values.map(lambda v: isinstance(v, str)).all())


def name_column(parts: gpd.GeoDataFrame, *, any_column: bool = False) -> str | None:
    """The column of ``parts`` holding the polygon names: ``NAME``/``name``/``Name``, else
    the first text column; with ``any_column`` then the first non-geometry column (a
    numeric id such as Chicago's ``district``); ``None`` when there is none."""
    columns = [c for c in parts.columns if c != parts.geometry.name]
    for wanted in NAME_COLUMNS:
        if wanted in columns and is_text(parts[wanted]):
            return wanted
    text = next((str(c) for c in columns if is_text(parts[c])), None)
    if text is None and any_column and columns:
        return str(columns[0])
    return text
