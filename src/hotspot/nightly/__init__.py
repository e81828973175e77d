"""The nightly pass: find new police.uk months, ingest them, refit, backtest, publish.

:func:`run_nightly` writes the step order once; each step is a plain function, and the
Prefect flow (``hotspot.flows.nightly``) runs the same pass with each step as a task:

1. :func:`detect` (``detect``): months not yet ingested, from a drop folder (street CSVs
   or zips whose content hash is not the one recorded as ingested) and from the police.uk
   API (months newer than the store's newest). Also "pending": the store changed since
   the last published run. Nothing new → the pass returns at once and writes nothing.
2. :func:`fetch_api_month` (``ingest_step``): one API month → ``STORE/raw/api/YYYY-MM/``.
3. :func:`ingest_new` (``ingest_step``): everything new through ``ingest_police_uk``; the
   state file (``state``) records what was ingested.
4. :func:`rebuild_cube`, :func:`backtest_recent`, :func:`publish_run` (``publish_step``):
   forecast files, harm rankings, ``health.json`` (``health``) and ``run.json`` go into a
   temporary folder renamed to ``RUNS/YYYY-MM-DD[-n]`` (``runs``); only then does
   ``latest`` move, old runs beyond ``keep`` are deleted, and the state records the
   published data fingerprint. ``summary.md`` (``summary``) is the operator's summary:
   outcome, warnings, drift check and backtest scores.
5. :func:`run_view` (``summary``): the pass's outcome (``Nothing new``, ``Published``,
   ``Published with warnings``), summary, top boxes and links, which the flow turns into
   its final state and Prefect artifacts.

The settings are the ``nightly`` section of :class:`hotspot.settings.Settings` with the
shared ones (store, area, model, backtest); the store's lock (``STORE/.lock``) keeps two
passes from overlapping.
"""

from hotspot.nightly.detect import Plan, api_months_to_fetch, detect
from hotspot.nightly.health import drift_check, harm_hit_rates, volume_anomalies
from hotspot.nightly.ingest_step import IngestSummary, fetch_api_month, ingest_new
from hotspot.nightly.publish_step import (
    HEALTH_JSON,
    RUN_JSON,
    backtest_recent,
    publish_run,
    rebuild_cube,
)
from hotspot.nightly.run import check_nightly, nightly_settings, nothing_new_result, run_nightly
from hotspot.nightly.runs import (
    LATEST,
    LATEST_TXT,
    code_version,
    list_runs,
    next_run_name,
    prune_runs,
    read_latest,
    run_day,
    update_latest,
)
from hotspot.nightly.state import STATE_FILE, read_state, utc_now
from hotspot.nightly.summary import (
    NOTHING_NEW,
    PUBLISHED,
    PUBLISHED_WITH_WARNINGS,
    SUMMARY_MD,
    RunView,
    outcome,
    run_view,
)

__all__ = [
    "HEALTH_JSON", "LATEST", "LATEST_TXT", "NOTHING_NEW", "PUBLISHED",
    "PUBLISHED_WITH_WARNINGS", "RUN_JSON", "STATE_FILE", "SUMMARY_MD", "IngestSummary", "Plan",
    "RunView",
    "api_months_to_fetch", "backtest_recent", "check_nightly", "code_version", "detect",
    "drift_check", "fetch_api_month", "harm_hit_rates", "ingest_new", "list_runs",
    "next_run_name", "nightly_settings", "nothing_new_result", "outcome", "prune_runs",
    "publish_run", "read_latest", "read_state", "rebuild_cube", "run_day", "run_nightly",
    "run_view", "update_latest", "utc_now",
    "volume_anomalies",
]
