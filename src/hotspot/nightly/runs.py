"""Run folders ``RUNS/YYYY-MM-DD[-n]/``, the ``latest`` pointer, retention, code version."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import hotspot
from hotspot.core.atomic import write_text_atomic
from hotspot.core.errors import ConfigError, DataError

log = logging.getLogger(__name__)

LATEST = "latest"
LATEST_TXT = "latest.txt"
_RUN_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?:-(?P<n>\d+))?$")


def time_zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone ``name`` (None: the machine's local zone); ``ConfigError`` if unknown."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"setting 'nightly.schedule.timezone': unknown time zone {name!r}: "
                          "give an IANA name such as Europe/London or UTC") from exc


def run_day(timezone: str | None, at: dt.datetime | None = None) -> dt.date:
    """The date of a run at ``at`` (default now) in ``timezone`` (default the machine's
    zone): the date in its run folder and in its flow-run name, so a 00:30 run in London
    during summer time is dated London's day, not UTC's."""
    zone = time_zone(timezone)
    at = at or dt.datetime.now(dt.UTC)
    if at.tzinfo is None:
        at = at.astimezone()  # a naive time is the machine's local time
    return at.astimezone(zone).date() if zone else at.astimezone().date()


def list_runs(runs_dir: Path) -> list[str]:
    """Run folder names, oldest first (by date, then the same-day suffix)."""
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        return []
    found = []
    for path in runs_dir.iterdir():
        match = _RUN_NAME.match(path.name)
        if match and path.is_dir() and not path.is_symlink():
            found.append((match["date"], int(match["n"] or 1), path.name))
    return [name for *_, name in sorted(found)]


def next_run_name(runs_dir: Path, day: dt.date) -> str:
    base = day.isoformat()
    if not (Path(runs_dir) / base).exists():
        return base
    n = 2
    while (Path(runs_dir) / f"{base}-{n}").exists():
        n += 1
    return f"{base}-{n}"


def read_latest(runs_dir: Path) -> str | None:
    """The run ``latest`` points to: the symlink's target, else ``latest.txt``."""
    runs_dir = Path(runs_dir)
    link = runs_dir / LATEST
    if link.is_symlink():
        return Path(os.readlink(link)).name
    text = runs_dir / LATEST_TXT
    if text.exists():
        return text.read_text().strip() or None
    return None


def update_latest(runs_dir: Path, name: str) -> None:
    """Point ``latest`` at ``runs_dir/name``: a relative symlink swapped in with
    ``os.replace`` (atomic), and ``latest.txt`` for platforms without symlinks."""
    runs_dir = Path(runs_dir)
    if not (runs_dir / name).is_dir():
        raise DataError(f"run folder {runs_dir / name} does not exist")
    tmp = runs_dir / f".{LATEST}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        os.symlink(name, tmp, target_is_directory=True)
        os.replace(tmp, runs_dir / LATEST)
    except (OSError, NotImplementedError) as exc:
        log.info("no symlink for latest (%s); latest.txt only", exc)
    finally:
        if tmp.is_symlink():
            tmp.unlink()
    write_text_atomic(runs_dir / LATEST_TXT, name + "\n")


def prune_runs(runs_dir: Path, keep: int) -> list[str]:
    """Delete the oldest runs beyond ``keep``, never the one ``latest`` points to."""
    runs = list_runs(runs_dir)
    latest = read_latest(runs_dir)
    doomed = [name for name in runs[:-keep] if name != latest] if keep < len(runs) else []
    for name in doomed:
        shutil.rmtree(Path(runs_dir) / name)
    return doomed


#: Where the code runs from: a git checkout (editable install) names its commit; a wheel
#: in site-packages has none.
_CODE_DIR = Path(__file__).resolve().parent


def code_version() -> dict:
    """The package version and, where available, the git commit of the code."""
    info: dict[str, Any] = {"package": "hotspot", "version": hotspot.__version__,
                            "git_commit": None, "git_dirty": None}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_CODE_DIR, timeout=5,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=_CODE_DIR, timeout=5, capture_output=True, text=True,
                               check=True).stdout.strip()
        info.update(git_commit=commit or None, git_dirty=bool(dirty))
    except (OSError, subprocess.SubprocessError):
        pass
    return info

