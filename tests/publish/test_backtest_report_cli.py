"""``hotspot backtest --out DIR`` writes ``DIR/report.md`` and a self-contained
``DIR/report.html`` with the charts and the comparison table."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from hotspot.cli import app
from tests._city_store import city_store

runner = CliRunner()


def test_backtest_out_folder_holds_report_html(tmp_path):
    store = city_store(tmp_path, months=tuple(f"2020-{m:02d}" for m in range(1, 6)))
    out = tmp_path / "bt"
    result = runner.invoke(app, ["backtest", "--store", str(store), "--models",
                                 "naive-last,naive-mean,hotspot-map", "--from", "2020-04",
                                 "--to", "2020-05", "--out", str(out), "--n-bootstrap", "100"])
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    images = re.findall(r'<img src="data:image/png;base64,', page)
    assert len(images) == 3  # one target: scores per period, coverage curve, calibration
    assert not re.search(r'(?:src|href)="(?!data:|#)', page)
    markdown = (out / "report.md").read_text()
    assert "naive-last, naive-mean, hotspot-map" in markdown
    assert "2020-04 to 2020-05" in page and "<table>" in page
