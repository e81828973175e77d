"""Published tables and report: the target, the top-N boxes, points and area names."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from hotspot.core.errors import ConfigError, DataError
from hotspot.core.names import name_column
from hotspot.core.ranking import top_boxes
from hotspot.features.harm import HarmWeights
from hotspot.features.targets import apply_target, resolve_target
from hotspot.models.registry import make_model
from hotspot.publish import cell_table, publish_forecast
from hotspot.publish.cells import COUNTED_HARM
from hotspot.publish.places import representative_points

LABEL = "Burglary (test label)"


@pytest.fixture(scope="module")
def burglary_cube(cube):
    targeted = apply_target(cube, resolve_target("burglary", cube["category"].values))
    # a label unlike the slug, so the test can tell which of the two was written
    return targeted.assign_attrs(target_label=LABEL)


@pytest.fixture(scope="module")
def burglary_forecast(burglary_cube):
    return make_model("naive-mean").fit(burglary_cube, "2020-12").predict(1)


@pytest.fixture(scope="module")
def burglary_published(tmp_path_factory, burglary_forecast, burglary_cube):
    out = tmp_path_factory.mktemp("burglary") / "out"
    return publish_forecast(burglary_forecast, burglary_cube, out, boxes=12)


def test_target_column_title_and_report(burglary_published):
    table = pd.read_csv(burglary_published["cells_csv"])
    assert set(table["target"]) == {"burglary"}
    gpkg = gpd.read_file(burglary_published["gpkg"], layer="cells")
    assert set(gpkg["target"]) == {"burglary"}
    text = burglary_published["report"].read_text()
    assert text.splitlines()[0] == f"# {LABEL} hotspot forecast for 2021-01"
    assert f"## Top 12 boxes: {LABEL}" in text
    assert "values are expected crimes" in text and COUNTED_HARM not in text
    assert f"{LABEL} forecast 2021-01" in burglary_published["html"].read_text()


def test_untargeted_cube_reads_all_categories(published_plain):
    assert set(pd.read_csv(published_plain["cells_csv"])["target"]) == {"all"}
    assert published_plain["report"].read_text().startswith(
        "# All categories hotspot forecast for 2021-01")


def test_harm_target_says_it_counts_harm(cube, tmp_path):
    categories = [str(c) for c in cube["category"].values]
    weights = HarmWeights(table=pd.DataFrame({"category": categories,
                                              "weight_days": [30.0, 2.0, 5.0, 100.0]}),
                          source="test", approximate=True)
    harm_cube = apply_target(cube, resolve_target("harm", categories, harm_weights=weights))
    forecast = make_model("naive-mean").fit(harm_cube, "2020-12").predict(1)
    paths = publish_forecast(forecast, harm_cube, tmp_path / "out")
    text = paths["report"].read_text()
    assert f"values are {COUNTED_HARM}" in text
    assert set(pd.read_csv(paths["cells_csv"])["target"]) == {"harm"}


def test_zero_forecast_of_a_target_publishes_nothing(burglary_forecast, burglary_cube,
                                                     tmp_path):
    zero = burglary_forecast.copy(data=np.zeros_like(burglary_forecast.values))
    out = tmp_path / "out"
    with pytest.raises(DataError, match="expects 0 crimes in every cell.*nothing was "
                                        r"published.*Burglary \(test label\)"):
        publish_forecast(zero, burglary_cube, out)
    assert not out.exists() or not any(out.iterdir())


def test_in_boxes_marks_exactly_n_cells_in_rank_order(forecast, cube):
    table, info = cell_table(forecast, cube, boxes=7)
    assert info.boxes == 7
    assert int(table["in_boxes"].sum()) == 7
    assert table["in_boxes"].iloc[:7].all() and not table["in_boxes"].iloc[7:].any()
    np.testing.assert_array_equal(table["in_boxes"], table["rank"] <= 7)
    ids = cube["cell"].values.astype(str)
    expected = ids[top_boxes(forecast.values[0], cube["area_m2"].values, ids, 7)]
    assert table.loc[table["in_boxes"], "cell_id"].tolist() == expected.tolist()
    everything, _ = cell_table(forecast, cube, boxes=10_000)
    assert everything["in_boxes"].all()
    with pytest.raises(ConfigError):
        cell_table(forecast, cube, boxes=0)


def test_published_boxes_and_density(burglary_published):
    gpkg = gpd.read_file(burglary_published["gpkg"], layer="cells")
    assert int(gpkg["in_boxes"].sum()) == 12
    assert gpkg.loc[gpkg["in_boxes"], "rank"].max() == 12
    np.testing.assert_allclose(gpkg["density_per_km2"], gpkg["expected"] / gpkg["area_m2"] * 1e6)
    np.testing.assert_allclose(gpkg["density_per_km2"], gpkg["expected_per_km2"])
    text = burglary_published["report"].read_text()
    assert "every box is at least a quarter of a 150 m cell" in text
    share = gpkg.loc[gpkg["in_boxes"], "area_m2"].sum() / gpkg["area_m2"].sum()
    assert f"cover {share * 100:.1f} % of the study area" in text


def test_lat_lon_round_trip_inside_the_cell(forecast, cube):
    table, _ = cell_table(forecast, cube)
    assert (table["area_m2"] < 0.99 * 150**2).sum() > 5  # clipped and merged cells too
    assert np.array_equal(table["lat"], table["lat"].round(5))
    back = gpd.GeoSeries(gpd.points_from_xy(table["lon"], table["lat"]), crs="EPSG:4326")
    back = back.to_crs(table.crs)
    assert shapely.contains(table.geometry.values, back.values).all()


def test_representative_point_of_a_cell_whose_centroid_is_outside():
    u_shape = shapely.Polygon([(0, 0), (150, 0), (150, 150), (110, 150), (110, 20),
                               (40, 20), (40, 150), (0, 150)])
    assert not u_shape.contains(u_shape.centroid)  # the centroid alone would miss it
    square = shapely.box(0, 0, 150, 150)
    points = representative_points(gpd.GeoSeries([u_shape, square], crs="EPSG:27700"))
    assert u_shape.buffer(-1.9).contains(points.iloc[0])
    assert points.iloc[1].equals(shapely.Point(75, 75))


def _two_wards(cube, crs="EPSG:4326"):
    """Two wards splitting the cube's extent at the middle x; names in the second column."""
    minx, miny, maxx, maxy = (float(cube["x"].min()) - 200, float(cube["y"].min()) - 200,
                              float(cube["x"].max()) + 200, float(cube["y"].max()) + 200)
    # off the lines of cell centres, so no point sits on the border after reprojection
    mid = (minx + maxx) / 2 + 31.7
    wards = gpd.GeoDataFrame({"code": [1, 2], "ward": ["West ward", "East ward"]},
                             geometry=[shapely.box(minx, miny, mid, maxy),
                                       shapely.box(mid, miny, maxx, maxy)],
                             crs="EPSG:27700")
    return wards.to_crs(crs), mid


