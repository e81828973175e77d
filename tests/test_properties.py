"""Properties over many random cases (hypothesis, derandomised so runs are repeatable):
grid assignment, the coverage metrics, and cube totals; and the chunked cube builder
against the in-memory one."""

from __future__ import annotations

import datetime
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotspot.core.area import StudyArea
from hotspot.evaluation.metrics import captured_share, coverage_metrics, rank_cells
from hotspot.features.cube import build_cube
from hotspot.features.cube_lazy import build_cube_chunked, open_cube_lazy
from hotspot.features.grid import build_grid

PROPERTY = settings(max_examples=40, derandomize=True, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
CRS = "EPSG:27700"


def _area(geometry) -> StudyArea:
    return StudyArea(parts=gpd.GeoDataFrame(geometry=[geometry], crs=CRS), crs=CRS)


@st.composite
def rectangles(draw):
    """Axis-aligned rectangles on a 1 m lattice (no sliver cells) and a cell size."""
    x0 = draw(st.integers(500_000, 520_000))
    y0 = draw(st.integers(170_000, 190_000))
    width = draw(st.integers(1, 3_000))
    height = draw(st.integers(1, 3_000))
    cell = draw(st.sampled_from([50, 75, 100, 150, 250, 400]))
    return shapely.box(x0, y0, x0 + width, y0 + height), cell


@st.composite
def polygons(draw):
    """Random polygons: the hull (or a buffered star) of random points, and a cell size."""
    n = draw(st.integers(3, 9))
    xs = draw(st.lists(st.floats(0, 2_000, allow_nan=False), min_size=n, max_size=n))
    ys = draw(st.lists(st.floats(0, 2_000, allow_nan=False), min_size=n, max_size=n))
    points = shapely.multipoints(np.column_stack([np.asarray(xs) + 530_000,
                                                  np.asarray(ys) + 180_000]))
    shape = shapely.convex_hull(points)
    if draw(st.booleans()):
        shape = shapely.buffer(shapely.linestrings(shapely.get_coordinates(points)), 40)
    if shape.area < 1_000:
        shape = shapely.buffer(shape, 30)
    cell = draw(st.sampled_from([60, 100, 150, 275]))
    return shapely.make_valid(shape), cell


def _points(draw, bounds, n: int) -> tuple[np.ndarray, np.ndarray]:
    minx, miny, maxx, maxy = bounds
    u = np.asarray(draw(st.lists(st.floats(-0.1, 1.1), min_size=n, max_size=n)))
    v = np.asarray(draw(st.lists(st.floats(-0.1, 1.1), min_size=n, max_size=n)))
    x, y = minx + u * (maxx - minx), miny + v * (maxy - miny)
    # and points exactly on the area's vertices and on grid lines
    corners = shapely.get_coordinates(shapely.boundary(shapely.box(*bounds)))
    return np.concatenate([x, corners[:, 0]]), np.concatenate([y, corners[:, 1]])


def _check_assignment(shape, cell, x, y) -> None:
    grid = build_grid(_area(shape), cell)
    position = grid.assign(x, y)
    inside = shapely.intersects_xy(shape, x, y)  # the boundary counts as inside
    # squares build_grid drops as slivers (< 1e-6 of a cell) hold no cell by design
    ix, iy = np.floor(x / cell) * cell, np.floor(y / cell) * cell
    overlap = shapely.area(shapely.intersection(shapely.box(ix, iy, ix + cell, iy + cell),
                                                shape))
    sliver = (overlap > 0) & (overlap <= 1e-6 * cell**2)
    assert (position[~inside] == -1).all()
    assert (position[inside & ~sliver] >= 0).all()
    geometry = grid.cells.geometry.to_numpy()
    for i in np.flatnonzero(position >= 0):
        point = shapely.Point(x[i], y[i])
        assert geometry[position[i]].intersects(point)  # its cell covers it
        # and no other cell holds it in its interior: exactly one cell
        holders = np.flatnonzero(shapely.contains(geometry, point))
        assert set(holders) <= {position[i]}


@PROPERTY
@given(data=st.data(), case=rectangles())
def test_every_point_in_a_rectangle_lands_in_exactly_one_cell(data, case):
    shape, cell = case
    x, y = _points(data.draw, shape.bounds, 60)
    _check_assignment(shape, cell, x, y)


@PROPERTY
@given(data=st.data(), case=polygons())
def test_every_point_in_a_polygon_lands_in_exactly_one_cell(data, case):
    shape, cell = case
    x, y = _points(data.draw, shape.bounds, 60)
    _check_assignment(shape, cell, x, y)


def test_points_on_a_top_or_right_edge_on_a_grid_line_land_in_a_cell():
    shape = shapely.box(500_000, 170_000, 500_001, 170_750)  # top edge on a 50 m grid line
    grid = build_grid(_area(shape), 50)
    position = grid.assign(np.array([500_000.5, 500_001.0]), np.array([170_750.0, 170_100.0]))
    assert (position >= 0).all()


# --------------------------------------------------------------------------- metrics


@st.composite
def forecasts(draw):
    n = draw(st.integers(2, 40))
    observed = np.asarray(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)))
    if observed.sum() == 0:
        observed[draw(st.integers(0, n - 1))] = 1
    area = np.asarray(draw(st.lists(st.floats(1.0, 100.0), min_size=n, max_size=n)))
    guesses = [np.asarray(draw(st.lists(st.floats(0, 50), min_size=n, max_size=n)))
               for _ in range(draw(st.integers(1, 4)))]
    coverages = sorted(draw(st.lists(st.floats(0.001, 1.0), min_size=1, max_size=6)))
    ids = np.array([f"{i}_0" for i in range(n)], dtype=object)
    return observed, area, guesses, coverages, ids


