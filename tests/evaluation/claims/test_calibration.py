"""The calibration rule, and the shipped table: found through importlib.resources, loaded,
consistent with the rule, and driving the warnings and verdict of a claim report."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from hotspot.core.errors import DataError
from hotspot.evaluation.claims import DEFAULT_CALIBRATION, evaluate_claim, load_calibration
from hotspot.evaluation.claims.calibration import (
    badly_calibrated,
    calibrated_methods,
    is_calibrated,
    judge,
    short_text,
)

#: The effect methods bench_claims.py validates, each with an entry in the table.
VALIDATED = {"its", "cits", "sts", "did", "did_fepois", "synthetic_control", "synth_pysyncon",
             "placebo_time"}


def _ds(fpr, cov):
    return {"false_positive_rate": fpr, "planted_coverage": cov}


def test_the_rule_needs_both_data_sets_within_bounds():
    assert judge({"chicago": _ds(0.07, 0.90), "city": _ds(0.0, 0.97)}) == (True, [])
    ok, why = judge({"chicago": _ds(0.071, 0.93), "city": _ds(0.05, 0.93)})
    assert not ok and why == ["chicago: false positives 7.1% > 7%"]
    ok, why = judge({"chicago": _ds(0.05, 0.975), "city": _ds(0.05, 0.89)})
    assert not ok and len(why) == 2 and "coverage 97.5% outside 90%-97%" in why[0]
    ok, why = judge({"chicago": _ds(0.05, 0.93)})
    assert not ok and why == ["city: not measured"]
    assert not judge({"chicago": _ds(0.05, 0.93), "city": _ds(float("nan"), 0.93)})[0]
    # a p-value that can never reach 0.05 does not hide intervals that exclude 1 too often
    narrow = {**_ds(0.0, 0.93), "ci_false_positive_rate": 0.105}
    ok, why = judge({"chicago": _ds(0.05, 0.93), "city": narrow})
    assert not ok and why == ["city: null CIs excluding 1 10.5% > 7%"]


def test_entries_old_and_new_read_the_same():
    assert is_calibrated({"calibrated": True}) and not is_calibrated({"calibrated": False})
    assert is_calibrated({"badly_calibrated": False})
    assert not is_calibrated({"badly_calibrated": True}) and not is_calibrated({})
    table = {"a": {"calibrated": True}, "b": {"calibrated": False}, "c": "junk"}
    assert calibrated_methods(table) == {"a"} and badly_calibrated(table) == {"b"}
    entry = {"calibrated": True, "datasets": {"chicago": _ds(0.056, 0.94),
                                              "city": _ds(0.04, 0.93)}}
    assert short_text(entry) == ("calibrated: 5.6 % / 4.0 % false positives, 94 % / 93 % "
                                 "coverage on chicago / city")
    assert short_text(None) == "no calibration measured"
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_the_default_table_is_package_data_and_loads():
    assert DEFAULT_CALIBRATION.is_file()
    calibration = load_calibration()
    assert set(calibration) == VALIDATED
    for method, entry in calibration.items():
        assert isinstance(entry["calibrated"], bool), method
        assert entry["badly_calibrated"] is not entry["calibrated"], method
        assert entry["calibrated"] == judge(entry["datasets"])[0], method
        assert entry["summary"].startswith("chicago: false positives"), method
    assert badly_calibrated(calibration)  # the table the warnings test below relies on
    assert len(calibrated_methods(calibration)) >= 2  # verdicts can be reached


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
    for method in bad & set(notes):
        assert "BADLY CALIBRATED on real data" in notes[method], method
    assert result.verdict.primary not in bad
    assert not set(result.verdict.trusted) & bad
    text = _report_text(result, tmp_path / "default")
    assert "not used for the verdict" in text and "uncalibrated" in text

    plain = evaluate_claim(*args, area_filter="NAME=Block22", claimed="-40%",
                           calibration_path=None)
    text = _report_text(plain, tmp_path / "none")
    assert "uncalibrated" not in text and "no calibration table given" in text


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
