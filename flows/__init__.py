"""Prefect flows: thin wrappers that order library steps. No science lives here.

Every flow wraps functions from ``hotspot.pipeline`` and ``hotspot.nightly``; the same
functions run and are tested without Prefect.
"""

if __name__ != "hotspot.flows":  # the folder is installed as hotspot.flows only
    raise ImportError(f"import this package as hotspot.flows, not as {__name__}: "
                      "install the project (pip install .) and use the hotspot namespace")

