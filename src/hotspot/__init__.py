"""hotspot: place-based crime hotspot forecasting.

One namespace, layers that import only downward (``pyproject.toml`` holds the contract)::

    core ← ingest ← features ← models ← evaluation ← app (settings, pipeline, nightly,
    publish, demo) ← flows ← cli
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hotspot")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
