"""publish_forecast: files, ranks, CRS, report content, refusal of foreign grids."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hotspot.core.errors import ConfigError, DataError, GridError
from hotspot.evaluation.backtest import BacktestResult
from hotspot.evaluation.metrics import rank_cells
from hotspot.publish import FILE_NAMES, cell_table, publish_forecast
from hotspot.publish.report import baseline_comparison
from tests.publish.conftest import OGL

KEYS = {"gpkg", "geojson", "html", "png", "patrol", "report", "report_html", "cells_csv"}


@pytest.fixture(scope="module")
def cells(published):
    return gpd.read_file(published["gpkg"], layer="cells")


def test_all_files_written(published, published_plain):
    for paths in (published, published_plain):
        assert set(paths) == KEYS
        for key, path in paths.items():
            assert path.name == FILE_NAMES[key]
            assert path.is_file() and path.stat().st_size > 0
        # atomic writes leave no temporary files behind
        assert sorted(p.name for p in paths["gpkg"].parent.iterdir()) == sorted(FILE_NAMES.values())


def test_table_column_order(forecast, cube):
    table, info = cell_table(forecast, cube)
    assert list(table.columns[:4]) == ["cell_id", "rank", "expected", "geometry"]
    assert table.geometry.name == "geometry"
    assert (info.model, info.cutoff, info.target_label) == ("naive-mean", "2020-12", "2021-01")


def test_gpkg_table(cells, cube, forecast):
    # geopandas always reads the geometry column last; the attributes keep their order
    attributes = [c for c in cells.columns if c != "geometry"]
    assert attributes[:3] == ["cell_id", "rank", "expected"]
    assert cells.geometry.name == "geometry" and cells.geometry.notna().all()
    assert cells.crs == cube.attrs["crs"]
    assert len(cells) == cube.sizes["cell"]
    assert sorted(cells["cell_id"]) == sorted(cube["cell"].values.astype(str))
    assert sorted(cells["rank"]) == list(range(1, len(cells) + 1))
    by_cell = cells.set_index("cell_id")
    expected = pd.Series(forecast.values[0], index=cube["cell"].values.astype(str))
    np.testing.assert_allclose(by_cell.loc[expected.index, "expected"], expected.to_numpy())
    density = by_cell["expected"] / by_cell["area_m2"]
    assert by_cell.loc[by_cell["rank"] == 1].index[0] == density.idxmax()
    assert density.max() > density.min()  # the check above is not vacuous


def test_ranks_agree_with_metrics(cells, cube, forecast):
    order = rank_cells(forecast.values[0], cube["area_m2"].values, cube["cell"].values)
    ranked_ids = cells.sort_values("rank")["cell_id"].tolist()
    assert ranked_ids == list(cube["cell"].values[order].astype(str))


def test_in_top_is_whole_cells_within_share(cells):
    ordered = cells.sort_values("rank")
    top = ordered["in_top"].to_numpy()
    n_top = int(top.sum())
    assert n_top > 0 and top[:n_top].all()  # a prefix of the ranking
    total = ordered["area_m2"].sum()
    assert ordered["area_m2"].iloc[:n_top].sum() <= 0.05 * total
    assert ordered["area_m2"].iloc[: n_top + 1].sum() > 0.05 * total


def test_geojson_in_wgs84_over_the_city(published, cells):
    layer = gpd.read_file(published["geojson"])
    assert layer.crs.to_epsg() == 4326
    assert set(layer.columns) == set(cells.columns)
    west, south, east, north = layer.total_bounds
    assert -0.12 < west < east < -0.07
    assert 51.50 < south < north < 51.53


def test_csv_sorted_by_rank_without_geometry(published, cells):
    table = pd.read_csv(published["cells_csv"])
    assert "geometry" not in table.columns
    assert list(table.columns[:3]) == ["cell_id", "rank", "expected"]
    assert table["rank"].tolist() == list(range(1, len(cells) + 1))
    assert set(table["model"]) == {"naive-mean"}
    assert set(table["target_period"]) == {"2021-01"}


def test_one_hot_forecast_ranks_that_cell_first(forecast, cube, tmp_path):
    full = cube["cell"].values[cube["area_m2"].values > 0.99 * 150**2]
    hot = sorted(full.astype(str))[-1]  # the last id: ties by id would rank it last
    one_hot = forecast.copy(data=np.zeros_like(forecast.values))
    one_hot.loc[{"cell": hot}] = 50.0
    paths = publish_forecast(one_hot, cube, tmp_path)
    table = gpd.read_file(paths["gpkg"], layer="cells").set_index("cell_id")
    assert table.loc[hot, "rank"] == 1
    assert bool(table.loc[hot, "in_top"])
    assert hot in paths["html"].read_text()


def test_report_with_backtest(published, backtest_result):
    text = published["report"].read_text()
    assert "naive-mean" in text and "2021-01" in text and "2020-12" in text
    assert "2020-07" in text  # the backtest's period range
    for model in ("naive-last", "naive-mean", "naive-longrun"):
        assert any(line.startswith(f"| {model} |") or line.startswith(f"| **{model}** |")
                   for line in text.splitlines()), model
    assert baseline_comparison(backtest_result.summary_table, "naive-mean") in text
    assert "best baseline" in text
    assert "No backtest record" not in text
    assert OGL in text and "![map](map.png)" in text
    for word in ("Hit rate", "PAI", "PEI", "Poisson deviance"):
        assert word in text
    for name in FILE_NAMES.values():
        assert name in text
    assert "generator: tests/publish/conftest.py" in text


def test_report_without_backtest(published_plain):
    text = published_plain["report"].read_text()
    assert "naive-mean" in text and "2021-01" in text
    assert "No backtest record is available" in text
    assert "best baseline" not in text


def _summary(rows):
    frame = []
    for model, pai, dev in rows:
        frame.append({"model": model, "metric": "pai", "coverage": 0.05, "n_periods": 6,
                      "mean": pai[0], "ci_low": pai[1], "ci_high": pai[2]})
        frame.append({"model": model, "metric": "poisson_deviance", "coverage": np.nan,
                      "n_periods": 6, "mean": dev[0], "ci_low": dev[1], "ci_high": dev[2]})
    return pd.DataFrame(frame)


def test_baseline_comparison_sentence():
    table = _summary([
        ("kde", (3.0, 2.6, 3.4), (1.00, 0.80, 1.20)),
        ("naive-last", (1.5, 1.0, 2.0), (1.40, 1.30, 1.50)),
        ("naive-mean", (2.0, 1.6, 2.4), (1.10, 0.90, 1.30)),
    ])
    sentence = baseline_comparison(table, "kde")
    pai_part, deviance_part = sentence.split("; ", 1)[0], sentence.split("; ", 1)[1]
    assert "kde (3.000) beat the best baseline naive-mean (2.000)" in pai_part
    assert "do not overlap" in pai_part
    assert "kde (1.000) beat the best baseline naive-mean (1.100)" in deviance_part
    assert "overlap, so" in deviance_part and "significan" not in sentence

    worse = _summary([
        ("kde", (1.0, 0.5, 1.5), (2.0, 1.9, 2.1)),
        ("naive-mean", (2.0, 1.6, 2.4), (1.1, 0.9, 1.3)),
    ])
    sentence = baseline_comparison(worse, "kde")
    assert "kde (1.000) did not beat the best baseline naive-mean (2.000)" in sentence
    assert "kde (2.000) did not beat the best baseline naive-mean (1.100)" in sentence
    assert "not in this backtest" in baseline_comparison(worse, "other-model")


def test_report_marks_published_model_and_baselines(tmp_path, forecast, cube):
    table = _summary([("kde", (3.0, 2.6, 3.4), (1.0, 0.8, 1.2)),
                      ("naive-mean", (2.0, 1.6, 2.4), (1.1, 0.9, 1.3))])
    record = BacktestResult(metrics=pd.DataFrame(), predictions=pd.DataFrame(),
                            summary_table=table, fit_seconds=pd.DataFrame(),
                            settings={"first_target": "2020-01", "last_target": "2020-06",
                                      "n_targets": 6})
    renamed = forecast.assign_attrs(model="kde")
    text = publish_forecast(renamed, cube, tmp_path, backtest=record)["report"].read_text()
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert "published" in rows["| **kde**"] and "3.000 [2.600, 3.400]" in rows["| **kde**"]
    assert "baseline" in rows["| naive-mean"]
    assert "n/a" in rows["| naive-mean"]  # PAI@1 % is not in this record
    assert "2020-01 to 2020-06" in text


def test_mismatched_cells_raise_and_write_nothing(forecast, cube, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(GridError, match="cells do not match"):
        publish_forecast(forecast.isel(cell=slice(1, None)), cube, out)
    foreign = forecast.assign_coords(cell=[f"9_{i}" for i in range(forecast.sizes["cell"])])
    with pytest.raises(GridError):
        publish_forecast(foreign, cube, out)
    assert not out.exists() or not any(out.iterdir())


def test_bad_top_share_is_refused(forecast, cube, tmp_path):
    with pytest.raises(ConfigError):
        publish_forecast(forecast, cube, tmp_path / "out", top_share=0)
    assert not (tmp_path / "out").exists()


def test_reordered_cells_are_aligned(forecast, cube):
    table, _ = cell_table(forecast.isel(cell=slice(None, None, -1)), cube)
    by_cell = table.set_index("cell_id")["expected"]
    expected = pd.Series(forecast.values[0], index=cube["cell"].values.astype(str))
    np.testing.assert_allclose(by_cell.loc[expected.index], expected.to_numpy())


def test_html_and_png(published, cells):
    html = published["html"].read_text()
    assert "leaflet" in html.lower()
    top_cell = cells.loc[cells["rank"] == 1, "cell_id"].iloc[0]
    assert top_cell in html
    assert "naive-mean" in html and "2021-01" in html
    assert published["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_target_period_from_cutoff_when_time_is_dropped(forecast, cube):
    _, info = cell_table(forecast.squeeze("time", drop=True), cube)
    assert info.target_label == "2021-01"
    with pytest.raises(DataError, match="periods"):
        cell_table(xr.concat([forecast, forecast], dim="time"), cube)


def test_tiny_top_share_marks_no_cell(forecast, cube):
    table, _ = cell_table(forecast, cube, top_share=0.001)  # smaller than one cell
    assert not table["in_top"].any()
    table, _ = cell_table(forecast, cube, top_share=1.0)
    assert table["in_top"].all()
