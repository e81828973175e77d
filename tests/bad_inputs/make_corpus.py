"""The bad-input corpus: broken police.uk inputs, generated (not stored) so the repo stays
small. ``expected.toml`` says what each case must give.

    python tests/bad_inputs/make_corpus.py OUT     # writes OUT/<case>/... and lists them

Each case is a folder ``OUT/<case>/`` holding the inputs of one ``hotspot ingest police-uk``
call; the command is given the folder's ``inputs`` (see ``CASES``). ``good`` is a valid
month used to fill a store before a failing case, to show the store is left untouched.
"""

from __future__ import annotations

import csv
import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

COLUMNS = (
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
)  # fmt: skip
FORCE = "Kent Police"
#: Valid points in Kent (Maidstone, Canterbury, Dover, ...).
POINTS = [(0.5221, 51.2720), (1.0788, 51.2802), (1.3134, 51.1279), (0.2639, 51.1325),
          (0.5280, 51.3850), (0.8705, 51.1483), (1.3850, 51.3590), (0.7310, 51.3390)]
CATEGORIES = ["Violence and sexual offences", "Burglary", "Shoplifting", "Vehicle crime",
              "Criminal damage and arson", "Other theft"]


def street_rows(month: str, n: int, *, seed: int = 0, asb_every: int = 4) -> list[dict]:
    """``n`` valid rows for ``month``: ids are unique per (seed, month, row); every
    ``asb_every``-th row is anti-social behaviour with a blank id."""
    rows = []
    for i in range(n):
        lon, lat = POINTS[(i * 7 + seed) % len(POINTS)]
        asb = asb_every and i % asb_every == 0
        rows.append({
            "Crime ID": "" if asb else f"{seed:02d}{month.replace('-', '')}{i:06d}".ljust(64, "a"),
            "Month": month, "Reported by": FORCE, "Falls within": FORCE,
            "Longitude": f"{lon + (i % 13) * 1e-4:.6f}", "Latitude": f"{lat - (i % 11) * 1e-4:.6f}",
            "Location": f"On or near Street {i % 17}", "LSOA code": f"E0100{i % 90:04d}",
            "LSOA name": f"Kent {i % 90:03d}A",
            "Crime type": "Anti-social behaviour" if asb else CATEGORIES[i % len(CATEGORIES)],
            "Last outcome category": "" if asb else "Under investigation", "Context": "",
        })
    return rows


