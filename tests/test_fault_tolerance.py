"""Crashes and concurrency: an ingest killed with SIGKILL (or out of disk) at any point
leaves the store exactly as before (or, once committed, as after), a killed backtest leaves
readable checkpoints, and a re-run completes with the same result as an uninterrupted
run; two runs on one store are serialised by ``STORE/.lock`` with a clear message."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from hotspot.cli import app
from hotspot.core.errors import DataError
from hotspot.core.locking import LOCK_FILE, is_locked, store_lock
from hotspot.evaluation import parallel
from hotspot.features.cube import save_cube
from hotspot.ingest.police_uk import ingest_police_uk
from hotspot.ingest.store import ensure_committed, read_events, read_quarantine
from tests._faults import fill_disk_at
from tests.hostile.harness import SAMPLE

PROJECT_ROOT = Path(__file__).resolve().parents[1]
LOCKED = re.compile(
    r"store \S+ is locked by another run \(pid (\d+) since \S+\): wait or remove the lock "
    r"if that run is dead")


@pytest.fixture(scope="module")
def national_sample(tmp_path_factory) -> Path:
    """Three months of three forces from the synthetic national generator."""
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    try:
        from synthetic_national import generate
    finally:
        sys.path.remove(str(PROJECT_ROOT / "benchmarks"))
    root = tmp_path_factory.mktemp("national")
    forces = ["city-of-london", "btp", "kent"]
    generate(root / "now", n_months=3, per_month=40_000, forces=forces)
    generate(root / "earlier", n_months=1, per_month=40_000, forces=forces, seed=1)
    return root / "now"


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}


def _wait_for(path: Path, process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if getattr(process, "returncode", None) is not None or (
                hasattr(process, "poll") and process.poll() is not None):
            raise AssertionError("child ended before the kill point")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("child never reached the kill point")
        time.sleep(0.05)


def _kill(process) -> None:
    os.kill(process.pid, signal.SIGKILL)
    if hasattr(process, "wait"):
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
    else:
        process.join(timeout=30)
        assert process.exitcode == -signal.SIGKILL


def store_files(store: Path) -> dict[str, str]:
    return {str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(store.glob("*/month=*/*.parquet"))}


# --------------------------------------------------------------------------- ingest

_SLOW_INGEST = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import pyarrow.parquet as pq
    import hotspot.ingest.store as event_store
    from hotspot.ingest.police_uk import ingest_police_uk
    from hotspot.ingest.report import IngestReport

    source, store, point, marker = sys.argv[1:5]

    def stop():
        Path(marker).touch()
        time.sleep(120)

    def at_call(real, n, before=None):
        calls = []
        def wrapper(*args, **kwargs):
            calls.append(1)
            if len(calls) == n:
                if before:
                    before(*args)
                stop()
            return real(*args, **kwargs)
        return wrapper

    kind, _, n = point.partition(":")
    if kind == "write":  # half a partition file on disk, then wait to be killed
        half = lambda table, where, *a: Path(where).write_bytes(b"PAR1" + b"\\\\0" * 1000)
        pq.write_table = at_call(pq.write_table, int(n), half)
    elif kind == "report":  # every partition staged, the report being written
        IngestReport.to_markdown = at_call(IngestReport.to_markdown, 1)
    elif kind == "swap":  # the staged generation renamed into place, current not moved
        event_store._point_current = at_call(event_store._point_current, 1)
    elif kind == "tidy":  # committed; tidying up after the commit
        event_store.clean_store = at_call(event_store.clean_store, 2)
    ingest_police_uk([source], store)
""")


