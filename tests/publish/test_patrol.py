"""patrol.pdf: one A4 page; its table lists the boxes' centres and nearest wards."""

from __future__ import annotations

import re

import geopandas as gpd
import pytest
import shapely

from hotspot.publish.patrol import A4_INCHES, nearest_names, patrol_rows


@pytest.fixture(scope="module")
def cells(published):
    return gpd.read_file(published["gpkg"], layer="cells")


def _page_count(pdf: bytes) -> int:
    try:
        from pypdf import PdfReader
    except ImportError:
        return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    import io

    return len(PdfReader(io.BytesIO(pdf)).pages)


def test_patrol_sheet_is_one_a4_page(published, published_plain):
    for paths in (published, published_plain):
        pdf = paths["patrol"].read_bytes()
        assert pdf.startswith(b"%PDF-")
        assert _page_count(pdf) == 1
        box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
        width, height = (float(v) for v in box.groups())
        assert (round(width), round(height)) == tuple(round(v * 72) for v in A4_INCHES)
        assert b"/CreationDate" not in pdf  # same forecast, same bytes


def test_patrol_rows_are_the_boxes_by_rank_with_wards(cells, area):
    rows = patrol_rows(cells, area.parts)
    boxes = cells[cells["in_boxes"]].sort_values("rank")
    assert [int(r[0]) for r in rows] == list(range(1, 21)) == boxes["rank"].tolist()
    assert [float(r[1]) for r in rows] == pytest.approx(boxes["lat"].tolist(), abs=1e-5)
    assert [float(r[2]) for r in rows] == pytest.approx(boxes["lon"].tolist(), abs=1e-5)
    wards = set(area.parts["NAME"])
    assert all(r[3] in wards for r in rows)
    # the ward holding the box's point is the one named, as in the cell table
    assert [r[3] for r in rows] == boxes["area_name"].tolist()
    assert [r[5] for r in rows] == boxes["cell_id"].tolist()


def test_nearest_ward_of_a_point_outside_every_ward(area):
    parts = area.parts
    minx, miny, maxx, maxy = parts.total_bounds
    # 50 m east of the City's bounding box: inside no ward, so the closest one is named
    outside = gpd.GeoSeries([shapely.Point(maxx + 50, (miny + maxy) / 2)], crs=parts.crs)
    probe = outside.iloc[0]
    expected = parts.loc[parts.distance(probe).idxmin(), "NAME"]
    assert not parts.contains(probe).any()
    assert nearest_names(outside, parts) == [expected] and expected
    assert nearest_names(outside, None) == [""]
