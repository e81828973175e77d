"""The event store on disk, committed one ingest run at a time.

Layout::

    STORE/generations/NNNNNN/                      one complete, never-modified version
        store.json                                 CRS and time resolution of the store
        events/month=YYYY-MM/<source>.parquet      canonical events, one file per month+source
        quarantine/month=YYYY-MM/<source>.parquet  rows that did not become events, with reason
        reports/ingest-<stamp>.{json,md}           one report per ingest run
        area.gpkg                                  the study area events were checked against
    STORE/current -> generations/NNNNNN            the committed generation (relative symlink)
    STORE/store.json, events, quarantine, reports, area.gpkg -> current/<same name>

A write (:func:`staged_generation`) builds the next generation in
``generations/.staging-<id>``, hard-linking every file it keeps from the committed one, and
commits it by swapping the ``current`` symlink with one ``os.replace``: a run killed or out
of disk at any point leaves the previous generation whole, and readers see the old
generation or the new one, never a mix. :func:`read_events` and friends resolve ``current``
once per call; code that globs ``STORE/events`` directly goes through the links. The
committed and the previous generation are kept (a reader that resolved the old one can
finish); older ones, and whatever a dead run left, are removed by the next write.

A store written before generations existed (real ``events/`` folders, no ``current``) is
read as a committed generation 0, and migrated on its first write: its files are
hard-linked into generation 1, ``current`` is swapped in, then each top-level name becomes
a link (files atomically; a folder is renamed aside first, so for an instant, once, a
reader globbing ``STORE/events`` directly may see no events; :func:`ensure_committed`
refuses a store a kill left in that state, and the next write finishes the migration).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyproj.exceptions import CRSError

from hotspot.core.area import same_crs
from hotspot.core.atomic import atomic_path, write_text_atomic
from hotspot.core.errors import DataError
from hotspot.core.locking import is_locked, store_lock
from hotspot.ingest.schema import EVENT_COLUMNS, EVENTS_SCHEMA, QUARANTINE_SCHEMA

TimeResolution = Literal["month", "timestamp"]

EVENTS_DIR = "events"
QUARANTINE_DIR = "quarantine"
REPORTS_DIR = "reports"
META_FILE = "store.json"
AREA_FILE = "area.gpkg"
GENERATIONS_DIR = "generations"
CURRENT = "current"
STAGING_PREFIX = ".staging-"
#: Top-level names that are links to ``current/<name>`` (what a generation holds).
GENERATION_NAMES = (META_FILE, EVENTS_DIR, QUARANTINE_DIR, REPORTS_DIR, AREA_FILE)
#: Errors that mean the disk, not the data, stopped a write.
_DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES}


# --------------------------------------------------------------------------- generations

def committed_root(store: Path) -> Path:
    """The folder holding the committed generation: ``generations/N`` (resolved once, so a
    caller reads one generation even if a commit lands meanwhile), or the store itself for
    a store of the layout before generations (generation 0)."""
    store = Path(store)
    link = store / CURRENT
    if link.is_symlink():
        return store / os.readlink(link)
    return store


def generation(store: Path) -> int:
    """The committed generation's number (0: no ingest committed with generations yet)."""
    root = committed_root(store)
    return int(root.name) if root != Path(store) else 0


def _generation_numbers(store: Path) -> list[int]:
    folder = Path(store) / GENERATIONS_DIR
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def _staging_folders(store: Path) -> list[Path]:
    folder = Path(store) / GENERATIONS_DIR
    return sorted(folder.glob(STAGING_PREFIX + "*")) if folder.is_dir() else []


def _legacy_temporaries(store: Path) -> list[Path]:
    """Temporary files the layout before generations left when killed mid-write."""
    store = Path(store)
    found = [p for p in store.glob(".*.tmp-*")]
    for kind in (EVENTS_DIR, QUARANTINE_DIR, REPORTS_DIR):
        folder = store / kind
        if folder.is_dir() and not folder.is_symlink():
            found += folder.glob("month=*/.*.tmp-*") if kind != REPORTS_DIR else folder.glob(
                ".*.tmp-*")
    return sorted(found)


def _links_complete(store: Path) -> bool:
    """Whether every name the committed generation holds is linked at the top level."""
    root = committed_root(store)
    for name in GENERATION_NAMES:
        path = Path(store) / name
        if (root / name).exists() and not (
                path.is_symlink() and os.readlink(path) == f"{CURRENT}/{name}"):
            return False
    return True


