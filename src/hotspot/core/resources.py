"""Files shipped inside the package (``hotspot.data``), found the same way from a checkout,
an editable install or a wheel."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hotspot.core.errors import DataError


def embedded_path(*parts: str) -> Path:
    """The path of a file or folder shipped in ``hotspot.data``, e.g.
    ``embedded_path("boundaries", "city-of-london-wards.gpkg")``."""
    resource = files("hotspot.data").joinpath(*parts)
    if not isinstance(resource, Path):
        # Readers (pyogrio, pyarrow) need real files; a zipped install has none.
        raise DataError(f"packaged data {'/'.join(parts)} is not on the file system: install "
                        "hotspot from a wheel or a checkout, not a zip")
    if not resource.exists():
        raise DataError(f"packaged data {'/'.join(parts)} is missing from {resource.parent}: "
                        "reinstall hotspot")
    # The real file, whichever way the package was found (a checkout reaches the data
    # through the src/hotspot/data link), so paths printed and recorded compare equal.
    return resource.resolve()
