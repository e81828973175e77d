"""The one ``flock`` probe behind the store lock and the spill folders' owner files."""

from __future__ import annotations

import fcntl
import os

import pytest

from hotspot.core.locking import flock_held, is_locked, store_lock
from hotspot.ingest._spill import PREFIX, Spill, remove_stale_spills


def test_flock_held_sees_another_holder_and_leaves_nothing_held(tmp_path):
    path = tmp_path / "f"
    path.touch()
    assert flock_held(path) is False
    holder = os.open(path, os.O_RDWR)  # another open file: its flock conflicts with ours
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert flock_held(path) is True
    finally:
        os.close(holder)
    assert flock_held(path) is False
    assert flock_held(path) is False  # the probe itself dropped what it took


def test_flock_held_leaves_a_missing_file_to_the_caller(tmp_path):
    with pytest.raises(FileNotFoundError):
        flock_held(tmp_path / "missing")


def test_is_locked_follows_the_store_lock(tmp_path):
    store = tmp_path / "store"
    assert not is_locked(store)
    with store_lock(store):
        assert is_locked(store)
    assert not is_locked(store)


def test_only_spill_folders_no_live_run_owns_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # re-read TMPDIR
    dead = tmp_path / f"{PREFIX}dead"
    dead.mkdir()
    (dead / ".owner").touch()  # an owner file nobody holds: its run died
    with Spill() as live:  # taking a spill clears the dead folder, keeps its own
        assert not dead.exists()
        assert live.dir.exists()
        assert remove_stale_spills(tmp_path) == []
    assert not live.dir.exists()
