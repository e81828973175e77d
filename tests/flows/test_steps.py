"""Task options of the flows' steps: retries with backoff on the network step only."""

from __future__ import annotations

import pytest

from tests._nightly_setup import nightly_config

pytestmark = pytest.mark.prefect


def _fetch():
    return 1


def test_a_retried_step_backs_off_exponentially():
    from hotspot.flows.steps import step_task

    retried = step_task("download-police-api", _fetch, (3, 10.0))
    assert retried.name == "download-police-api" and retried.retries == 3
    assert retried.retry_delay_seconds == [10.0, 20.0, 40.0]
    local = step_task("rebuild-cube", _fetch)
    assert local.retries == 0 and local.retry_delay_seconds == 0
    assert step_task("x", _fetch, (0, 60.0)).retries == 0


def test_only_the_download_retries_with_the_api_settings(tmp_path):
    from hotspot.flows.nightly import nightly_retries
    from hotspot.nightly import nightly_settings
    from hotspot.nightly.run import BACKTEST, CUBE, DETECT, DOWNLOAD, INGEST, PUBLISH

    config = nightly_config(tmp_path, [], {"nightly": {"sources": {"api": {
        "enabled": True, "task_retries": 4, "task_retry_delay_s": 30}}}})
    retries = nightly_retries(nightly_settings(config))
    assert retries == {DOWNLOAD: (4, 30.0)}
    assert not {DETECT, INGEST, CUBE, BACKTEST, PUBLISH} & set(retries)
    (tmp_path / "d").mkdir()
    defaults = nightly_retries(nightly_settings(nightly_config(tmp_path / "d", [])))
    assert defaults == {DOWNLOAD: (2, 60.0)}  # 60 s, then 120 s
