"""Tiny police.uk and city-portal CSVs written to tmp_path, and the real data's path.

Test modules reach the helpers through the ``data`` fixture (an :class:`IngestData`), so
nothing imports this file by name.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from hotspot.core.area import StudyArea, bbox_area
from hotspot.ingest.police_uk import STREET_COLUMNS
from tests.conftest import SHARED_DATA


class IngestData:
    """Builders for small input files under ``root`` and helpers to inspect a store."""

    #: A study area around the City of London (WGS84 box, projected to EPSG:27700).
    AREA_BOX = (-0.10, 51.50, -0.07, 51.53)
    INSIDE = ("-0.090000", "51.515000")
    INSIDE_2 = ("-0.080000", "51.520000")
    OUTSIDE = ("-0.200000", "51.450000")
    SHARED_DATA = SHARED_DATA

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def shared(*parts: str) -> Path:
        """A path under ../shared/data, or skip the test saying what is missing."""
        path = SHARED_DATA.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"real data {path} is absent (../shared/data is not beside the project)")
        return path

    @classmethod
    def street_row(
        cls,
        crime_id: str = "",
        month: str = "2019-01",
        lonlat: tuple[str, str] | None = None,
        crime_type: str = "Burglary",
        **fields: str,
    ) -> dict[str, str]:
        """One police.uk street CSV row; ``fields`` override the other columns."""
        lonlat = lonlat or cls.INSIDE
        row = dict.fromkeys(STREET_COLUMNS, "")
        row.update(
            {
                "Crime ID": crime_id,
                "Month": month,
                "Reported by": "City of London Police",
                "Falls within": "City of London Police",
                "Longitude": lonlat[0],
                "Latitude": lonlat[1],
                "Location": "On or near Cheapside",
                "LSOA code": "E01032739",
                "LSOA name": "City of London 001F",
                "Crime type": crime_type,
            }
        )
        row.update(fields)
        return row

    @staticmethod
    def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
        """Write ``rows`` with a header (``columns`` default: the street columns)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(columns or STREET_COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        return path

    def street_file(
        self, month: str, force: str, rows: list[dict[str, str]], root: Path | None = None
    ) -> Path:
        """``root/YYYY-MM/YYYY-MM-<force>-street.csv`` (default root: ``self.root``)."""
        root = root or self.root
        return self.write_csv(root / month / f"{month}-{force}-street.csv", rows)

    def tree(self) -> Path:
        """Two months of City of London, one of BTP, plus outcomes and stop-and-search files.

        Six street rows are events (c1, c2, one ASB, c4, b1) plus c5 outside the area and
        c3 without coordinates.
        """
        row = self.street_row
        self.street_file(
            "2019-01",
            "city-of-london",
            [
                row("c1", "2019-01"),
                row("c2", "2019-01", self.INSIDE_2, "Robbery"),
                row("", "2019-01", crime_type="Anti-social behaviour"),
                row("c3", "2019-01", ("", "")),
            ],
        )
        self.street_file(
            "2019-02", "city-of-london", [row("c4", "2019-02"), row("c5", "2019-02", self.OUTSIDE)]
        )
        self.street_file(
            "2019-01",
            "btp",
            [row("b1", "2019-01", self.INSIDE_2, "Theft from the person", **{"LSOA code": ""})],
        )
        outcomes = self.root / "2019-01" / "2019-01-city-of-london-outcomes.csv"
        outcomes.write_text("Crime ID,Month,Outcome type\nc1,2019-01,Investigation complete\n")
        stops = self.root / "2019-02" / "2019-02-city-of-london-stop-and-search.csv"
        stops.write_text("Type,Date,Latitude,Longitude\nPerson search,2019-02-01,51.5,-0.1\n")
        return self.root

    @staticmethod
    def zip_tree(root: Path, archive: Path) -> Path:
        """Zip ``root``'s files with paths relative to it, as the bulk archive does."""
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(root).as_posix())
        return archive

    @staticmethod
    def store_files(store: Path) -> dict[str, bytes]:
        """Every events/quarantine file under ``store`` (relative path → bytes)."""
        return {
            str(p.relative_to(store)): p.read_bytes()
            for kind in ("events", "quarantine")
            for p in sorted((store / kind).rglob("*"))
            if p.is_file()
        }

    @staticmethod
    def reasons_by_row(quarantine: pd.DataFrame, file_name: str) -> dict[int, str]:
        """``{row: reason}`` for the quarantined rows of the file called ``file_name``."""
        rows = quarantine[quarantine["file"].str.endswith(file_name)]
        return dict(zip(rows["row"].tolist(), rows["reason"].tolist(), strict=True))


@pytest.fixture
def data(tmp_path: Path) -> IngestData:
    return IngestData(tmp_path / "police")


@pytest.fixture(scope="session")
def area() -> StudyArea:
    return bbox_area(*IngestData.AREA_BOX, crs="EPSG:27700")