def ensure_committed(store: Path) -> None:
    """Raise ``DataError`` if the store's last write did not commit (a run killed or out of
    disk part-way, whose leftovers no live run owns), so its data may lack what that run was
    given. The committed generation itself is always whole; the next ingest cleans up."""
    store = Path(store)
    if is_locked(store):
        return  # a live run owns the staging folder; readers see the committed generation
    leftovers = _staging_folders(store) + _legacy_temporaries(store)
    done = _generation_numbers(store)
    if (store / CURRENT).is_symlink():
        leftovers += [store / GENERATIONS_DIR / f"{n:06d}" for n in done if n > generation(store)]
        broken = not _links_complete(store)
    else:
        broken = bool(done)  # generations written, none committed
    if leftovers or broken:
        what = ", ".join(p.name for p in leftovers[:3]) or "top-level links"
        raise DataError(
            f"store {store}: the last ingest did not finish (left {what}), so the store may "
            "lack data that run was given: rerun that ingest (the store still reads as "
            f"generation {generation(store)})"
        )


def _hard_link_tree(source: Path, target: Path) -> None:
    """Copy ``source`` (file or folder) to ``target`` as hard links (no bytes copied),
    skipping temporaries; falls back to copying where links are refused."""
    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    if source.is_dir():
        shutil.copytree(source, target, copy_function=link,
                        ignore=lambda _, names: [n for n in names if n.startswith(".")])
    elif source.is_file():
        link(str(source), str(target))


def _swap_link(path: Path, target: str) -> None:
    """Make ``path`` a symlink to ``target`` with one ``os.replace`` (atomic)."""
    tmp = path.with_name(f".{path.name}.link-{uuid.uuid4().hex[:8]}")
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _link_root(store: Path) -> None:
    """Point each top-level name at ``current/<name>`` (migrating real files and folders
    of the layout before generations)."""
    root = committed_root(store)
    for name in GENERATION_NAMES:
        path = store / name
        want = f"{CURRENT}/{name}"
        if not (root / name).exists():
            if path.is_symlink():
                path.unlink()
            continue
        if path.is_symlink() and os.readlink(path) == want:
            continue
        if path.is_dir() and not path.is_symlink():
            aside = store / f".{name}.legacy-{uuid.uuid4().hex[:8]}"
            os.replace(path, aside)
            _swap_link(path, want)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            _swap_link(path, want)


def clean_store(store: Path) -> list[Path]:
    """Remove what dead runs left (staging folders, uncommitted generations, temporaries),
    generations older than the previous one, and finish an interrupted migration. Call only
    while holding the store lock: then no live run owns any of it."""
    store = Path(store)
    removed = _staging_folders(store) + _legacy_temporaries(store)
    removed += sorted(store.glob(".*.legacy-*")) + sorted(store.glob(".*.link-*"))
    if (store / CURRENT).is_symlink():
        current = generation(store)
        older = [n for n in _generation_numbers(store) if n < current]
        keep = {current, *older[-1:]}
        removed += [store / GENERATIONS_DIR / f"{n:06d}"
                    for n in _generation_numbers(store) if n not in keep]
    else:
        removed += [store / GENERATIONS_DIR / f"{n:06d}" for n in _generation_numbers(store)]
    for path in removed:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    if (store / CURRENT).is_symlink():
        _link_root(store)
    return removed


def _disk_error(store: Path, exc: OSError) -> DataError:
    return DataError(
        f"cannot write store {store}: {exc.strerror or exc} ({exc.filename or store}); "
        "nothing was changed: free space or fix permissions, then rerun"
    )


@contextmanager
def staged_generation(store: Path) -> Iterator[Path]:
    """Yield a staging folder holding (as hard links) the committed generation; write the
    run's changes into it. On a clean exit it becomes the next generation, committed by one
    atomic swap of ``current``; on any error it is removed and the store is as before
    (disk-full and permission errors become ``DataError``). Takes the store lock."""
    store = Path(store)
    with store_lock(store):
        stage = store / GENERATIONS_DIR / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
        try:
            clean_store(store)
            base = committed_root(store)
            number = max([generation(store), *_generation_numbers(store)]) + 1
            stage.mkdir(parents=True)
            for name in GENERATION_NAMES:
                _hard_link_tree(base / name, stage / name)
            yield stage
            final = stage.with_name(f"{number:06d}")
            os.replace(stage, final)
            _point_current(store, final)
        except OSError as exc:
            shutil.rmtree(stage, ignore_errors=True)
            if exc.errno in _DISK_ERRORS:
                raise _disk_error(store, exc) from None
            raise
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        # committed; what follows only tidies and may be redone by the next write
        clean_store(store)


def _point_current(store: Path, final: Path) -> None:
    """The commit: ``current`` names the new generation."""
    _swap_link(store / CURRENT, f"{GENERATIONS_DIR}/{final.name}")


# --------------------------------------------------------------------------- meta