def csv_text(rows: list[dict], columns: tuple[str, ...] | list[str] = COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def street_name(month: str, force: str = "kent") -> str:
    return f"{month}-{force}-street.csv"


def write(path: Path, data: str | bytes, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


# --------------------------------------------------------------------------- cases
# Each returns the paths to pass to the ingest command.


def good(root: Path) -> list[Path]:
    return [write(root / "2019-01" / street_name("2019-01"), csv_text(street_rows("2019-01", 40)))]


def truncated_zip(root: Path) -> list[Path]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for month in ("2019-02", "2019-03"):
            archive.writestr(f"{month}/{street_name(month)}", csv_text(street_rows(month, 300)))
    blob = buffer.getvalue()
    return [write(root / "latest.zip", blob[: len(blob) * 6 // 10])]


def corrupt_zip_member(root: Path) -> list[Path]:
    buffer = io.BytesIO()
    name = f"2019-02/{street_name('2019-02')}"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, csv_text(street_rows("2019-02", 300)))
    blob = bytearray(buffer.getvalue())
    start = 30 + len(name) + 40  # inside the compressed data of the only member
    blob[start : start + 32] = b"\x00" * 32
    return [write(root / "archive.zip", bytes(blob))]


def latin1_file(root: Path) -> list[Path]:
    rows = street_rows("2019-02", 30)
    rows[17]["Location"] = "On or near Café Royal"  # é as one Latin-1 byte
    return [write(root / street_name("2019-02"), csv_text(rows), encoding="latin-1")]


def utf16_file(root: Path) -> list[Path]:
    return [write(root / street_name("2019-02"), csv_text(street_rows("2019-02", 30)),
                  encoding="utf-16")]


def header_only(root: Path) -> list[Path]:
    return [write(root / street_name("2019-02"), csv_text([]))]


def empty_file(root: Path) -> list[Path]:
    return [write(root / street_name("2019-02"), b"")]


def binary_garbage(root: Path) -> list[Path]:
    blob = bytes((i * 37 + 11) % 256 for i in range(4096))
    return [write(root / street_name("2019-02"), blob)]


def missing_columns(root: Path) -> list[Path]:
    rows = [{k: v for k, v in r.items() if k not in ("Longitude", "Latitude")}
            for r in street_rows("2019-02", 10)]
    columns = [c for c in COLUMNS if c not in ("Longitude", "Latitude")]
    return [write(root / street_name("2019-02"), csv_text(rows, columns))]


def ragged_rows(root: Path) -> list[Path]:
    text = csv_text(street_rows("2019-02", 50))
    return [write(root / street_name("2019-02"), text[: len(text) * 2 // 3])]  # cut mid-row


def shuffled_columns(root: Path) -> list[Path]:
    order = [COLUMNS[i] for i in (9, 5, 0, 11, 4, 2, 8, 1, 6, 10, 3, 7)]
    return [write(root / street_name("2019-02"), csv_text(street_rows("2019-02", 40), order))]


def shuffled_reference(root: Path) -> list[Path]:
    """The same rows as ``shuffled_columns`` in the usual column order."""
    return [write(root / street_name("2019-02"), csv_text(street_rows("2019-02", 40)))]


def swapped_lonlat(root: Path) -> list[Path]:
    rows = street_rows("2019-02", 40)
    for row in rows[:12]:
        row["Longitude"], row["Latitude"] = row["Latitude"], row["Longitude"]
    return [write(root / street_name("2019-02"), csv_text(rows))]


def outside_country(root: Path) -> list[Path]:
    rows = street_rows("2019-02", 40)
    abroad = [("2.352222", "48.856613"), ("-74.006000", "40.712800"), ("151.2093", "-33.8688")]
    for row, (lon, lat) in zip(rows[:9], abroad * 3, strict=True):
        row["Longitude"], row["Latitude"] = lon, lat
    rows[9]["Longitude"], rows[9]["Latitude"] = "0.000000", "0.000000"  # police.uk "no point"
    rows[10]["Longitude"], rows[10]["Latitude"] = "", ""
    return [write(root / street_name("2019-02"), csv_text(rows))]


def future_months(root: Path) -> list[Path]:
    return [write(root / "2099-01" / street_name("2099-01"),
                  csv_text(street_rows("2099-01", 25)))]


def bad_values(root: Path) -> list[Path]:
    rows = street_rows("2019-02", 40)
    rows[1]["Month"] = "2019-13"  # bad_month (Feb 2019 is read as 2019-02)
    rows[2]["Month"] = "2019-07"  # dated outside its file's month: bad_month
    rows[3]["Longitude"] = "east"  # bad_coordinates
    rows[5]["Latitude"] = "95.0"  # bad_coordinates (range)
    rows[6]["Crime ID"] = rows[7]["Crime ID"]  # duplicate_crime_id (row 8 is the repeat)
    return [write(root / street_name("2019-02"), csv_text(rows))]


def duplicate_month_identical(root: Path) -> list[Path]:
    text = csv_text(street_rows("2019-02", 40))
    write(root / "download-1" / "2019-02" / street_name("2019-02"), text)
    write(root / "download-2" / "2019-02" / street_name("2019-02"), text)
    return [root / "download-1", root / "download-2"]


def duplicate_month_different(root: Path) -> list[Path]:
    write(root / "download-1" / "2019-02" / street_name("2019-02"),
          csv_text(street_rows("2019-02", 40)))
    write(root / "download-2" / "2019-02" / street_name("2019-02"),
          csv_text(street_rows("2019-02", 41)))  # republished: one more crime
    return [root / "download-1", root / "download-2"]


def missing_path(root: Path) -> list[Path]:
    return [root / "2019-02" / street_name("2019-02")]  # never written


CASES: dict[str, Callable[[Path], list[Path]]] = {
    f.__name__: f
    for f in (
        good, truncated_zip, corrupt_zip_member, latin1_file, utf16_file, header_only,
        empty_file, binary_garbage, missing_columns, ragged_rows, shuffled_columns,
        shuffled_reference, swapped_lonlat, outside_country, future_months, bad_values,
        duplicate_month_identical, duplicate_month_different, missing_path,
    )
}


def make_case(name: str, out: Path) -> list[Path]:
    """Write case ``name`` under ``out/name`` and return the paths to ingest."""
    return CASES[name](Path(out) / name)


def make_corpus(out: Path) -> dict[str, list[Path]]:
    return {name: make_case(name, out) for name in CASES}


if __name__ == "__main__":
    for case, paths in make_corpus(Path(sys.argv[1])).items():
        print(case, *paths)
