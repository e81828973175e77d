"""The staggered-rollout benchmark's smoke run: only its two result files under ``--out``,
draws that honour the Covid-19 cut-off, and rates that are counted, not assumed."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from tests.benchmarks.test_outputs import _files, _script
from tests.conftest import require_shared


def test_wilson_interval_brackets_the_rate():
    module = _script("bench_staggered")
    lo, hi = module.wilson(3, 60)
    assert 0.01 < lo < 0.05 < hi < 0.14
    assert module.wilson(0, 20)[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.real_data
def test_bench_staggered_quick_writes_only_under_out(tmp_path, monkeypatch):
    data = require_shared("police-uk").parent
    monkeypatch.chdir(tmp_path)
    module = _script("bench_staggered")
    with contextlib.redirect_stdout(io.StringIO()):
        module.main(["--quick", "--out", str(tmp_path / "out"), "--data", str(data)])
    assert {p.name for p in tmp_path.iterdir()} == {"out"}
    assert _files(tmp_path / "out") == {"staggered.json", "staggered.md"}
    result = json.loads((tmp_path / "out" / "staggered.json").read_text())
    groups = {s["group"]: s for s in result["summary"]}
    assert set(groups) == {"cohort 1", "cohort 2", "cohort 3", "all cohorts", "overall"}
    assert groups["all cohorts"]["n_null"] == 6 and result["meta"]["n_failed"] == 0
    rows = [r for r in result["rows"] if r["group"] == "cohort"]
    assert rows and all("2018-01" <= r["start"] <= "2019-09" for r in rows)
    assert {r["condition"] for r in rows} == {"null", "planted"}
