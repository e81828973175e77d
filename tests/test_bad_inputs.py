"""The bad-input corpus through the command line: each case gives a clear one-line error
(exit 2, store untouched) or a quarantine with the expected reasons; none crashes. And a
file too big to hold whole is streamed: ingest completes under a memory limit that loading
the file with pandas does not fit in."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pandas as pd
import pyarrow.csv as pa_csv
import pytest
from typer.testing import CliRunner

from hotspot.cli import app
from hotspot.ingest.store import read_events, read_quarantine

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIR = Path(__file__).resolve().parent / "bad_inputs"
EXPECTED = tomllib.loads((CORPUS_DIR / "expected.toml").read_text())


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


corpus_module = _load(CORPUS_DIR / "make_corpus.py", "hotspot_bad_input_corpus")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, list[Path]]:
    return corpus_module.make_corpus(tmp_path_factory.mktemp("corpus"))


def checksums(store: Path) -> dict[str, str]:
    """SHA-256 of every file in the store (lock and temporary files included)."""
    return {
        str(p.relative_to(store)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(store.rglob("*"))
        if p.is_file()
    }


def ingest_cli(paths: list[Path], store: Path):
    return CliRunner().invoke(
        app, ["ingest", "police-uk", *[str(p) for p in paths], "--store", str(store)]
    )


def test_every_case_has_an_expectation():
    assert set(EXPECTED) == set(corpus_module.CASES)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_case(case, corpus, tmp_path):
    expected = EXPECTED[case]
    store = tmp_path / "store"
    if expected["exit"] == 2:  # a store with data in it, which a failure must not touch
        assert ingest_cli(corpus["good"], store).exit_code == 0
    before = checksums(store) if store.exists() else {}

    result = ingest_cli(corpus[case], store)
    output = result.output
    assert "Traceback" not in output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert result.exit_code == expected["exit"], output
    if expected["exit"] == 2:
        line = " ".join(output.split())
        assert line.startswith("error: "), output
        assert re.search(expected["error"], line), line
        assert checksums(store) == before
        return
    events = read_events(store)
    quarantine = read_quarantine(store)
    assert len(events) == expected["events"]
    assert quarantine["reason"].value_counts().to_dict() == expected["quarantine"]
    assert events["event_id"].is_unique
    assert not [p for p in store.rglob(".*")]  # no lock or temporary file left
    if "skipped_note" in expected:
        report = sorted((store / "reports").glob("*.json"))[-1].read_text()
        assert expected["skipped_note"] in report


def test_shuffled_columns_ingest_like_the_usual_order(corpus, tmp_path):
    assert ingest_cli(corpus["shuffled_columns"], tmp_path / "a").exit_code == 0
    assert ingest_cli(corpus["shuffled_reference"], tmp_path / "b").exit_code == 0
    pd.testing.assert_frame_equal(read_events(tmp_path / "a"), read_events(tmp_path / "b"))


def test_streaming_in_small_blocks_gives_the_same_store(tmp_path, monkeypatch):
    """Blocks of a few rows and partitions written in row groups: same events, same
    quarantine (ASB counters and duplicates carry across blocks)."""
    import hotspot.ingest._partition_files as partition_files
    import hotspot.ingest._read as read_module

    rows = corpus_module.street_rows("2019-02", 600, asb_every=3)
    for i in range(0, 600, 50):  # identical ASB rows and repeated ids in far-apart blocks
        rows[i + 3] = dict(rows[0])
        rows[i + 7]["Crime ID"] = rows[1]["Crime ID"]
    text = corpus_module.csv_text(rows)
    path = corpus_module.write(tmp_path / "in" / "2019-02" / "2019-02-kent-street.csv", text)
    corpus_module.write(tmp_path / "in" / "2019-01" / "2019-01-kent-street.csv",
                        corpus_module.csv_text(corpus_module.street_rows("2019-01", 300)))
    assert ingest_cli([path.parent.parent], tmp_path / "whole").exit_code == 0
    monkeypatch.setattr(read_module, "_BLOCK_SIZE", 4096)
    monkeypatch.setattr(partition_files, "SORT_LIMIT_ROWS", 100)
    assert ingest_cli([path.parent.parent], tmp_path / "streamed").exit_code == 0
    whole, streamed = read_events(tmp_path / "whole"), read_events(tmp_path / "streamed")
    pd.testing.assert_frame_equal(whole, streamed)
    assert whole["event_id"].str.endswith("-11").any()  # the 12th identical ASB row
    key = ["file", "row"]
    pd.testing.assert_frame_equal(
        read_quarantine(tmp_path / "whole").sort_values(key, ignore_index=True),
        read_quarantine(tmp_path / "streamed").sort_values(key, ignore_index=True))


# --------------------------------------------------------------------------- big file

_CHILD = textwrap.dedent("""
    import datetime, pathlib, resource, sys, tempfile
    import pandas as pd
    import pyarrow as pa
    from hotspot.ingest.police_uk import ingest_police_uk
    pa.set_cpu_count(2); pa.set_io_thread_count(2)
    source = pathlib.Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:  # warm up: one-time library set-up
        small = pathlib.Path(tmp) / source.name
        with source.open() as handle:
            small.write_text("".join(next(handle) for _ in range(200)))
        pd.read_csv(small)
        ingest_police_uk([small], pathlib.Path(tmp) / "s", today=datetime.date(2030, 1, 1))
    vm = next(int(l.split()[1]) * 1024 for l in open("/proc/self/status")
              if l.startswith("VmSize"))
    limit = vm + int(sys.argv[3]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if sys.argv[1] == "pandas":
        frame = pd.read_csv(source)
        print("rows", len(frame))
    else:
        report = ingest_police_uk([source], sys.argv[4], today=datetime.date(2030, 1, 1))
        print("rows", report.n_rows)
""")
_LEAN_MEMORY = {  # make virtual memory track what is used, not what allocators reserve
    "ARROW_DEFAULT_MEMORY_POOL": "system", "MALLOC_ARENA_MAX": "1",
    "MALLOC_MMAP_THRESHOLD_": "131072", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
}
BIG_ROWS = 400_000  # 89 MB of CSV; pandas holds it in ~115 MB and needs 175-200 MB to load
#: Virtual memory allowed above a warmed-up process: the streaming ingest needs ~120 MB
#: (a few blocks in flight, 16-byte digests of the ids), loading with pandas over 175 MB.
BUDGET_MB = 150


def _child(mode: str, path: Path, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **_LEAN_MEMORY, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path), str(BUDGET_MB), str(store)],
        capture_output=True, text=True, env=env, timeout=300, cwd=PROJECT_ROOT,
    )


def test_a_file_larger_than_memory_allows_is_streamed(tmp_path):
    sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
    try:
        from synthetic_national import write_big_file
    finally:
        sys.path.remove(str(PROJECT_ROOT / "benchmarks"))
    path = tmp_path / "2019-01-metropolitan-street.csv"
    size = write_big_file(path, BIG_ROWS)
    assert size > 80e6

    whole = _child("pandas", path, tmp_path / "unused")
    assert whole.returncode != 0 and "MemoryError" in whole.stderr, whole.stdout
    streamed = _child("ingest", path, tmp_path / "store")
    assert streamed.returncode == 0, streamed.stderr[-3000:]
    assert f"rows {BIG_ROWS}" in streamed.stdout

    table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(
        include_columns=["Longitude"], column_types={"Longitude": "string"},
        strings_can_be_null=False))
    located = sum(v != "" for v in table.column("Longitude").to_pylist())
    events = read_events(tmp_path / "store")
    assert len(events) == located and events["event_id"].is_unique
    assert len(read_quarantine(tmp_path / "store")) == BIG_ROWS - located


@pytest.mark.parametrize("case", sorted(c for c, e in EXPECTED.items() if e["exit"] == 0))
def test_rows_add_up_per_file(case, corpus, tmp_path):
    """Input rows = events + quarantined, for the run and for every file it read: each
    file's CSV records are its ``n_rows``, and its one (month, source) partition holds
    them all, as events or as its quarantined rows."""
    import csv
    import json

    store = tmp_path / "store"
    assert ingest_cli(corpus[case], store).exit_code == 0
    report = json.loads(sorted((store / "reports").glob("*.json"))[-1].read_text())
    assert report["n_rows"] == report["n_events"] + report["n_quarantined"]
    assert report["n_rows"] == sum(f["n_rows"] for f in report["files"])
    events, quarantine = read_events(store), read_quarantine(store)
    assert len(events) + len(quarantine) == report["n_rows"]
    for entry in report["files"]:
        if entry["note"]:
            assert entry["n_rows"] == 0
            continue
        path = Path(entry["file"])
        with path.open(newline="", encoding="utf-8") as handle:
            assert entry["n_rows"] == sum(1 for _ in csv.DictReader(handle))
        month = path.name[:7]
        n_events = int((events["time"].dt.strftime("%Y-%m") == month).sum())
        n_bad = int((quarantine["file"] == entry["file"]).sum())
        assert n_events + n_bad == entry["n_rows"], entry["file"]