def _metric(table: pd.DataFrame, name: str) -> np.ndarray:
    return table.loc[table["metric"] == name, "value"].to_numpy()


@PROPERTY
@given(forecasts())
def test_hit_rate_never_falls_as_coverage_grows(case):
    observed, area, guesses, coverages, ids = case
    for expected in [*guesses, observed]:
        hit = captured_share(rank_cells(expected, area, ids), observed, area, coverages)
        assert np.all(np.diff(hit) >= -1e-12)
        assert np.all((hit >= -1e-12) & (hit <= 1 + 1e-12))


@PROPERTY
@given(forecasts())
def test_the_perfect_forecast_has_the_highest_pai_and_pei_never_exceeds_one(case):
    observed, area, guesses, coverages, ids = case
    perfect = coverage_metrics(observed.astype(float), observed, area, ids, coverages)
    np.testing.assert_allclose(_metric(perfect, "pei"), 1.0)
    for expected in guesses:
        other = coverage_metrics(expected, observed, area, ids, coverages)
        assert np.all(_metric(other, "pai") <= _metric(perfect, "pai") + 1e-9)
        pei = _metric(other, "pei")
        assert np.all((pei >= -1e-12) & (pei <= 1 + 1e-9))


# --------------------------------------------------------------------------- cube


@PROPERTY
@given(data=st.data(), case=rectangles())
def test_cube_total_equals_the_events_inside_the_area_and_span(data, case):
    shape, cell = case
    grid = build_grid(_area(shape), cell)
    n = data.draw(st.integers(1, 80))
    x, y = _points(data.draw, shape.bounds, n)
    months = data.draw(st.lists(st.integers(0, 11), min_size=len(x), max_size=len(x)))
    time = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.asarray(months) * 31, unit="D")
    events = pd.DataFrame({"event_id": [f"e{i}" for i in range(len(x))], "time": time,
                           "x": x, "y": y,
                           "category": np.where(np.arange(len(x)) % 3, "Burglary", "Drugs"),
                           "source": "test"})
    first = data.draw(st.sampled_from(["2020-01", "2020-03"]))
    last = data.draw(st.sampled_from(["2020-06", "2020-12"]))
    cube = build_cube(events, grid, "M", first=first, last=last)
    period = pd.DatetimeIndex(events["time"]).to_period("M")
    in_span = (period >= pd.Period(first, "M")) & (period <= pd.Period(last, "M"))
    inside = shapely.intersects_xy(shape, x, y)
    assert int(cube["counts"].sum()) == int((inside & in_span).sum())
    assert int(cube["category_counts"].sum()) == int(cube["counts"].sum())
    provenance = json.loads(cube.attrs["provenance"])
    assert provenance["n_events_counted"] + provenance["n_events_outside_area"] + (
        provenance["n_events_outside_span"]) == len(events)


@pytest.fixture(scope="module")
def police_store(tmp_path_factory):
    """Four months of police.uk-format rows for two forces, ingested (monthly store)."""
    import sys
    from pathlib import Path

    from hotspot.ingest.police_uk import ingest_police_uk

    root = tmp_path_factory.mktemp("police")
    benchmarks = str(Path(__file__).resolve().parents[1] / "benchmarks")
    sys.path.insert(0, benchmarks)
    try:
        from synthetic_national import generate
    finally:
        sys.path.remove(benchmarks)
    generate(root / "in", n_months=4, per_month=60_000, forces=["city-of-london", "kent"])
    ingest_police_uk([root / "in"], root / "store", today=datetime.date(2030, 1, 1))
    return root / "store"


@pytest.mark.parametrize(("cell", "time_chunk", "cell_chunk"),
                         [(2_000.0, 12, 65_536), (1_000.0, 3, 500)])
def test_the_chunked_cube_equals_the_in_memory_cube(police_store, tmp_path, cell, time_chunk,
                                                    cell_chunk):
    from hotspot.ingest.store import read_events

    kent = shapely.box(540_000, 100_000, 660_000, 190_000)  # Kent; the City is outside
    grid = build_grid(_area(kent), cell)
    events = read_events(police_store)
    reference = build_cube(events, grid, "M", first="2018-11", source="x")
    path = build_cube_chunked(police_store, grid, "M", tmp_path / "cube.zarr", first="2018-11",
                              source="x", time_chunk=time_chunk, cell_chunk=cell_chunk)
    lazy = open_cube_lazy(path)
    assert lazy["counts"].chunks is not None  # dask-backed: nothing read yet
    built = lazy.load()
    for name in ("counts", "category_counts"):
        assert built[name].equals(reference[name]), name
    for name in reference.coords:
        np.testing.assert_array_equal(built[name].values, reference[name].values)
    drop = ("built_at",)
    assert ({k: v for k, v in built.attrs.items() if k not in drop}
            == {k: v for k, v in reference.attrs.items() if k not in drop})
    assert json.loads(built.attrs["provenance"])["n_events_outside_area"] > 0