def test_area_name_from_two_wards(forecast, cube):
    wards, mid = _two_wards(cube)
    table, info = cell_table(forecast, cube, area_parts=wards)
    assert info.area_name_column == "ward"
    x = representative_points(table.geometry).x.to_numpy()
    want = np.where(x < mid, "West ward", "East ward")
    assert set(want) == {"West ward", "East ward"}
    np.testing.assert_array_equal(table["area_name"].to_numpy(dtype=str), want)


def test_area_name_column_choice_and_absence(forecast, cube):
    wards, _ = _two_wards(cube, crs="EPSG:27700")
    assert name_column(wards.assign(NAME=["a", "b"])[["ward", "NAME", "geometry"]]) == "NAME"
    numbers = wards[["code", "geometry"]]
    assert name_column(numbers) is None
    table, info = cell_table(forecast, cube, area_parts=numbers)
    assert info.area_name_column is None and (table["area_name"] == "").all()
    table, _ = cell_table(forecast, cube)
    assert (table["area_name"] == "").all()


def test_report_names_wards_and_the_column(published, area):
    text = published["report"].read_text()
    assert "(column `NAME` of the boundaries)" in text
    boxes = [line for line in text.split("## Top 20 boxes")[1].split("## Backtest")[0]
             .splitlines() if line.startswith("| ") and not line.startswith("| rank")]
    assert len(boxes) == 20
    names = set(area.parts["NAME"])
    assert all(line.split(" | ")[4] in names for line in boxes)
