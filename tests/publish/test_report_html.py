"""report.html: the markdown report as one self-contained page with the backtest's charts,
beside report.md of a published forecast and in a saved backtest's folder."""

from __future__ import annotations

import base64
import re

import pytest

from hotspot.publish import FILE_NAMES, publish_forecast
from hotspot.publish.html_report import html_document, markdown_html
from hotspot.publish.report import cell_areas
from hotspot.targeting import BacktestRun
from tests.publish.conftest import OGL

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in IMG.findall(page)]


def assert_self_contained(page: str) -> None:
    """Nothing the page loads comes from elsewhere: every src and stylesheet is inline."""
    sources = re.findall(r'\b(?:src|href)="([^"]*)"', page)
    assert all(s.startswith(("data:", "#")) for s in sources), sources
    assert "<script" not in page and "<link" not in page and "@import" not in page


@pytest.fixture(scope="module")
def published(tmp_path_factory, forecast, cube, backtest_result):
    out = tmp_path_factory.mktemp("pub") / "forecast"
    return publish_forecast(forecast, cube, out, backtest=backtest_result, attribution=OGL)


def test_report_html_is_beside_report_md_with_the_map_and_three_charts(published):
    assert FILE_NAMES["report_html"] == "report.html"
    assert published["report_html"].parent == published["report"].parent
    page = published["report_html"].read_text()
    assert_self_contained(page)
    pngs = embedded_pngs(page)
    # the map, then per target (one here) scores per period, coverage curve, calibration
    assert len(pngs) == 4 and all(p.startswith(PNG_MAGIC) for p in pngs)
    assert pngs[0] == published["png"].read_bytes()
    for key in ("chart_scores_all", "chart_coverage_all", "chart_calibration_all"):
        assert f'<figure id="{key}">' in page
    assert page.index("<h2>Charts</h2>") < page.index('<figure id="chart_scores_all">')


def test_report_html_holds_what_report_md_says(published):
    markdown = published["report"].read_text()
    page = published["report_html"].read_text()
    assert "## Charts" in markdown and "report.html" in markdown
    # every table of the markdown is an HTML table, with the same number of rows
    md_rows = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert page.count("<tr>") == len(md_rows)
    for heading in re.findall(r"^## (.+)$", markdown, flags=re.M):
        assert f"<h2>{heading}</h2>" in page
    assert "Open Government Licence" in page and "<title>" in page


def test_report_says_what_the_study_area_includes(published, cube):
    markdown = published["report"].read_text()
    area_km2 = float(cube["area_m2"].sum()) / 1e6
    line = next(line for line in markdown.splitlines() if "Study area:" in line)
    assert f"{area_km2:.2f} km²" in line


def test_report_html_without_a_backtest_has_the_map_only(tmp_path, forecast, cube):
    paths = publish_forecast(forecast, cube, tmp_path / "fc")
    page = paths["report_html"].read_text()
    assert len(embedded_pngs(page)) == 1 and "<h2>Charts</h2>" not in page
    assert "## Charts" not in paths["report"].read_text()


def test_user_text_stays_text_in_the_html():
    page = html_document("# Ward <b>x</b>\n\n| a |\n|---|\n| <script>alert(1)</script> |\n",
                         title="t & <u>")
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<title>t &amp; &lt;u&gt;</title>" in page
    assert markdown_html("![m](map.png) ![o](other.png)", {"map.png": b"png"}).count(
        "data:image/png;base64,cG5n") == 1


def test_saved_backtest_folder_has_report_html_with_charts(tmp_path, backtest_result, cube):
    run = BacktestRun.of(backtest_result, cell_area_m2=cell_areas(cube))
    paths = run.save(tmp_path / "bt")
    folder = tmp_path / "bt"
    assert {"report.md", "report.html", "cell_areas.csv", "comparison.csv"} <= {
        p.name for p in folder.iterdir()}
    assert paths["report"] == folder / "report.md"
    page = (folder / "report.html").read_text()
    assert_self_contained(page)
    assert len(embedded_pngs(page)) == 3
    markdown = (folder / "report.md").read_text()
    assert "naive-last, naive-mean, naive-longrun" in markdown
    assert "top-20 box hit rate" in markdown and "<table>" in page
    # the coverage chart is drawn from the predictions at every 0.5 %, not the set coverages
    assert "every 0.5 % of the area" in page
    areas = (folder / "cell_areas.csv").read_text().splitlines()
    assert areas[0] == "cell_id,area_m2" and len(areas) == cube.sizes["cell"] + 1
