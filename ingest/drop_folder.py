"""New-month detection in a drop folder of police.uk downloads.

A drop folder is where someone (or a sync job) puts what data.police.uk hands out: the
bulk ``.zip`` archives and/or the unpacked ``YYYY-MM/YYYY-MM-<force>-street.csv`` trees.
Each street CSV and each zip is one *item*; an item is due for ingest when its content
hash is not the one recorded as ingested for its path, or when a month it carries is
missing from the store altogether (a wiped or new store). Hashes are cached by size and
modification time so an unchanged multi-gigabyte archive is not re-read every night.

Files still being copied are left for the next pass: names starting with ``.`` or ending
in ``.part``/``.tmp``/``.crdownload``, and files modified in the last ``settle_s`` seconds.
"""

from __future__ import annotations

import hashlib
import re
import time
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from hotspot.core.errors import DataError
from hotspot.ingest._read import folder_files
from hotspot.ingest.police_uk import force_slug

_STREET = re.compile(r"^(?P<month>\d{4}-(0[1-9]|1[0-2]))-(?P<force>.+)-street\.csv$",
                     re.IGNORECASE)
_PARTIAL_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial")


@dataclass(frozen=True)
class DropItem:
    """One ingestible file in the drop folder: a street CSV or a zip of them."""

    path: Path
    kind: str  # "csv" or "zip"
    months: tuple[str, ...]
    sources: tuple[str, ...]
    size: int
    mtime_ns: int
    sha256: str

    @property
    def key(self) -> str:
        return str(self.path)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "kind": self.kind, "months": list(self.months),
                "sources": list(self.sources), "size": self.size, "mtime_ns": self.mtime_ns,
                "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: Mapping) -> DropItem:
        return cls(path=Path(data["path"]), kind=data["kind"], months=tuple(data["months"]),
                   sources=tuple(data["sources"]), size=int(data["size"]),
                   mtime_ns=int(data["mtime_ns"]), sha256=data["sha256"])


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _street_members(path: Path) -> list[tuple[str, str]]:
    """``(month, source)`` of every street CSV inside a zip archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [i.filename for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"drop folder: {path} is not a readable zip archive ({exc})") from None
    found = []
    for name in names:
        if name.startswith("__MACOSX/"):
            continue
        match = _STREET.match(PurePosixPath(name).name)
        if match:
            found.append((match["month"], force_slug(PurePosixPath(name).name)))
    return found


def _is_partial(path: Path) -> bool:
    return path.name.startswith(".") or path.name.lower().endswith(_PARTIAL_SUFFIXES)


def scan_drop_folder(
    folder: Path | str,
    *,
    known: Mapping[str, Mapping] | None = None,
    settle_s: float = 0.0,
    now: float | None = None,
) -> list[DropItem]:
    """Every street CSV and zip of street CSVs under ``folder``, sorted by path.

    ``known`` (path → a previous ``DropItem.to_dict()``) lets unchanged files (same size
    and modification time) reuse their hash instead of being read again.
    """
    folder = Path(folder)
    if not folder.exists():
        raise DataError(
            f"drop folder {folder} not found: create it, or fix sources.drop_folder in the "
            "nightly config"
        )
    known = known or {}
    now = time.time() if now is None else now
    items = []
    for path in folder_files(folder):  # linked month folders too
        if _is_partial(path) or any(part.startswith(".") for part in path.relative_to(
                folder).parts[:-1]):
            continue
        lower = path.name.lower()
        if lower.endswith(".zip"):
            kind = "zip"
        elif _STREET.match(path.name):
            kind = "csv"
        else:
            continue  # outcomes, stop-and-search, notes: not ours
        stat = path.stat()
        if settle_s > 0 and now - stat.st_mtime < settle_s:
            continue  # probably still being copied; next pass
        previous = known.get(str(path.resolve()))
        if previous and previous.get("size") == stat.st_size and \
                previous.get("mtime_ns") == stat.st_mtime_ns and previous.get("sha256"):
            sha = str(previous["sha256"])
            months, sources = tuple(previous["months"]), tuple(previous["sources"])
        else:
            sha = file_sha256(path)
            if kind == "zip":
                members = _street_members(path)
                if not members:
                    continue  # a zip of something else
                months = tuple(sorted({m for m, _ in members}))
                sources = tuple(sorted({s for _, s in members}))
            else:
                match = _STREET.match(path.name)
                months, sources = (match["month"],), (force_slug(path.name),)
        items.append(DropItem(path=path.resolve(), kind=kind, months=months, sources=sources,
                              size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=sha))
    return items


def due_items(
    items: Iterable[DropItem],
    ingested: Mapping[str, Mapping],
    months_in_store: Iterable[str],
) -> list[DropItem]:
    """Items to ingest: content never ingested from that path (new or changed hash), or
    carrying a month the store has no partition for at all."""
    present = set(months_in_store)
    due = []
    for item in items:
        record = ingested.get(item.key)
        changed = record is None or record.get("sha256") != item.sha256
        if changed or not set(item.months) <= present:
            due.append(item)
    return due