def _kill_mid_ingest(source: Path, store: Path, point: str, tmp: Path, marker: Path) -> None:
    """Run an ingest of ``source`` into ``store`` in a child and SIGKILL it at ``point``."""
    child = subprocess.Popen(
        [sys.executable, "-c", _SLOW_INGEST, str(source), str(store), point, str(marker)],
        env={**_env(), "TMPDIR": str(tmp)}, cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(marker, child)
    assert is_locked(store)
    _kill(child)
    assert not is_locked(store)  # the kernel released the dead run's lock


def _same_store(store: Path, reference: Path) -> None:
    pd.testing.assert_frame_equal(read_events(store), read_events(reference))
    key = ["file", "row"]
    pd.testing.assert_frame_equal(read_quarantine(store).sort_values(key, ignore_index=True),
                                  read_quarantine(reference).sort_values(key, ignore_index=True))
    assert store_files(store) == store_files(reference)


def test_sigkill_mid_ingest_leaves_the_store_as_before_and_a_rerun_completes(
        national_sample, tmp_path, monkeypatch):
    reference, store = tmp_path / "reference", tmp_path / "store"
    ingest_police_uk([national_sample], reference)
    # an earlier run's data: January as first published (different content)
    ingest_police_uk([national_sample.parent / "earlier"], store)
    before, events_before = store_files(store), read_events(store)
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    _kill_mid_ingest(national_sample, store, "write:7", tmp, tmp_path / "mid-write")
    # the kill landed mid-write in the staging folder: the committed store is untouched
    assert store_files(store) == before
    pd.testing.assert_frame_equal(read_events(store), events_before)
    with pytest.raises(DataError, match=r"the last ingest did not finish .* rerun"):
        ensure_committed(store)
    assert list(tmp.glob("hotspot-ingest-*"))  # the dead run's spill

    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    ingest_police_uk([national_sample], store)  # the re-run completes
    _same_store(store, reference)
    ensure_committed(store)
    assert not list(store.rglob(".*"))  # staging cleaned, lock released and removed
    assert not list(tmp.iterdir())  # the dead run's spill removed too


@pytest.fixture(scope="module")
def sample_stores(tmp_path_factory) -> dict[str, Path]:
    """The shipped sample (24 months) as ``new`` input and as a ``reference`` store, and
    an ``earlier`` store: every month as first published (its last 20 rows missing)."""
    root = tmp_path_factory.mktemp("sample")
    earlier = root / "earlier-input"
    for path in sorted(SAMPLE.rglob("*-street.csv")):
        lines = path.read_text().splitlines(keepends=True)
        target = earlier / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(lines[:-20]))
    ingest_police_uk([SAMPLE], root / "reference")
    ingest_police_uk([earlier], root / "earlier")
    return {"new": SAMPLE, "reference": root / "reference", "earlier": root / "earlier"}


@pytest.mark.parametrize("point", ["write:1", "write:30", "report", "swap"])
def test_sigkill_at_any_point_before_the_commit_changes_nothing(
        sample_stores, tmp_path, monkeypatch, point):
    store, tmp = tmp_path / "store", tmp_path / "tmp"
    shutil.copytree(sample_stores["earlier"], store, symlinks=True)
    tmp.mkdir()
    before, events_before = store_files(store), read_events(store)
    quarantine_before = read_quarantine(store)

    _kill_mid_ingest(sample_stores["new"], store, point, tmp, tmp_path / "marker")
    assert store_files(store) == before
    pd.testing.assert_frame_equal(read_events(store), events_before)
    pd.testing.assert_frame_equal(read_quarantine(store), quarantine_before)
    with pytest.raises(DataError, match="the last ingest did not finish"):
        ensure_committed(store)

    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    ingest_police_uk([sample_stores["new"]], store)
    _same_store(store, sample_stores["reference"])
    ensure_committed(store)
    assert not list(store.rglob(".*")) and not list(tmp.iterdir())


def test_sigkill_after_the_commit_keeps_the_new_generation(sample_stores, tmp_path):
    store, tmp = tmp_path / "store", tmp_path / "tmp"
    shutil.copytree(sample_stores["earlier"], store, symlinks=True)
    tmp.mkdir()
    _kill_mid_ingest(sample_stores["new"], store, "tidy", tmp, tmp_path / "marker")
    _same_store(store, sample_stores["reference"])
    ensure_committed(store)  # committed: nothing the next write must redo


