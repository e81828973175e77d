"""One writer per store: ``STORE/.lock``, held with ``fcntl.flock`` while a run writes.

Ingest, cube builds and other writes into a store take the lock; a second run on the same
store fails at once with a :class:`~hotspot.core.errors.DataError` naming the holder::

    store S is locked by another run (pid 1234 since 2026-01-02T03:04:05+00:00): wait or
    remove the lock if that run is dead

The kernel releases a ``flock`` when its holder dies (even by SIGKILL), so a crashed run
never blocks the next one; the file itself is removed when the lock is released. The lock
is re-entrant within one thread (a flow that holds it may call ingest), and refused to
other threads of the same process like to other processes.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from hotspot.core.errors import DataError

LOCK_FILE = ".lock"

_held: dict[Path, tuple[int, int, int]] = {}  # path -> (thread id, depth, fd)
_guard = threading.Lock()


def lock_path(store: Path | str) -> Path:
    return Path(store).resolve() / LOCK_FILE


def describe_holder(path: Path) -> str:
    """``pid N since T`` from the lock file, or ``unknown pid`` when it cannot be read."""
    try:
        pid, _, since = path.read_text().strip().partition(" ")
    except OSError:
        return "unknown pid"
    return f"pid {pid or '?'} since {since or '?'}"


def _locked_error(store: Path, path: Path) -> DataError:
    return DataError(
        f"store {store} is locked by another run ({describe_holder(path)}): wait or remove "
        f"the lock if that run is dead ({path})"
    )


def _acquire(store: Path, path: Path) -> int:
    """Open, lock and stamp the lock file; the fd. Retries if the file was replaced."""
    store.mkdir(parents=True, exist_ok=True)
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _locked_error(store, path) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the holder removed the file between our open and flock: try again
            os.close(fd)
            continue
        stamp = f"{os.getpid()} {datetime.now(UTC).isoformat(timespec='seconds')}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, stamp.encode(), 0)
        return fd
    raise DataError(f"cannot take the store lock {path}: it keeps being replaced")


@contextmanager
def store_lock(store: Path | str) -> Iterator[Path]:
    """Hold ``STORE/.lock`` for the block (creating the store folder if needed).

    Raises ``DataError`` at once if another process or thread holds it.
    """
    store = Path(store)
    path = lock_path(store)
    me = threading.get_ident()
    with _guard:
        held = _held.get(path)
        if held is not None:
            owner, depth, fd = held
            if owner != me:
                raise _locked_error(store, path)
            _held[path] = (owner, depth + 1, fd)
        else:
            fd = _acquire(store, path)
            _held[path] = (me, 1, fd)
    try:
        yield path
    finally:
        with _guard:
            owner, depth, fd = _held[path]
            if depth > 1:
                _held[path] = (owner, depth - 1, fd)
            else:
                del _held[path]
                try:  # remove first, then unlock: a waiter re-checks the inode (see _acquire)
                    path.unlink(missing_ok=True)
                finally:
                    os.close(fd)


def flock_held(path: Path) -> bool:
    """Whether another open file holds an ``flock`` on ``path`` now.

    A probe: takes the lock and drops it at once (closing our descriptor releases it), so
    it never blocks and leaves nothing held. Raises ``FileNotFoundError`` when ``path`` is
    missing and other ``OSError`` when it cannot be opened or locked: what that means
    (free, gone, not ours) is the caller's to say.
    """
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def is_locked(store: Path | str) -> bool:
    """Whether some run holds the store's lock now (a probe; takes and drops it)."""
    path = lock_path(store)
    if not path.exists():
        return False
    try:
        return flock_held(path)
    except FileNotFoundError:
        return False


def ensure_unlocked(store: Path | str) -> None:
    """Raise the lock's ``DataError`` now if another run holds the store (a cheap probe
    before long work; the lock itself is still taken before writing)."""
    path = lock_path(store)
    held = _held.get(path)
    if held is not None and held[0] == threading.get_ident():
        return
    if held is not None or is_locked(store):
        raise _locked_error(Path(store), path)
