"""A small store of the shipped City of London sample (ingested and cubed once per test
module that asks), for the tests of targets and ``auto`` through the app and CLI."""

from __future__ import annotations

from pathlib import Path

from hotspot.core.area import load_area
from hotspot.core.resources import embedded_path
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.pipeline import cube_from_store, save_store_cube

WARDS = embedded_path("boundaries", "city-of-london-wards.gpkg")
#: Ten months: enough history for a few held-out months, quick to ingest.
MONTHS = tuple(f"2020-{m:02d}" for m in range(1, 11))


def city_store(root: Path, months: tuple[str, ...] = MONTHS) -> Path:
    """Ingest ``months`` of the sample into ``root/store`` and save its plain cube."""
    store = Path(root) / "store"
    area = load_area(WARDS)
    ingest_police_uk([embedded_path("police-uk", m) for m in months], store, area=area)
    save_store_cube(cube_from_store(store, 150.0, "M", area), store)
    return store
