"""The benchmark scripts write only under ``--out``: never into the package, never beside
themselves unless told to."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotspot.evaluation.claims import DEFAULT_CALIBRATION, load_calibration
from tests.conftest import require_shared

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = ["bench_claims", "bench_cli_latency", "bench_foundation", "bench_grid_overhead",
           "bench_models", "bench_scale", "bench_sepp", "bench_staggered", "bench_targets",
           "chicago_store", "dev_targets", "limits", "synthetic_national"]


@contextlib.contextmanager
def _benchmarks_on_path() -> Iterator[None]:
    """The scripts import each other by bare name, as when run from the checkout."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield
    finally:
        sys.path.remove(str(BENCHMARKS))


def _script(name: str):
    with _benchmarks_on_path():
        return importlib.import_module(name)


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_every_script_is_listed():
    scripts = {p.stem for p in BENCHMARKS.glob("*.py")
               if "def main(" in p.read_text() and not p.stem.startswith("_")}
    assert scripts == set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_takes_out_outside_the_package(name, capsys):
    module = _script(name)
    with pytest.raises(SystemExit) as info:
        module.main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--out" in text
    out_help = " ".join(text.split("--out")[1].split())
    for package in ("evaluation", "models", "features", "ingest", "flows", "data", "src"):
        assert str(BENCHMARKS.parent / package) not in out_help, (name, package)


def test_synthetic_national_writes_only_under_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = _script("synthetic_national")
    with contextlib.redirect_stdout(io.StringIO()):
        module.main(["--out", str(tmp_path / "out"), "--months", "1", "--per-month", "500"])
    assert {p.name for p in tmp_path.iterdir()} == {"out"}
    files = _files(tmp_path / "out")
    assert len(files) == 44 and all(f.startswith("2019-01/2019-01-") for f in files)


@pytest.mark.real_data
def test_bench_claims_writes_its_calibration_table_under_out(tmp_path, monkeypatch):
    data = require_shared("police-uk").parent
    shipped = hashlib.sha256(DEFAULT_CALIBRATION.read_bytes()).hexdigest()
    monkeypatch.chdir(tmp_path)
    module = _script("bench_claims")
    with contextlib.redirect_stdout(io.StringIO()):
        module.main(["--datasets", "city", "--null", "4", "--effect", "2",
                     "--out", str(tmp_path / "out"), "--data", str(data)])
    assert {p.name for p in tmp_path.iterdir()} == {"out"}
    assert _files(tmp_path / "out") == {"claims.json", "claims.md", "calibration.json"}
    table = load_calibration(tmp_path / "out" / "calibration.json")
    assert set(table) == set(load_calibration())  # the same methods as the shipped table
    assert all(entry["summary"].startswith("city: ") for entry in table.values())
    assert hashlib.sha256(DEFAULT_CALIBRATION.read_bytes()).hexdigest() == shipped
