"""Sources → the canonical events table (parquet, partitioned by month and source)."""
