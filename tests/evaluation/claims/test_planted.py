"""Planted effects on real data: thin the events of a random area and window at random and
check the estimators recover the drop (a few repetitions, loose tolerance; the benchmark
``benchmarks/bench_claims.py`` does hundreds)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import shapely

from hotspot.evaluation.claims import analyse_series
from hotspot.evaluation.claims.series import build_series, check_window, month_codes, square_around

from .conftest import require_data


@pytest.fixture(scope="module")
def chicago_events(tmp_path_factory) -> pd.DataFrame:
    path = require_data("chicago", "aggravated-assaults-2010-2016.csv.gz")
    from hotspot.ingest.csv_source import ingest_csv
    from hotspot.ingest.store import read_events

    store = tmp_path_factory.mktemp("chicago") / "store"
    ingest_csv(path, store, time_col="date", lon_col="longitude", lat_col="latitude",
               category_col="loc_cat")
    return read_events(store)


@pytest.mark.real_data
def test_a_25_percent_drop_planted_in_chicago_is_recovered(chicago_events):
    rng = np.random.default_rng(7)
    events = chicago_events
    months = pd.period_range("2010-01", "2016-12", freq="M")
    x, y = events["x"].to_numpy(), events["y"].to_numpy()
    did, covered = [], 0
    for _ in range(3):
        i = int(rng.integers(len(events)))
        area = square_around(x[i], y[i], 3000)
        s_idx = int(rng.integers(24, len(months) - 6))
        start, end = months[s_idx], months[s_idx + 5]
        window = check_window(months, start, end)
        series = build_series(events, area, window, start, end)
        inside = shapely.contains_xy(area, x, y)
        codes = month_codes(events["time"][inside], window[0])
        post = np.flatnonzero(series.post)
        in_window = (codes >= post[0]) & (codes <= post[-1])
        removed = rng.random(int(in_window.sum())) >= 0.75
        treated = series.treated - np.bincount(codes[in_window][removed],
                                               minlength=len(series.treated))
        thinned = dataclasses.replace(series, treated=treated)
        result = analyse_series(thinned, 0.75, methods=("its", "did", "synthetic_control"))
        e = result.estimate("did")
        did.append(e.estimate)
        covered += e.contains(0.75)
        assert 0.5 < result.estimate("synthetic_control").estimate < 1.05
    assert 0.6 < np.mean(did) < 0.9
    assert covered >= 2
