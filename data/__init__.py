"""Package data: harm weights, the embedded City of London sample and its wards.

Read it through :func:`hotspot.core.resources.embedded_path`, never through the source tree.
"""

if __name__ != "hotspot.data":  # the folder is installed as hotspot.data only
    raise ImportError(f"import this package as hotspot.data, not as {__name__}: "
                      "install the project (pip install .) and use the hotspot namespace")

