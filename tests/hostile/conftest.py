"""One store built from the shipped sample for every hostile case (each case copies it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.harness import SAMPLE, WARDS, run


@pytest.fixture(scope="session")
def base_store(tmp_path_factory) -> Path:
    """``hotspot ingest police-uk SAMPLE --area WARDS`` then ``hotspot cube``: 24 months."""
    store = tmp_path_factory.mktemp("hostile") / "base"
    for args in (("ingest", "police-uk", SAMPLE, "--store", store, "--area", WARDS),
                 ("cube", "--store", store)):
        result = run(*args)
        assert result.exit_code == 0, result.output
    return store
