"""The shipped calibration table: found through importlib.resources, loaded, and driving the
"badly calibrated" warnings of a claim report."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from hotspot.core.errors import DataError
from hotspot.evaluation.claims import DEFAULT_CALIBRATION, evaluate_claim, load_calibration
from hotspot.evaluation.claims.calibration import badly_calibrated

#: The effect methods bench_claims.py validates, each with an entry in the table.
VALIDATED = {"its", "did", "synthetic_control", "placebo_time"}
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_the_default_table_is_package_data_and_loads():
    assert DEFAULT_CALIBRATION.is_file()
    calibration = load_calibration()
    assert set(calibration) == VALIDATED
    for method, entry in calibration.items():
        assert isinstance(entry["badly_calibrated"], bool), method
        assert entry["summary"].startswith("chicago: false positives"), method
    assert badly_calibrated(calibration)  # the table the warnings test below relies on


def test_the_wheel_ships_the_table():
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    shipped = pyproject["tool"]["setuptools"]["package-data"]["hotspot.evaluation.claims"]
    assert DEFAULT_CALIBRATION.name in shipped


def _report_text(result, out: Path) -> str:
    paths = result.save(out)
    return paths["verdict"].read_text() + paths["report_md"].read_text()


def test_a_report_with_the_default_table_warns_of_badly_calibrated_methods(
        synthetic_store, tmp_path):
    store, areas = synthetic_store
    args = (store, areas, "2020-01", "2020-06")
    result = evaluate_claim(*args, area_filter="NAME=Block22", claimed="-40%")
    bad = badly_calibrated(load_calibration())
    assert result.settings["calibration"] == "used"
    notes = dict(zip(result.estimates["method"], result.estimates["note"], strict=True))
    for method in bad:
        assert "BADLY CALIBRATED on real data" in notes[method], method
    assert result.verdict.primary not in bad
    text = _report_text(result, tmp_path / "default")
    assert "badly calibrated on real data" in text

    plain = evaluate_claim(*args, area_filter="NAME=Block22", claimed="-40%",
                           calibration_path=None)
    assert "badly calibrated" not in _report_text(plain, tmp_path / "none").lower()


def test_a_missing_or_broken_table_is_a_data_error(tmp_path):
    assert load_calibration(None) == {}
    with pytest.raises(DataError, match="absent.json not found"):
        load_calibration(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(DataError, match="broken.json is not a JSON object"):
        load_calibration(str(broken))
    broken.write_text(json.dumps({"methods": ["its"]}))
    with pytest.raises(DataError, match="'methods' must map"):
        load_calibration(broken)
