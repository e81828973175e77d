"""Sources → the canonical events table (parquet, partitioned by month and source)."""

if __name__ != "hotspot.ingest":  # the folder is installed as hotspot.ingest only
    raise ImportError(f"import this package as hotspot.ingest, not as {__name__}: "
                      "install the project (pip install .) and use the hotspot namespace")

