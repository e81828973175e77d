"""Run flows against a throw-away local Prefect API, offline, once per test session."""

from __future__ import annotations

import os
import tempfile

import pytest

# Prefect reads these at import time: keep its home out of ~ and no traffic off the machine.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="hotspot-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