def read_store_meta(store: Path) -> dict:
    """Return the store's metadata; raise ``DataError`` if ``store`` is not an event store."""
    meta = committed_root(store) / META_FILE
    if not meta.exists():
        raise DataError(
            f"store {store} has no {META_FILE}: run 'hotspot ingest' into it first"
        )
    return json.loads(meta.read_text())


def init_store(store: Path, crs: str, time_resolution: TimeResolution) -> dict:
    """Check that an existing store (or staging folder) has the same CRS and time
    resolution, or write the metadata of a new one (into a staging folder: see
    :func:`staged_generation`)."""
    store = Path(store)
    wanted = {"crs": crs, "time_resolution": time_resolution}
    if (committed_root(store) / META_FILE).exists():
        meta = read_store_meta(store)
        for key, value in wanted.items():
            held = meta.get(key)
            same = _same_store_crs(held, value) if key == "crs" else held == value
            if not same:
                raise DataError(
                    f"store {store} holds {key}={held!r} but this ingest needs "
                    f"{value!r}: use a separate --store for this source"
                )
        return meta
    store.mkdir(parents=True, exist_ok=True)
    write_text_atomic(store / META_FILE, json.dumps(wanted, indent=2))
    return wanted


def _same_store_crs(held: object, wanted: str) -> bool:
    """Whether the CRS a store holds (any spelling pyproj reads) is ``wanted``."""
    if not isinstance(held, str):
        return False
    try:
        return same_crs(held, wanted)
    except CRSError:
        raise DataError(
            f"{META_FILE} holds crs={held!r}, which pyproj cannot read: write it as e.g. "
            "EPSG:27700 or re-ingest into a new --store"
        ) from None


# --------------------------------------------------------------------------- partitions

def _partition_file(store: Path, kind: str, month: str, source: str) -> Path:
    return Path(store) / kind / f"month={month}" / f"{source}.parquet"


def write_partition(
    store: Path, kind: Literal["events", "quarantine"], month: str, source: str, table: pd.DataFrame
) -> Path:
    """Atomically replace the ``(month, source)`` file of ``kind`` with ``table`` in
    ``store``, a staging folder (see :func:`staged_generation`)."""
    schema = EVENTS_SCHEMA if kind == EVENTS_DIR else QUARANTINE_SCHEMA
    target = _partition_file(store, kind, month, source)
    arrow = pa.Table.from_pandas(table[schema.names], schema=schema, preserve_index=False)
    with atomic_path(target) as tmp:
        pq.write_table(arrow, tmp)
    return target


def remove_partition(store: Path, kind: str, month: str, source: str) -> None:
    """Delete a partition file if present (a re-ingest that left no rows of that kind).

    On a committed store (not a staging folder) the removal is committed as a new
    generation of its own, so the committed generations are never changed in place."""
    store = Path(store)
    staging = store.parent.name == GENERATIONS_DIR and store.name.startswith(STAGING_PREFIX)
    if not staging and (committed_root(store) / META_FILE).exists():
        if not _partition_file(committed_root(store), kind, month, source).exists():
            return
        with staged_generation(store) as stage:
            _partition_file(stage, kind, month, source).unlink(missing_ok=True)
        return
    _partition_file(store, kind, month, source).unlink(missing_ok=True)


def list_months(store: Path, kind: str = EVENTS_DIR) -> list[str]:
    """Months (``YYYY-MM``) that have at least one partition file of ``kind``, sorted."""
    root = committed_root(store) / kind
    if not root.exists():
        return []
    return sorted(
        p.name.removeprefix("month=")
        for p in root.glob("month=*")
        if any(p.glob("*.parquet"))
    )


def _read(store: Path, kind: str, schema: pa.Schema, months: list[str] | None) -> pd.DataFrame:
    root = committed_root(store) / kind
    files = sorted(root.glob("month=*/*.parquet")) if root.exists() else []
    if months is not None:
        wanted = set(months)
        files = [f for f in files if f.parent.name.removeprefix("month=") in wanted]
    if not files:
        return schema.empty_table().to_pandas()
    dataset = ds.dataset([str(f) for f in files], schema=schema, format="parquet")
    return dataset.to_table().to_pandas()


def read_events(store: Path, months: list[str] | None = None) -> pd.DataFrame:
    """Read the committed generation's events (optionally only some months), sorted by
    time and id."""
    read_store_meta(store)
    events = _read(store, EVENTS_DIR, EVENTS_SCHEMA, months)
    return events.sort_values(["time", "event_id"], kind="stable").reset_index(drop=True)[
        EVENT_COLUMNS
    ]


def read_quarantine(store: Path, months: list[str] | None = None) -> pd.DataFrame:
    """Read the committed generation's quarantine: every input row that did not become an
    event, with reason."""
    return _read(store, QUARANTINE_DIR, QUARANTINE_SCHEMA, months)
