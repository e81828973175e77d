"""Hostile cases for outputs and cubes (issue 13, items 4, 6, 7, 17, 18a): run folders
replaced whole, stale and empty cubes refused, the cube size guard, escaped reports.

Every case runs on a private copy of the session's base store at ``ROOT/store``; faults
(a full disk part-way through writing) are injected with ``monkeypatch`` by name.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from hotspot.features.cube import open_cube, save_cube
from tests.hostile.harness import SAMPLE, WARDS, Case, Result, check, copy_store, run

FAST = ("--backtest-periods", "2", "--n-bootstrap", "100")
MODEL = ("--model", "naive-mean")


def _ok(*args: object) -> None:
    result = run(*args)
    assert result.exit_code == 0, result.output


def _forecast_once(root: Path) -> None:
    _ok("forecast", "--store", root / "store", *MODEL, "--out", root / "out", *FAST)


def _backtest_once(root: Path) -> None:
    _ok("backtest", "--store", root / "store", "--models", "naive-last,naive-mean",
        "--from", "2020-10", "--to", "2020-12", "--out", root / "out", "--n-bootstrap", "100")


def _no_staging_left(root: Path, _: Result) -> None:
    left = [p.name for p in root.iterdir() if ".staging-" in p.name or ".old-" in p.name]
    assert not left, f"staging folders left behind: {left}"


def _disk_full(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _stale_store(root: Path) -> None:
    """Ingest 2019-01..03, build the cube, then ingest 2019-04..05: the cube is stale."""
    store = root / "store"
    shutil.rmtree(store)
    first = [SAMPLE / m for m in ("2019-01", "2019-02", "2019-03")]
    _ok("ingest", "police-uk", *first, "--store", store, "--area", WARDS)
    _ok("cube", "--store", store)
    _ok("ingest", "police-uk", SAMPLE / "2019-04", SAMPLE / "2019-05", "--store", store)


def _far_area(root: Path) -> None:
    """A study area 100 km from the City: no event falls inside it."""
    gpd.GeoDataFrame({"NAME": ["nowhere"]}, geometry=[shapely.box(430_000, 280_000,
                                                                  432_000, 282_000)],
                     crs="EPSG:27700").to_file(root / "far.gpkg")


def _zero_last_month(root: Path) -> None:
    """The store's own cube with its last month emptied (as a cube over an area that
    misses the newest data would be): naive-last then expects 0 everywhere."""
    cube = open_cube(root / "store" / "cube.zarr")
    for name in ("counts", "category_counts"):
        cube[name][-1] = 0
    save_cube(cube, root / "zero.zarr")


def _hostile_ward_names(root: Path) -> None:
    """A nightly whose ward names carry HTML, pipes and a newline, from a drop folder."""
    wards = gpd.read_file(WARDS)
    wards["NAME"] = [f"<script>alert({i})</script> | a\nb" for i in range(len(wards))]
    wards.to_file(root / "wards.gpkg")
    for month in ("2020-03", "2020-04", "2020-05", "2020-06", "2020-07"):
        shutil.copytree(SAMPLE / month, root / "drop" / month)
    shutil.rmtree(root / "store")
    (root / "nightly.toml").write_text("\n".join([
        "[hotspot]", f'store = "{root / "store"}"', f'area = "{WARDS}"',
        "[hotspot.forecast]", 'model = "naive-mean"',
        "[hotspot.backtest]", "periods = 2", "n_bootstrap = 100",
        "[hotspot.nightly.sources]", f'drop_folder = "{root / "drop"}"', "drop_settle_s = 0",
        "[hotspot.nightly.outputs]", f'runs_dir = "{root / "runs"}"',
        "[hotspot.nightly.harm]", f'boundaries = "{root / "wards.gpkg"}"', 'name_column = "NAME"',
    ]) + "\n")


def _report_escaped(root: Path, _: Result) -> None:
    report = (root / "runs" / "latest" / "report.md").read_text()
    assert "<script>" not in report
    assert "&lt;script&gt;alert(0)&lt;/script&gt; \\| a b" in report
    table = [line for line in report.splitlines() if "alert(" in line]
    assert table and all(line.count(" | ") == table[0].count(" | ") for line in table)


def _cube_is_current(root: Path, result: Result) -> None:
    assert "2 periods" not in result.output
    record = json.loads(open_cube(root / "store" / "cube.zarr").attrs["provenance"])
    assert record["last_month"] == "2019-05"


CASES = [
    Case("forecast-disk-full-writing-report-keeps-old-run",
         lambda r: ("forecast", "--store", r / "store", *MODEL, "--out", r / "out", *FAST),
         error=r"no space left on the disk while writing .*out: the previous version is kept",
         untouched=("out", "store"), setup=_forecast_once, after=_no_staging_left,
         why="item 4: a new forecast.gpkg beside an old report.md"),
    Case("backtest-disk-full-writing-predictions-keeps-old-run",
         lambda r: ("backtest", "--store", r / "store", "--models", "naive-last", "--from",
                    "2020-06", "--to", "2020-12", "--out", r / "out", "--n-bootstrap", "100"),
         error=r"no space left on the disk while writing .*out",
         untouched=("out", "store"), setup=_backtest_once, after=_no_staging_left,
         why="item 4: a new metrics.csv beside old predictions.parquet"),
    Case("forecast-out-holding-other-files-is-refused",
         lambda r: ("forecast", "--store", r / "store", *MODEL, "--out", r / "out", *FAST),
         error=r"--out .*out holds files this command did not write \(notes\.txt\)",
         untouched=("out", "store"),
         setup=lambda r: ((r / "out").mkdir(), (r / "out" / "notes.txt").write_text("mine")),
         why="item 4: replacing the folder whole must never delete a user's files"),
    Case("forecast-on-stale-cube-is-refused",
         lambda r: ("forecast", "--store", r / "store", *MODEL, "--out", r / "out", *FAST),
         error=r"cube .* is out of date: the store's events for 2019-04, 2019-05 were "
               r"ingested .*hotspot cube --store",
         untouched=("store",), setup=_stale_store,
         after=lambda r, _: None if not (r / "out").exists() else pytest.fail("out written"),
         why="item 6: 'forecast for 2019-04', a month the store holds"),
    Case("backtest-on-stale-cube-is-refused",
         lambda r: ("backtest", "--store", r / "store", "--models", "naive-last", "--from",
                    "2019-02", "--to", "2019-03", "--out", r / "out"),
         error=r"cube .* is out of date: .*2019-04, 2019-05", untouched=("store",),
         setup=_stale_store, why="item 6"),
    Case("cube-rebuilt-after-ingest-is-current",
         lambda r: ("cube", "--store", r / "store"), exit_code=0,
         setup=_stale_store, after=_cube_is_current,
         why="item 6: the refusal's advice works"),
    Case("cube-over-an-area-missing-the-data-is-refused-old-kept",
         lambda r: ("cube", "--store", r / "store", "--area", r / "far.gpkg"),
         error=r"none of the [\d,]+ events of store .* falls inside the study area .*"
               r"previous one is kept",
         untouched=("store",), setup=_far_area,
         why="item 7: '0 events counted', exit 0, the good cube replaced by zeros"),
    Case("forecast-with-zero-total-is-not-published",
         lambda r: ("forecast", "--store", r / "store", "--model", "naive-last", "--cube",
                    r / "zero.zarr", "--out", r / "out", *FAST),
         error=r"the naive-last forecast for 2021-01 expects 0 crimes in every cell: .*"
               r"nothing was published",
         untouched=("store", "zero.zarr"), setup=_zero_last_month,
         after=lambda r, _: None if not (r / "out").exists() else pytest.fail("out written"),
         why="item 7: 'hotspots' of expected count 0 ranked by cell id"),
    Case("cube-of-1m-cells-is-refused-with-the-estimate",
         lambda r: ("cube", "--store", r / "store", "--cell", "1"),
         error=r"a 1 m cube of this area would need about [\d,]+ cells x 24 periods x \d+ "
               r"categories, about [\d.]+ GB .*--max-cube-gb \d+",
         untouched=("store",), why="item 17: 3 minutes and 14.8 GB"),
    Case("cube-of-0.52m-cells-is-refused",
         lambda r: ("cube", "--store", r / "store", "--cell", "0.52"),
         error=r"a 0\.52 m cube .* GB of memory to build, over the limit of 4 GB",
         untouched=("store",), why="item 17: 0.52 m passed the old 20M-square guard"),
    Case("max-cube-gb-sets-the-limit",
         lambda r: ("cube", "--store", r / "store", "--cell", "50", "--max-cube-gb", "0.001"),
         error=r"a 50 m cube .* over the limit of 0\.001 GB", untouched=("store",),
         why="item 17: the option moves the limit (here down, to prove it is read)"),
    Case("nightly-report-escapes-ward-names",
         lambda r: ("nightly", "--config", r / "nightly.toml", "--no-prefect"), exit_code=0,
         setup=_hostile_ward_names, after=_report_escaped,
         why="item 18a: <script> and | went raw into report.md"),
]

#: Faults injected while a case runs: (module, attribute, replacement).
FAULTS = {
    "forecast-disk-full-writing-report-keeps-old-run":
        ("hotspot.publish", "write_text_atomic", _disk_full),
    "backtest-disk-full-writing-predictions-keeps-old-run":
        ("hotspot.evaluation.backtest.pq", "write_table", _disk_full),
}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_outputs(case: Case, tmp_path: Path, base_store: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    copy_store(base_store, tmp_path / "store")
    if case.name in FAULTS:
        # the fault must hit this run, not the setup's earlier good run
        module, name, fault = FAULTS[case.name]
        setup = case.setup
        case = Case(**{**case.__dict__, "setup": None})
        if setup is not None:
            setup(tmp_path)
        monkeypatch.setattr(f"{module}.{name}", fault)
    check(case, tmp_path)