def test_a_full_disk_midway_changes_nothing_and_a_rerun_completes(
        sample_stores, tmp_path, monkeypatch):
    store = tmp_path / "store"
    shutil.copytree(sample_stores["earlier"], store, symlinks=True)
    snapshot = {str(p): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    fill_disk_at(monkeypatch)
    with pytest.raises(DataError, match=r"cannot write store .*No space left on device.*"
                                        r"nothing was changed"):
        ingest_police_uk([sample_stores["new"]], store)
    monkeypatch.undo()
    assert {str(p): p.read_bytes() for p in store.rglob("*") if p.is_file()} == snapshot
    assert not list(store.rglob(".*"))
    ensure_committed(store)
    ingest_police_uk([sample_stores["new"]], store)
    _same_store(store, sample_stores["reference"])


# --------------------------------------------------------------------------- backtest

def _slow_grid(cube_path: str, units, fingerprint: str, out: Path, marker: Path) -> None:
    """Score units with checkpoints; after the fourth, signal and wait to be killed."""
    for i, unit in enumerate(units):
        parallel.score_unit_at(cube_path, unit, (0.05, 0.1), checkpoint_dir=str(out),
                               fingerprint=fingerprint)
        if i == 3:
            marker.touch()
            time.sleep(120)


def _grid_units(cube) -> list[parallel.WorkUnit]:
    return parallel.grid_units({"cell=150": cube}, ["naive-last", "naive-mean"], "2020-05",
                               "2020-12", "M", {"naive-mean": [{"k": 3}, {"k": 6}]})


def test_sigkill_mid_grid_backtest_resumes_to_the_same_result(hot_cell_cube, tmp_path):
    import multiprocessing

    cube_path = str(save_cube(hot_cell_cube, tmp_path / "cube.zarr"))
    units = _grid_units(hot_cell_cube)
    fingerprint = parallel.cube_fingerprint(hot_cell_cube)
    out, marker = tmp_path / "grid", tmp_path / "marker"
    # a forked child (models already imported) scores the units, then is killed
    child = multiprocessing.get_context("fork").Process(
        target=_slow_grid, args=(cube_path, units, fingerprint, out, marker))
    child.start()
    _wait_for(marker, child)
    _kill(child)

    done = sorted((out / parallel.UNITS_DIR).glob("*.parquet"))
    assert len(done) == 4 and all(pq.read_table(p).num_rows for p in done)
    assert not list(out.rglob(".*"))

    computed = []
    real = parallel.score_unit

    def counting(*args, **kwargs):
        computed.append(args[1])
        return real(*args, **kwargs)

    parallel.score_unit = counting
    try:
        resumed = [parallel.score_unit_at(cube_path, u, (0.05, 0.1), checkpoint_dir=str(out),
                                          fingerprint=fingerprint) for u in units]
    finally:
        parallel.score_unit = real
    assert len(computed) == len(units) - 4  # only the units the killed run had not done
    fresh = [parallel.score_unit(hot_cell_cube, u, (0.05, 0.1)) for u in units]
    a = parallel.assemble_grid(resumed, n_bootstrap=200)
    b = parallel.assemble_grid(fresh, n_bootstrap=200)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.summary_table, b.summary_table)


def test_a_damaged_checkpoint_is_recomputed(hot_cell_cube, tmp_path):
    cube_path = str(save_cube(hot_cell_cube, tmp_path / "cube.zarr"))
    unit = _grid_units(hot_cell_cube)[0]
    fingerprint = parallel.cube_fingerprint(hot_cell_cube)
    first = parallel.score_unit_at(cube_path, unit, (0.05,), checkpoint_dir=str(tmp_path),
                                   fingerprint=fingerprint)
    path = parallel.UnitCheckpoints(tmp_path).path(unit, fingerprint, (0.05,))
    path.write_bytes(b"PAR1 garbage")
    again = parallel.score_unit_at(cube_path, unit, (0.05,), checkpoint_dir=str(tmp_path),
                                   fingerprint=fingerprint)
    pd.testing.assert_frame_equal(first.metrics, again.metrics)
    assert pq.read_table(path).num_rows == len(first.metrics)


# --------------------------------------------------------------------------- lock

_HOLDER = textwrap.dedent("""
    import sys, time
    from hotspot.core.locking import store_lock
    with store_lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(120)
""")


def test_a_second_run_on_a_locked_store_is_refused_clearly(national_sample, tmp_path):
    from hotspot.pipeline import cube_from_store

    store = tmp_path / "store"
    ingest_police_uk([national_sample / "2019-01"], store)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(store)], env=_env(),
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
        result = CliRunner().invoke(app, ["ingest", "police-uk", str(national_sample),
                                          "--store", str(store)])
        assert result.exit_code == 2 and "Traceback" not in result.output
        message = " ".join(result.output.split())
        match = LOCKED.search(message)
        assert match and int(match[1]) == holder.pid, message
        assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before
        with pytest.raises(DataError, match=LOCKED):
            cube_from_store(store, 500.0)
    finally:
        _kill(holder)
    # the holder died without cleaning up: its lock file is stale, not binding
    assert (store / LOCK_FILE).exists() and not is_locked(store)
    report = ingest_police_uk([national_sample], store)
    assert report.n_events == len(read_events(store))
    assert not (store / LOCK_FILE).exists()


def test_the_lock_is_reentrant_in_a_thread_and_refused_to_other_threads(tmp_path):
    errors = []

    def other():
        try:
            with store_lock(tmp_path / "store"):
                pass
        except DataError as exc:
            errors.append(str(exc))

    with store_lock(tmp_path / "store"), store_lock(tmp_path / "store"):  # re-entrant
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        assert is_locked(tmp_path / "store")
    assert len(errors) == 1 and LOCKED.search(errors[0])
    assert f"pid {os.getpid()}" in errors[0]
    assert not is_locked(tmp_path / "store")
    assert not (tmp_path / "store" / LOCK_FILE).exists()
