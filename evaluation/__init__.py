"""Metrics, rolling-origin backtests and claim evaluation."""

if __name__ != "hotspot.evaluation":  # the folder is installed as hotspot.evaluation only
    raise ImportError(f"import this package as hotspot.evaluation, not as {__name__}: "
                      "install the project (pip install .) and use the hotspot namespace")

