"""prospective-hotspot: recent crimes nearby raise a cell's score; old ones do not."""

import numpy as np
import pytest

from hotspot.core.errors import ConfigError
from hotspot.features.cube import cube_from_counts
from hotspot.models.registry import make_model

WIDTH, HEIGHT = 8, 6


def _background(n_t: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).poisson(0.3, (n_t, WIDTH * HEIGHT))


def _cell(ix: int, iy: int) -> int:
    return iy * WIDTH + ix


def test_highest_score_sits_on_a_recent_burst_and_spreads_to_neighbours():
    counts = _background(24)
    burst, old = _cell(5, 3), _cell(1, 1)
    counts[-1, burst] += 15  # last month
    counts[3, old] += 60  # two years ago: outside the two-month window
    cube = cube_from_counts(counts, WIDTH)
    model = make_model("prospective-hotspot").fit(cube, cube["time"].values[-1])
    level = model.predict(1).values[0]
    assert level.argmax() == burst
    neighbours = [_cell(4, 3), _cell(6, 3), _cell(5, 2), _cell(5, 4)]
    far_ok = [c for c in range(WIDTH * HEIGHT) if c not in neighbours + [burst]]
    # every edge neighbour of the burst outranks the median cell away from it
    assert min(level[neighbours]) > np.median(level[far_ok])
    assert level[old] < level[neighbours].min()
    assert model.fitted_params()["n_periods_used"] == 2


def test_scaled_to_the_recent_mean_total_with_positive_floor():
    counts = _background(24, seed=1)
    cube = cube_from_counts(counts, WIDTH)
    model = make_model("prospective-hotspot").fit(cube, cube["time"].values[-1])
    forecast = model.predict(3).values
    assert forecast.sum(axis=1) == pytest.approx([counts[-12:].sum(axis=1).mean()] * 3)
    assert (forecast > 0).all()


def test_recent_burst_beats_an_older_one_on_a_daily_cube():
    counts = np.zeros((60, WIDTH * HEIGHT), dtype=int)
    counts[-2, _cell(2, 2)] = 5  # two days ago
    counts[-30, _cell(6, 4)] = 5  # a month ago
    cube = cube_from_counts(counts, WIDTH, freq="D", start="2024-01-01")
    level = make_model("prospective-hotspot").fit(cube, cube["time"].values[-1]).level_
    assert level.argmax() == _cell(2, 2)
    assert level[_cell(6, 4)] > level[_cell(0, 5)]  # a month ago still counts a little


def test_bad_parameters_are_refused():
    with pytest.raises(ConfigError):
        make_model("prospective-hotspot", floor_share=1.5)
