"""IngestReport: totals that must add up, the per-month table, saving and loading."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from hotspot.ingest.report import IngestReport, InputFile, RowCount


def make_report(store: Path, n_rows: tuple[int, ...] = (6, 0)) -> IngestReport:
    counts = [
        RowCount("2019-02", "event", 1),
        RowCount("2019-01", "no_coordinates", 1),
        RowCount("2019-01", "event", 2),
        RowCount("invalid", "bad_month", 1),
        RowCount("2019-02", "duplicate_crime_id", 1),
    ]
    files = [
        InputFile("a/2019-01-x-street.csv", "ab" * 32, n_rows[0]),
        InputFile("a/2019-01-x-outcomes.csv", None, n_rows[1], "skipped: outcomes file"),
    ]
    return IngestReport(
        store=store,
        counts=tuple(counts),
        files=tuple(files),
        started_at="2024-05-01T10:00:00.000001+00:00",
        finished_at="2024-05-01T10:00:02.500000+00:00",
    )


def test_totals(tmp_path):
    report = make_report(tmp_path)
    assert (report.n_rows, report.n_events, report.n_quarantined) == (6, 3, 3)
    assert report.months == ["2019-01", "2019-02"]
    assert [c.month for c in report.counts] == [
        "2019-01",
        "2019-01",
        "2019-02",
        "2019-02",
        "invalid",
    ]
    assert [c.reason for c in report.counts][:2] == ["event", "no_coordinates"]
    assert report.by_reason == {"no_coordinates": 1, "bad_month": 1, "duplicate_crime_id": 1}


def test_by_month_has_every_outcome_in_precedence_order(tmp_path):
    months = make_report(tmp_path).by_month()
    assert [m.month for m in months] == ["2019-01", "2019-02", "invalid"]
    assert list(months[0].by_outcome) == [
        "event", "no_coordinates", "bad_month", "duplicate_crime_id"
    ]  # fmt: skip
    assert months[0].by_outcome["event"] == 2 and months[1].by_outcome["no_coordinates"] == 0
    assert [m.total for m in months] == [3, 2, 1]


def test_rows_that_do_not_add_up_are_refused(tmp_path):
    with pytest.raises(ValueError, match="7 rows read .* 6 counted"):
        make_report(tmp_path, n_rows=(7, 0))


def test_to_frame_pivots_reasons_per_month(tmp_path):
    frame = make_report(tmp_path).to_frame()
    assert frame.columns.tolist() == [
        "month", "event", "no_coordinates", "bad_month", "duplicate_crime_id", "total"
    ]  # fmt: skip
    assert frame["month"].tolist() == ["2019-01", "2019-02", "invalid"]
    assert frame["total"].tolist() == [3, 2, 1]
    assert frame.loc[frame["month"] == "2019-02", "duplicate_crime_id"].item() == 1


def test_summary_names_totals_and_reasons(tmp_path):
    text = make_report(tmp_path).summary()
    assert "ingested 6 rows from 1 file(s)" in text
    assert "events:      3" in text and "quarantined: 3" in text
    assert "no_coordinates: 1" in text and "2019-01 .. 2019-02 (2)" in text
    assert "skipped files: 1" in text


def test_save_writes_json_and_markdown_and_loads_back(tmp_path):
    report = make_report(tmp_path)
    path = report.save()
    assert path == tmp_path / "reports" / "ingest-20240501T100002500000Z.json"
    assert path.with_suffix(".md").read_text().startswith("# Ingest 20240501T100002500000Z")
    content = json.loads(path.read_text())
    assert content["n_rows"] == 6 and content["files"][1]["sha256"] is None
    loaded = IngestReport.load(path)
    assert loaded == report
    pd.testing.assert_frame_equal(loaded.to_frame(), report.to_frame())
    assert content["counts"][0] == {"month": "2019-01", "reason": "event", "n": 2}
    assert content["files"][0] == {
        "file": "a/2019-01-x-street.csv", "sha256": "ab" * 32, "n_rows": 6, "note": None
    }  # fmt: skip
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        path.name, path.with_suffix(".md").name
    ]  # fmt: skip
