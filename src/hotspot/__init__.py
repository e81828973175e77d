"""hotspot: place-based crime hotspot forecasting.

One namespace, layers that import only downward (``pyproject.toml`` holds the contract)::

    core ← ingest ← features ← models ← evaluation ← app (settings, pipeline, nightly,
    publish, demo) ← flows ← cli

Importing ``hotspot`` turns Prefect's telemetry off for this process and every process it
starts (see :data:`NO_TELEMETRY`).
"""

import os
from importlib.metadata import PackageNotFoundError, version

#: Set in ``os.environ`` when ``hotspot`` is imported, before any Prefect import (Prefect
#: reads its settings once, at import): the temporary Prefect servers, the flow-run
#: processes and the Dask worker processes the project starts inherit them. They are
#: forced, not defaults: nothing the tool does needs telemetry, and the tool promises that
#: no traffic leaves the machine except the downloads it is configured to make, so a
#: ``true`` left in a shell or a CI profile does not switch it back on.
NO_TELEMETRY = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # the server's heartbeat to prefect.io
    "DO_NOT_TRACK": "1",  # the Prefect client's usage events (and other tools honouring it)
}
os.environ.update(NO_TELEMETRY)

try:
    __version__ = version("hotspot")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
