"""Harm weights, expected harm per cell, ward harm ranking, rfg-harm, harm hit rate."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from hotspot.core.area import StudyArea
from hotspot.core.errors import DataError
from hotspot.evaluation.harm_metrics import backtest_harm_hit_rates, harm_hit_rate
from hotspot.evaluation.metrics import captured_share, rank_cells
from hotspot.features.cube import build_cube
from hotspot.features.grid import build_grid
from hotspot.features.harm import (
    DEFAULT_WEIGHTS_FILE,
    cell_harm,
    load_harm_weights,
    observed_harm,
    ward_harm_ranking,
)
from hotspot.ingest.police_api_records import CURRENT_CATEGORIES
from hotspot.models.registry import make_model

CRS = "EPSG:27700"


def write_weights(path, rows, comment=""):
    text = (f"# {comment}\n" if comment else "") + "category,weight_days,note\n"
    text += "".join(f"{c},{w},n\n" for c, w in rows)
    path.write_text(text)
    return path


# ----------------------------------------------------------------------- weights


def test_default_table_covers_police_uk_and_is_marked_approximate():
    weights = load_harm_weights()
    assert weights.source == str(DEFAULT_WEIGHTS_FILE)
    assert weights.approximate
    assert "APPROXIMATION" in DEFAULT_WEIGHTS_FILE.read_text()
    assert weights.missing(CURRENT_CATEGORIES) == []
    values = weights.weights
    assert values["Anti-social behaviour"] == 1.0 == min(values.values())
    assert values["Robbery"] > values["Burglary"] > values["Shoplifting"]
    assert all(note.startswith("approximation") for note in weights.table["note"])


def test_user_table_must_cover_every_category(tmp_path):
    weights = load_harm_weights(write_weights(tmp_path / "w.csv", [("Burglary", 40)]))
    assert not weights.approximate
    with pytest.raises(DataError, match="no weight for 2 categories in the data: Drugs, Robbery"):
        weights.check(["Burglary", "Robbery", "Drugs"])
    assert weights.vector(["Burglary", "Robbery"], missing_weight=3).tolist() == [40.0, 3.0]


@pytest.mark.parametrize("text, message", [
    ("category,weight_days\nBurglary,40\nBurglary,41\n", "lists these categories twice"),
    ("category,weight_days\nBurglary,-1\n", "must be a number >= 0"),
    ("category,weight_days\nBurglary,lots\n", "must be a number >= 0"),
    ("category,days\nBurglary,1\n", "lacks the column 'weight_days'"),
])
def test_bad_tables_are_refused(tmp_path, text, message):
    path = tmp_path / "w.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_harm_weights(path)


def test_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_harm_weights(tmp_path / "nope.csv")


# ----------------------------------------------------------------------- cubes


@pytest.fixture
def two_cell_cube():
    """Two 150 m cells: the left one has 10 anti-social behaviour reports a month, the
    right one a robbery every month; 12 months."""
    parts = gpd.GeoDataFrame(geometry=[box(530_100, 181_050, 530_400, 181_200)], crs=CRS)
    grid = build_grid(StudyArea(parts=parts, crs=CRS), 150)
    months = pd.date_range("2020-01-01", periods=12, freq="MS")
    rows = []
    for month in months:
        rows += [(month, 530_150.0, 181_100.0, "Anti-social behaviour")] * 10
        rows += [(month, 530_300.0, 181_100.0, "Robbery")]
    events = pd.DataFrame(rows, columns=["time", "x", "y", "category"])
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    return build_cube(events, grid, "M")


def test_cell_harm_is_expected_count_times_shrunk_harm_per_crime(two_cell_cube):
    weights = load_harm_weights()
    table = cell_harm(two_cell_cube, np.array([10.0, 1.0]), weights, prior_crimes=5.0)
    robbery, asb = weights.weights["Robbery"], weights.weights["Anti-social behaviour"]
    overall = (12 * robbery + 120 * asb) / 132
    expected_ratio = [(120 * asb + 5 * overall) / 125, (12 * robbery + 5 * overall) / 17]
    np.testing.assert_allclose(table["harm_per_crime"], expected_ratio)
    np.testing.assert_allclose(table["expected_harm_days"], [10, 1] * np.array(expected_ratio))
    assert table.set_index("cell_id")["count_rank"].tolist() == [1, 2]
    assert table.set_index("cell_id")["harm_rank"].tolist() == [2, 1]


def test_observed_harm_falls_back_to_counts_without_weights(two_cell_cube):
    weights = load_harm_weights()
    harm = observed_harm(two_cell_cube, weights).values[0]
    assert harm.tolist() == [10 * 1.0, weights.weights["Robbery"]]
    assert observed_harm(two_cell_cube, None).values[0].tolist() == [10.0, 1.0]


# ----------------------------------------------------------------------- rfg-harm


def test_rfg_harm_ranks_by_harm_and_keeps_the_count_level(two_cell_cube):
    forecast = make_model("rfg-harm", floor_share=0.0).fit(two_cell_cube, "2020-12").predict(1)
    naive = make_model("naive-mean").fit(two_cell_cube, "2020-12").predict(1)
    assert forecast.values[0].sum() == pytest.approx(11.0)  # mean total per month
    assert forecast.values[0, 1] > forecast.values[0, 0]  # the robbery cell
    assert naive.values[0, 0] > naive.values[0, 1]  # the busy anti-social behaviour cell


def test_rfg_harm_decays_old_crime(square_area):
    grid = build_grid(square_area, 150)
    old = [(pd.Timestamp("2020-01-01"), 530_175.0, 181_075.0, "Robbery")] * 5
    new = [(pd.Timestamp("2020-06-01"), 530_625.0, 181_425.0, "Robbery")] * 2
    events = pd.DataFrame(old + new, columns=["time", "x", "y", "category"])
    cube = build_cube(events, grid, "M")
    short = make_model("rfg-harm", tau=1.0).fit(cube, "2020-06").predict(1).to_series()
    long = make_model("rfg-harm", tau=100.0).fit(cube, "2020-06").predict(1).to_series()
    old_cell, new_cell = "3534_1207", "3537_1209"
    assert short.xs(new_cell, level="cell").iloc[0] > short.xs(old_cell, level="cell").iloc[0]
    assert long.xs(old_cell, level="cell").iloc[0] > long.xs(new_cell, level="cell").iloc[0]


def test_rfg_harm_without_categories_weighs_each_crime_one(hot_cell_cube):
    bare = hot_cell_cube.drop_vars("category_counts").drop_dims("category")
    model = make_model("rfg-harm").fit(bare, "2020-12")
    assert model.fitted_params()["harm_weighted"] is False
    assert model.predict(1).to_series().idxmax()[1] == "3535_1207"


def test_rfg_harm_needs_a_weight_per_category(two_cell_cube, tmp_path):
    path = write_weights(tmp_path / "w.csv", [("Robbery", 365)])
    with pytest.raises(DataError, match="Anti-social behaviour"):
        make_model("rfg-harm", weights=str(path)).fit(two_cell_cube, "2020-12")
    fitted = make_model("rfg-harm", weights=str(path), missing_weight=0.0)
    assert fitted.fit(two_cell_cube, "2020-12").predict(1).values[0, 1] > 0


# ----------------------------------------------------------------------- hit rate


def test_harm_hit_rate_uses_the_count_metrics_coverage_rule():
    expected = np.array([4.0, 3.0, 2.0, 1.0])
    area = np.array([100.0, 100.0, 100.0, 100.0])
    ids = np.array(["a", "b", "c", "d"])
    harm = np.array([0.0, 300.0, 100.0, 0.0])
    rates = harm_hit_rate(expected, harm, area, ids, [0.25, 0.5, 0.625])
    np.testing.assert_allclose(rates, [0.0, 0.75, 0.75 + 0.5 * 0.25])
    counts = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(
        harm_hit_rate(expected, counts, area, ids, [0.5]),
        captured_share(rank_cells(expected, area, ids), counts, area, [0.5]))
    assert np.isnan(harm_hit_rate(expected, np.zeros(4), area, ids, [0.5])).all()


def test_backtest_harm_hit_rates_table():
    predictions = pd.DataFrame({
        "model": ["m"] * 2 + ["n"] * 2, "target_period": ["2020-02"] * 4,
        "cell_id": ["a", "b"] * 2, "expected": [2.0, 1.0, 1.0, 2.0]})
    table = backtest_harm_hit_rates(predictions, {"2020-02": np.array([0.0, 10.0])},
                                    np.array([1.0, 1.0]), np.array(["a", "b"]), [0.5])
    assert table.set_index("model")["value"].to_dict() == {"m": 0.0, "n": 1.0}


# ----------------------------------------------------------------------- wards


X0, Y0 = 530_000, 180_000  # inside Great Britain, so a round trip through WGS84 is exact


@pytest.fixture
def wards():
    return gpd.GeoDataFrame({"NAME": ["West", "East", "Empty"]}, geometry=[
        box(X0, Y0, X0 + 100, Y0 + 100), box(X0 + 100, Y0, X0 + 200, Y0 + 100),
        box(X0, Y0 + 100, X0 + 200, Y0 + 200)], crs=CRS)


def ward_events():
    rows = [("2020-12-01", 50, 50, "Robbery"), ("2020-06-01", 60, 50, "Shoplifting"),
            ("2020-01-01", 150, 50, "Shoplifting"), ("2020-01-01", 160, 50, "Shoplifting"),
            ("2020-02-01", 100, 50, "Burglary"),  # on the shared edge: counted once
            ("2019-12-01", 150, 50, "Robbery"),  # older than 12 months
            ("2020-12-01", 500, 500, "Robbery")]  # outside every ward
    frame = pd.DataFrame(rows, columns=["time", "x", "y", "category"])
    frame["time"] = pd.to_datetime(frame["time"])
    frame["x"] += X0
    frame["y"] += Y0
    return frame


def test_ward_harm_ranking_over_the_last_twelve_months(wards):
    weights = load_harm_weights()
    w = weights.weights
    table = ward_harm_ranking(ward_events(), CRS, wards, weights)
    assert table["name"].tolist() == ["West", "East", "Empty"]
    west, east = table.iloc[0], table.iloc[1]
    assert west["n_crimes"] + east["n_crimes"] == 5
    assert west["harm_days"] + east["harm_days"] == pytest.approx(
        w["Robbery"] + 3 * w["Shoplifting"] + w["Burglary"])
    assert west["harm_days"] >= w["Robbery"] + w["Shoplifting"]
    assert table.iloc[2]["harm_days"] == 0 and table.iloc[2]["n_crimes"] == 0
    assert (table["first_month"].iloc[0], table["last_month"].iloc[0]) == ("2020-01", "2020-12")
    assert table["harm_share"].sum() == pytest.approx(1.0)
    assert table.attrs["n_outside"] == 1
    assert table["rank"].tolist() == [1, 2, 3]


def test_ward_harm_ranking_any_layer_and_name_column(wards, tmp_path):
    lsoas = wards.rename(columns={"NAME": "LSOA21NM"}).to_crs("EPSG:4326")
    table = ward_harm_ranking(ward_events(), CRS, lsoas, load_harm_weights(), months=24)
    assert table["n_crimes"].sum() == 6  # the 2019-12 robbery is back in
    weights = load_harm_weights(write_weights(tmp_path / "w.csv", [("Robbery", 365)]))
    with pytest.raises(DataError, match="Burglary, Shoplifting"):
        ward_harm_ranking(ward_events(), CRS, wards, weights)
    with pytest.raises(DataError, match="no name column"):
        ward_harm_ranking(ward_events(), CRS, wards[["geometry"]], load_harm_weights())
