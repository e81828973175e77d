"""Seeded synthetic series and stores with known effects, and real-data fixtures."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from hotspot.evaluation.claims.series import ClaimSeries
from hotspot.ingest.store import init_store, write_partition
from tests.conftest import require_shared as require_data

CRS = "EPSG:27700"


def make_panel(
    *, effect: float = 1.0, n_pre: int = 36, window: int = 6, n_controls: int = 20,
    level: float = 40.0, seed: int = 0, nb_alpha: float = 0.0, shock: float = 1.0,
    treated_trend: float = 0.0, season: float = 0.25,
) -> ClaimSeries:
    """Monthly counts: controls and the treated area share season and month shocks; the
    treated area's window months are multiplied by ``effect``; ``shock`` multiplies every
    unit in the window (a city-wide change); ``treated_trend`` is the treated area's extra
    log trend per year; ``nb_alpha`` > 0 draws negative binomial counts."""
    rng = np.random.default_rng(seed)
    n = n_pre + window
    months = pd.period_range("2016-01", periods=n, freq="M")
    moy = np.asarray(months.month)
    seasonal = 1 + season * np.sin(2 * np.pi * moy / 12)
    common = np.exp(rng.normal(0, 0.03, n))
    levels = np.r_[level, rng.uniform(0.5, 1.5, n_controls) * level]
    mu = levels[None, :] * (seasonal * common)[:, None]
    post = np.arange(n) >= n_pre
    mu[post] *= shock
    mu[:, 0] *= np.exp(treated_trend * (np.arange(n) - n_pre) / 12)
    mu[post, 0] *= effect
    if nb_alpha > 0:
        mu = rng.gamma(1 / nb_alpha, mu * nb_alpha)
    y = rng.poisson(mu).astype(float)
    buffer = rng.poisson(levels[0] * seasonal).astype(float)
    return ClaimSeries(months, months[n_pre], months[-1], y[:, 0], buffer, y[:, 1:],
                       [f"unit_{j}" for j in range(n_controls)])


@pytest.fixture
def panel():
    return make_panel


BLOCK_M = 500.0
ORIGIN = (530_000.0, 180_000.0)


def synthetic_events(n_months: int = 30, effect: float = 0.6, start_idx: int = 24,
                     seed: int = 3) -> pd.DataFrame:
    """Events on a 6 x 6 grid of 500 m blocks; block (2, 2) is the treated area and its
    rate is multiplied by ``effect`` from month ``start_idx`` on."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2018-01-01", periods=n_months, freq="MS")
    rows = []
    rates = rng.uniform(15, 40, (6, 6))
    for t, month in enumerate(months):
        seasonal = 1 + 0.2 * np.sin(2 * np.pi * month.month / 12)
        for i in range(6):
            for j in range(6):
                rate = rates[i, j] * seasonal
                if (i, j) == (2, 2) and t >= start_idx:
                    rate *= effect
                k = rng.poisson(rate)
                x = ORIGIN[0] + (i + rng.uniform(0.02, 0.98, k)) * BLOCK_M
                y = ORIGIN[1] + (j + rng.uniform(0.02, 0.98, k)) * BLOCK_M
                cat = rng.choice(["Burglary", "Robbery"], k)
                rows.append(pd.DataFrame({"time": month, "x": x, "y": y, "category": cat}))
    events = pd.concat(rows, ignore_index=True)
    events["event_id"] = [f"e{i}" for i in range(len(events))]
    events["lon"] = -0.1
    events["lat"] = 51.5
    events["area_code"] = "E0"
    events["source"] = "synthetic"
    return events


def write_store(store: Path, events: pd.DataFrame) -> Path:
    init_store(store, CRS, "month")
    for month, group in events.groupby(events["time"].dt.strftime("%Y-%m")):
        write_partition(store, "events", month, "synthetic", group)
    return store


def treated_block_file(path: Path) -> Path:
    x0, y0 = ORIGIN[0] + 2 * BLOCK_M, ORIGIN[1] + 2 * BLOCK_M
    frame = gpd.GeoDataFrame({"NAME": ["Block22", "Far"]},
                             geometry=[box(x0, y0, x0 + BLOCK_M, y0 + BLOCK_M),
                                       box(600_000, 300_000, 600_500, 300_500)], crs=CRS)
    frame.to_file(path, driver="GPKG")
    return path


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory) -> tuple[Path, Path]:
    """A 30-month store (2018-01..2020-06) with a 40 % drop in block (2, 2) from 2020-01,
    and a GeoPackage whose feature ``NAME=Block22`` is that block."""
    root = tmp_path_factory.mktemp("claims_store")
    store = write_store(root / "store", synthetic_events())
    return store, treated_block_file(root / "areas.gpkg")


@pytest.fixture(scope="session")
def city_store(tmp_path_factory) -> Path:
    """A police.uk store of 30 months (2017-01..2019-06) of the real City of London data."""
    police = require_data("police-uk")
    from hotspot.ingest.police_uk import ingest_police_uk

    folders = [police / str(m) for m in pd.period_range("2017-01", "2019-06", freq="M")]
    store = tmp_path_factory.mktemp("city") / "store"
    ingest_police_uk(folders, store)
    return store


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """The fits are tiny: BLAS threads only contend on a shared machine."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
