"""Atomic writes: build under a temporary name beside the target, then rename.

A crash part-way leaves the previous version in place (a rename within one directory
is atomic on POSIX); readers never see a half-written file.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from hotspot.core.errors import ConfigError, DataError

#: Errors that mean "the disk is full", turned into one line naming what was kept.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def _temporary_sibling(target: Path) -> Path:
    return target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")


@contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write a file or folder to; it replaces ``target`` on success.

    For a folder the old one is moved aside and deleted only after the new one is in
    place, so at every instant a complete version exists under one of the two names.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_sibling(target)
    try:
        yield tmp
        if tmp.is_dir() and target.exists():
            old = _temporary_sibling(target)
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_text_atomic(target: Path | str, text: str) -> Path:
    """Write ``text`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text)
    return Path(target)


def _staging_name(target: Path) -> Path:
    # the pid lets a later run tell a dead run's leftovers from a live run's staging
    return target.with_name(f".{target.name}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_dead_staging(target: Path) -> None:
    """Delete staging folders of ``target`` left by runs that were killed (pid gone).

    A run killed between its two renames left the previous version under ``.old-``
    and no ``target``: that version is put back first, never deleted.
    """
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.(staging|old)-(\d+)-[0-9a-f]{{8}}$")
    for path in sorted(target.parent.iterdir()):
        match = pattern.match(path.name)
        if not match or not path.is_dir() or path.is_symlink() or _pid_alive(int(match[2])):
            continue
        if match[1] == "old" and not target.exists():
            os.replace(path, target)
        else:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def replace_folder(target: Path | str, owned: Collection[str] | None = None,
                   *, option: str = "--out") -> Iterator[Path]:
    """Yield an empty staging folder beside ``target``; on success it replaces ``target``
    as a whole (one rename), on any error it is deleted and ``target`` is untouched.

    So a run folder never mixes files of two runs: readers see the old folder or the new
    one. ``owned`` names the entries a run writes; a ``target`` holding anything else is
    refused before any work, because replacing it would delete files this tool did not
    write (``--out .`` must not wipe a working directory). A full disk is reported as
    ``DataError`` saying the previous folder was kept.
    """
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{option} {target} is a file, not a folder: name a folder")
    if owned is not None and target.is_dir():
        foreign = sorted(p.name for p in target.iterdir() if p.name not in set(owned))
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more"
                                              if len(foreign) > 5 else "")
            raise ConfigError(
                f"{option} {target} holds files this command did not write ({shown}): the "
                "folder is replaced as a whole, so name a new or empty folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_dead_staging(target)
        staging = _staging_name(target)
        staging.mkdir()
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise DataError(f"no space left on the disk to write {target}") from None
        raise
    try:
        yield staging
        if target.exists():
            old = target.with_name(staging.name.replace(".staging-", ".old-", 1))
            os.replace(target, old)
            try:
                os.replace(staging, target)
            except OSError:
                os.replace(old, target)  # put the previous run back before reporting
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, target)
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise DataError(f"no space left on the disk while writing {target}: the previous "
                            "version is kept and nothing was half-written") from None
        raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
